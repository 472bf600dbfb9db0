"""Baseline candidates run in-process on small splits and beat the trivial ones."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from verifiers import denoising_data as dd
from verifiers import lawbench_data as ld
from verifiers.denoising_metric import score_denoised
from verifiers.lawbench_metric import score_predictions

ROOT = Path(__file__).resolve().parents[2]
DATA = Path("/work/shared/data/lawbench")


def _load(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(not (DATA / "3-3.json").is_file(), reason="LawBench data not available")
def test_tfidf_linear_beats_majority(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ld.LAWBENCH_DIR_ENV, str(DATA))
    train, ev = ld.make_split(ld.load_cases(), 5, 250, 100)
    cand = _load("tasks/lawbench/baselines/tfidf_linear.py")
    cand.fit([c.as_training_example() for c in train])
    preds = cand.predict([c.for_candidate() for c in ev])
    golds = [list(c.charges) for c in ev]
    model = score_predictions(preds, golds)
    majority = score_predictions([["盗窃"]] * len(ev), golds)
    assert len(preds) == len(ev) and model.n_empty == 0
    assert model.f1 > majority.f1 + 0.05


def test_magic_beats_identity() -> None:
    sim = dd.simulate_counts(2, n_cells=300, n_genes=1500, n_types=4)
    split = dd.mcv_split(sim.counts, 2)
    magic = _load("tasks/denoising/baselines/magic.py")
    identity = _load("tasks/denoising/baselines/identity.py")
    out = magic.denoise(split.x_train)
    assert isinstance(out, np.ndarray) and out.shape == split.x_train.shape
    m = score_denoised(out, split.x_train, split.x_test)
    i = score_denoised(identity.denoise(split.x_train), split.x_train, split.x_test)
    assert not i.valid and i.mse_norm == 0.0
    assert m.mse is not None and m.mse < m.mse_none and m.mse_norm > 0.02
    assert m.poisson_norm is not None and m.poisson_norm > 0.9
