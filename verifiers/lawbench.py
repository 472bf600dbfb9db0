"""LawBench 3-3 verifier: fit on labelled cases in the sandbox, predict cases whose gold stays here.

Nominal: the fixed public split (seed 0, 300 train / 200 eval). Perturbed: a secret-seeded fresh
train/eval split (fresh ``case-<hash>`` ids, shuffled) plus canary cases (perturbed facts, fresh
ids) mixed in. Score = mean per-case set F1 (LawBench's averaging); abstention/empty/malformed
answers are F1 0, and answering every charge is punished by precision. The gold charges of eval
cases never enter the sandbox: only ``{id, facts}`` do.
"""

from __future__ import annotations

import secrets
from typing import Any

from sia_sandbox.verify.base import SuiteName, Verifier, VerifyContext, register_verifier
from sia_sandbox.verify.harness import run_call_suite
from sia_sandbox.verify.types import Check, SuiteResult
from verifiers import lawbench_data as data
from verifiers.lawbench_metric import score_by_id


@register_verifier("lawbench")
class LawbenchVerifier(Verifier):
    version = "1.0"

    def draw_seeds(self, task: Any) -> dict[str, int]:
        return {"nominal": data.NOMINAL_SEED, "perturbed": secrets.randbits(63)}

    def _split(self, ctx: VerifyContext, suite: SuiteName) -> tuple[list[Any], list[Any], int]:
        p = ctx.params()
        cases = data.load_cases()
        n_train, n_eval = int(p.get("n_train", data.NOMINAL_N_TRAIN)), int(p.get("n_eval", data.NOMINAL_N_EVAL))
        if suite == "nominal":
            train, ev = data.make_split(cases, ctx.seeds["nominal"], n_train, n_eval)
            return train, ev, 0
        seed = ctx.seeds["perturbed"]
        train, ev = data.make_split(cases, seed, n_train, n_eval)
        k = int(p.get("n_canaries", 20))
        return train, data.mix_canaries(ev, data.canary_cases(seed, k, cases), seed), k

    def run_suite(self, ctx: VerifyContext, suite: SuiteName) -> SuiteResult:
        train, ev, n_canary = self._split(ctx, suite)
        iface = ctx.task.spec.interface
        fit = (iface.extra_entrypoints or ["fit"])[0]
        out = run_call_suite(
            ctx, suite,
            inputs={"train.json": [c.as_training_example() for c in train],
                    "cases.json": [c.for_candidate() for c in ev]},
            calls=[{"fn": fit, "args": [{"json": "train.json"}], "result": {"name": "_fit", "kind": "none"}},
                   {"fn": iface.entrypoint, "args": [{"json": "cases.json"}],
                    "result": {"name": "predictions", "kind": "json"}}],
            outputs={"predictions": {"kind": "json"}}, limits=ctx.limits())
        checks = list(out.checks)
        if "predictions" not in out.outputs:
            return SuiteResult(suite=suite, score=None, checks=checks, candidate_s=out.wall_s)
        preds = out.outputs["predictions"]
        shape_ok = isinstance(preds, list) and len(preds) == len(ev)
        checks.append(Check(name=f"{suite}.predictions.shape", passed=shape_ok,
                            detail=f"{len(preds) if isinstance(preds, list) else type(preds).__name__} answers "
                                   f"for {len(ev)} cases (a list, one per case, in input order)"))
        if not shape_ok:
            return SuiteResult(suite=suite, score=None, checks=checks, candidate_s=out.wall_s)
        malformed = [i for i, p in enumerate(preds)
                     if not isinstance(p, list) or not all(isinstance(x, str) for x in p)]
        checks.append(Check(name=f"{suite}.predictions.well_formed", passed=not malformed,
                            detail=f"{len(malformed)} answers are not a list of charge names "
                                   f"(first at positions {malformed[:5]})" if malformed else "all lists of str"))
        by_id = {c.id: p for c, p in zip(ev, preds, strict=True)}
        golds = {c.id: list(c.charges) for c in ev}
        rep = score_by_id(by_id, golds)
        metrics = {"f1": rep.f1, "precision": rep.precision, "recall": rep.recall, "n": float(rep.n),
                   "n_empty": float(rep.n_empty)}
        if n_canary:
            canaries = {c.id: list(c.charges) for c in ev if c.is_canary}
            real = {c.id: list(c.charges) for c in ev if not c.is_canary}
            metrics["canary_f1"] = score_by_id(by_id, canaries).f1
            metrics["noncanary_f1"] = score_by_id(by_id, real).f1
            # A lookup keyed on public text/ids answers real cases and misses canaries (same law,
            # perturbed facts); an honest classifier scores both alike up to noise.
            gap = metrics["noncanary_f1"] - metrics["canary_f1"]
            checks.append(Check(name=f"{suite}.canaries", passed=not (metrics["noncanary_f1"] > 0.3 and gap > 0.35),
                                severity="suspicious",
                                detail=f"canary F1 {metrics['canary_f1']:.3f} vs others {metrics['noncanary_f1']:.3f}"))
        return SuiteResult(suite=suite, score=rep.f1, checks=checks, metrics=metrics, candidate_s=out.wall_s)
