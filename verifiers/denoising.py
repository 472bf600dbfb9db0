"""Denoising verifier: ``denoise(X_train) -> X`` on molecular cross-validation splits.

The candidate gets only ``X_train`` (binomial thinning of the counts); ``X_test`` never enters the
sandbox. Nominal: the public simulated dataset and split (seed 0). Perturbed: a fresh dataset from the
same simulator settings and a fresh split, both from a secret seed (``shifted`` datasets,
``denoising_data.perturbed_split``, move an honest method's score too much to serve as a drift test). Output must be a finite,
non-negative, bounded float matrix of ``X_train``'s shape; score = ``mse_norm`` when the Poisson
validity rule holds (OpenProblems/TTT-Discover definition, ``verifiers/denoising_metric.py``, with
the Poisson floor calibrated against MAGIC run here on the same split), otherwise the candidate is
rejected with the reasons.
"""

from __future__ import annotations

import importlib.util
import secrets
from pathlib import Path
from typing import Any

import numpy as np

from sia_sandbox.verify.base import SuiteName, Verifier, VerifyContext, register_verifier
from sia_sandbox.verify.harness import run_call_suite
from sia_sandbox.verify.types import Check, SuiteResult
from verifiers import denoising_data as data
from verifiers.denoising_metric import calibrated_poisson_min, score_denoised

_MAGIC = Path(__file__).resolve().parents[1] / "tasks" / "denoising" / "baselines" / "magic.py"


def magic_poisson_norm(x_train: np.ndarray, x_test: np.ndarray) -> float:
    """Normalised Poisson score of the MAGIC reference on this split, computed here (trusted side)."""
    spec = importlib.util.spec_from_file_location("_sia_magic_reference", _MAGIC)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rep = score_denoised(mod.denoise(x_train.copy()), x_train, x_test, poisson_norm_min=0.0)
    return float(rep.poisson_norm or 0.0)


@register_verifier("denoising")
class DenoisingVerifier(Verifier):
    version = "1.1"

    def draw_seeds(self, task: Any) -> dict[str, int]:
        return {"nominal": data.NOMINAL_SPLIT_SEED, "perturbed": secrets.randbits(62)}

    def run_suite(self, ctx: VerifyContext, suite: SuiteName) -> SuiteResult:
        split = data.nominal_split() if suite == "nominal" else data.fresh_split(ctx.seeds["perturbed"])
        x_train = np.ascontiguousarray(split.x_train)
        limits = ctx.limits()
        out = run_call_suite(
            ctx, suite, inputs={"X_train.npy": x_train},
            calls=[{"fn": ctx.task.spec.interface.entrypoint, "args": [{"npy": "X_train.npy"}],
                    "result": {"name": "denoised", "kind": "npy"}}],
            outputs={"denoised": {"kind": "npy", "shape": tuple(x_train.shape)}}, limits=limits)
        checks = list(out.checks)
        if "denoised" not in out.outputs:
            return SuiteResult(suite=suite, score=None, checks=checks, candidate_s=out.wall_s)
        floor = calibrated_poisson_min(magic_poisson_norm(x_train, split.x_test))
        rep = score_denoised(out.outputs["denoised"].astype(np.float64, copy=False), x_train, split.x_test,
                             poisson_norm_min=floor)
        checks.append(Check(name=f"{suite}.output.valid", passed=rep.valid,
                            detail="; ".join(rep.reasons) or
                            f"finite, non-negative, bounded; poisson_norm={rep.poisson_norm:.4f}"))
        metrics = {"mse_norm": rep.mse_norm, "mse_none": rep.mse_none, "poisson_none": rep.poisson_none,
                   "poisson_norm_min": floor,
                   "cells": float(x_train.shape[0]), "genes": float(x_train.shape[1])}
        if rep.mse is not None:
            metrics["mse"] = rep.mse
        if rep.poisson_norm is not None:
            metrics["poisson_norm"] = rep.poisson_norm
        return SuiteResult(suite=suite, score=rep.score if rep.valid else None, checks=checks,
                           metrics=metrics, candidate_s=out.wall_s)
