"""Denoising data: seeded simulator, molecular cross-validation split, h5ad reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sia_sandbox.errors import ConfigError
from verifiers import denoising_data as dd


def test_simulator_deterministic_and_realistic() -> None:
    a = dd.simulate_counts(11, n_cells=200, n_genes=800, n_types=4)
    b = dd.simulate_counts(11, n_cells=200, n_genes=800, n_types=4)
    c = dd.simulate_counts(12, n_cells=200, n_genes=800, n_types=4)
    assert np.array_equal(a.counts, b.counts) and not np.array_equal(a.counts, c.counts)
    x = a.counts
    assert x.shape == (200, 800) and x.dtype == np.int64 and x.min() >= 0
    assert 0.5 < (x == 0).mean() < 0.95  # sparse, as scRNA-seq is
    lib = x.sum(axis=1)
    assert lib.min() > 50 and lib.std() / lib.mean() > 0.3  # variable library sizes
    # overdispersion: per-gene variance exceeds the mean for highly expressed genes
    top = np.argsort(-x.mean(axis=0))[:50]
    assert (x[:, top].var(axis=0) > 1.5 * x[:, top].mean(axis=0)).mean() > 0.8
    # cell types differ: between-type spread of type means is large on marker genes
    assert len(np.unique(a.cell_types)) == 4


def test_mcv_split_thins_binomially() -> None:
    x = dd.simulate_counts(5, n_cells=150, n_genes=600, n_types=3).counts
    s = dd.mcv_split(x, 9)
    assert s.x_train.shape == s.x_test.shape == (150, int(s.genes_kept.sum()))
    assert np.array_equal(s.x_train + s.x_test, x[:, s.genes_kept])
    assert s.x_train.sum(axis=0).min() > 0
    frac = s.x_train.sum() / x[:, s.genes_kept].sum()
    assert abs(frac - 0.9) < 0.01
    s2 = dd.mcv_split(x, 9)
    s3 = dd.mcv_split(x, 10)
    assert np.array_equal(s.x_train, s2.x_train) and not np.array_equal(s.x_train, s3.x_train)


def test_mcv_split_rejects_non_counts() -> None:
    with pytest.raises(ValueError):
        dd.mcv_split(np.array([[0.5, 1.0]]), 0)
    with pytest.raises(ValueError):
        dd.mcv_split(np.array([[-1, 1]]), 0)


def test_perturbed_configs_vary() -> None:
    cfgs = [dd.perturbed_config(s) for s in range(5)]
    assert len({c.n_types for c in cfgs} | {c.n_cells for c in cfgs}) > 2
    assert dd.perturbed_config(3) == dd.perturbed_config(3)


def test_load_h5ad_without_h5py_is_clear(tmp_path: Path) -> None:
    try:
        import h5py  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="h5py"):
            dd.load_h5ad(tmp_path / "x.h5ad")
    else:
        with pytest.raises(FileNotFoundError):
            dd.load_h5ad(tmp_path / "x.h5ad")
