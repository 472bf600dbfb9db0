"""Denoising data: a seeded single-cell count simulator, molecular cross-validation splits, h5ad input.

The nominal dataset is 600 cells x 2000 genes. The gene count matters more than it seems: the
metric normalises every cell to 10^4 counts, so with few genes each entry lands in the log regime
and a smooth estimate is punished on every zero; 2000 genes with a heavy-tailed expression spread
(``gene_log_sd = 2``) puts most entries in the near-linear regime real data (~20k genes) has.

The simulator stands in for OpenProblems' pancreas/PBMC datasets where those cannot be downloaded
(tests, CI, a sandbox without network). A real dataset enters through :func:`load_h5ad`.

Simulated counts (cells x genes, integers), everything drawn from one ``numpy`` Generator:

1. **Gene baseline**: log relative expression ``b_g ~ N(0, gene_log_sd)``, a heavy right tail as
   in real data (few genes take most counts).
2. **Cell types**: ``n_types`` programs; each marks ``marker_fraction`` of the genes with a log
   fold change ``~ N(0, marker_lfc_sd)``. Cell type proportions ``~ Dirichlet(2)``.
3. **Within-type variation**: ``latent_dims`` continuous factors per cell with gene loadings
   ``~ N(0, latent_sd)`` (a state or trajectory axis inside a type).
4. **Library size**: log-normal, median ``mean_library_size``, log-sd ``library_size_sd``.
5. **Counts**: negative binomial (Gamma-Poisson) around ``library size x softmax(expression)``,
   gene-wise dispersion ``~ LogNormal(log dispersion, 0.5)``.
6. **Dropout**: each count is zeroed with probability ``dropout_max / (1 + mean)``, so low-expressed
   entries lose more (extra sparsity beyond sampling).

Molecular cross-validation (Batson et al. 2019, OpenProblems ``split_data``):
``X_train ~ Binomial(X, 0.9)``, ``X_test = X - X_train``, then genes with no train counts are
dropped from both. The candidate sees ``X_train`` only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import structlog
from pydantic import BaseModel, ConfigDict, Field

from sia_sandbox.errors import ConfigError

log = structlog.get_logger(__name__)

TRAIN_FRAC = 0.9
"""Fraction of molecules assigned to ``X_train`` (OpenProblems' ``train_frac``)."""
NOMINAL_DATA_SEED = 0
"""Public seed of the nominal simulated dataset."""
NOMINAL_SPLIT_SEED = 0
"""Public seed of the nominal molecular cross-validation split."""


class SimulatorConfig(BaseModel):
    """Shape and noise of a simulated count matrix (defaults: the nominal dataset)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_cells: int = Field(600, gt=1)
    """Number of cells (rows)."""
    n_genes: int = Field(2000, gt=1)
    """Number of genes (columns)."""
    n_types: int = Field(6, gt=0)
    """Number of cell types (distinct expression programs)."""
    gene_log_sd: float = 2.0
    """Spread of the genes' log baseline expression."""
    marker_fraction: float = Field(0.1, ge=0, le=1)
    """Fraction of genes each type marks with a fold change."""
    marker_lfc_sd: float = 1.5
    """Spread of a marker's log fold change."""
    latent_dims: int = Field(2, ge=0)
    """Continuous within-type factors."""
    latent_sd: float = 0.3
    """Spread of the gene loadings of the continuous factors."""
    mean_library_size: float = Field(1500.0, gt=0)
    """Median molecules per cell."""
    library_size_sd: float = Field(0.5, ge=0)
    """Log-sd of the library size."""
    dispersion: float = Field(0.3, gt=0)
    """Median negative binomial dispersion (variance = mu + dispersion * mu^2)."""
    dropout_max: float = Field(0.2, ge=0, lt=1)
    """Dropout probability of an entry with mean 0 (falls as 1 / (1 + mean))."""


class SimulatedCounts(BaseModel):
    """A simulated dataset with its ground truth (trusted side only)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    counts: np.ndarray
    """Integer counts, shape (n_cells, n_genes)."""
    cell_types: np.ndarray
    """Type index of each cell."""
    true_means: np.ndarray
    """Expected counts before sampling noise and dropout."""
    seed: int
    """Seed that generated it."""
    config: SimulatorConfig
    """Simulator settings."""


class McvSplit(BaseModel):
    """One molecular cross-validation split."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    x_train: np.ndarray
    """Counts the candidate receives (int64, cells x kept genes)."""
    x_test: np.ndarray
    """Held-out counts (int64, same shape); never leaves the verifier."""
    genes_kept: np.ndarray
    """Boolean mask over the input genes: those with at least one train count."""
    seed: int
    """Seed of the binomial thinning."""


def simulate_counts(
    seed: int,
    n_cells: int = 600,
    n_genes: int = 2000,
    n_types: int = 6,
    *,
    config: SimulatorConfig | None = None,
) -> SimulatedCounts:
    """Simulate a count matrix deterministically from ``seed`` (see module docstring).

    ``config`` overrides the noise settings; ``n_cells``, ``n_genes`` and ``n_types`` override the
    shape in it.
    """
    cfg = (config or SimulatorConfig()).model_copy(
        update={"n_cells": n_cells, "n_genes": n_genes, "n_types": n_types}
    )
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, cfg.gene_log_sd, cfg.n_genes)
    programs = np.zeros((cfg.n_types, cfg.n_genes))
    n_markers = max(1, round(cfg.marker_fraction * cfg.n_genes))
    for t in range(cfg.n_types):
        genes = rng.choice(cfg.n_genes, n_markers, replace=False)
        programs[t, genes] = rng.normal(0.0, cfg.marker_lfc_sd, n_markers)
    proportions = rng.dirichlet(np.full(cfg.n_types, 2.0))
    cell_types = rng.choice(cfg.n_types, cfg.n_cells, p=proportions)
    log_expr = base[None, :] + programs[cell_types]
    if cfg.latent_dims:
        factors = rng.normal(0.0, 1.0, (cfg.n_cells, cfg.latent_dims))
        loadings = rng.normal(0.0, cfg.latent_sd, (cfg.latent_dims, cfg.n_genes))
        log_expr += factors @ loadings
    probs = np.exp(log_expr - log_expr.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    library = np.exp(rng.normal(np.log(cfg.mean_library_size), cfg.library_size_sd, cfg.n_cells))
    means = library[:, None] * probs
    dispersion = np.exp(rng.normal(np.log(cfg.dispersion), 0.5, cfg.n_genes))
    shape = 1.0 / dispersion[None, :]
    rates = rng.gamma(np.broadcast_to(shape, means.shape), means / shape)
    counts = rng.poisson(rates)
    dropped = rng.random(counts.shape) < cfg.dropout_max / (1.0 + means)
    counts[dropped] = 0
    return SimulatedCounts(
        counts=counts.astype(np.int64), cell_types=cell_types, true_means=means, seed=seed, config=cfg
    )


def mcv_split(counts: np.ndarray, seed: int, train_frac: float = TRAIN_FRAC) -> McvSplit:
    """Binomial thinning of ``counts`` into train and test molecules (a numpy Generator from ``seed``).

    Raises:
        ValueError: ``counts`` is not a 2-D matrix of non-negative integers, or ``train_frac`` is
            not in (0, 1).
    """
    x = np.asarray(counts)
    if x.ndim != 2:
        raise ValueError(f"counts must be 2-D (cells x genes), got shape {x.shape}")
    if not 0.0 < train_frac < 1.0:
        raise ValueError(f"train_frac must be in (0, 1), got {train_frac}")
    if not np.allclose(x, np.round(x)) or (x < 0).any():
        raise ValueError("molecular cross-validation requires non-negative integer counts")
    x = np.round(x).astype(np.int64)
    rng = np.random.default_rng(seed)
    x_train = rng.binomial(x, train_frac)
    x_test = x - x_train
    keep = x_train.sum(axis=0) > 0
    return McvSplit(x_train=x_train[:, keep], x_test=x_test[:, keep], genes_kept=keep, seed=seed)


def nominal_split() -> McvSplit:
    """The public nominal split: default simulator with seed 0, thinned with seed 0."""
    return mcv_split(simulate_counts(NOMINAL_DATA_SEED).counts, NOMINAL_SPLIT_SEED)


def perturbed_config(seed: int) -> SimulatorConfig:
    """A shifted dataset distribution drawn by ``seed`` ("other datasets" of the perturbed suite).

    Varies the number of types, library size, dispersion, sparsity and within-type variation
    around the nominal values, keeping the matrix small enough for seconds-long runs.
    """
    rng = np.random.default_rng([seed, 1])
    return SimulatorConfig(
        n_cells=int(rng.integers(400, 801)),
        n_genes=int(rng.integers(1500, 2501)),
        n_types=int(rng.integers(3, 11)),
        mean_library_size=float(1500.0 * np.exp(rng.uniform(-0.7, 0.7))),
        dispersion=float(0.3 * np.exp(rng.uniform(-0.7, 0.7))),
        dropout_max=float(rng.uniform(0.0, 0.35)),
        latent_sd=float(rng.uniform(0.1, 0.5)),
    )


def fresh_split(seed: int) -> McvSplit:
    """A fresh dataset from the nominal simulator settings and a fresh split, both from ``seed``.

    This is the verifier's perturbed suite: the same problem as the nominal split with new cells and
    new molecules, so an honest method's score moves only by sampling noise (MAGIC: mse_norm about
    0.08-0.19 over seeds) while answers fitted to the public split do not transfer.
    """
    return mcv_split(simulate_counts(seed).counts, seed + 1)


def perturbed_split(seed: int) -> McvSplit:
    """A fresh dataset (shifted config) and split, both from the secret ``seed``."""
    cfg = perturbed_config(seed)
    sim = simulate_counts(seed, cfg.n_cells, cfg.n_genes, cfg.n_types, config=cfg)
    return mcv_split(sim.counts, seed + 1)


def load_h5ad(path: str | Path, layer: str | None = "counts") -> np.ndarray:
    """Dense counts from an ``.h5ad`` file (AnnData on disk), read with ``h5py`` only.

    Reads ``layers/<layer>`` when present, otherwise ``X``; dense or CSR/CSC sparse storage.

    Raises:
        ConfigError: ``h5py`` is not installed.
        FileNotFoundError: ``path`` does not exist.
        ValueError: neither the layer nor ``X`` holds a readable matrix.
    """
    try:
        import h5py  # optional: only real datasets need it
    except ImportError as e:
        raise ConfigError(
            "reading .h5ad files needs h5py, which is not installed",
            hint="pip install h5py, or use the simulator (simulate_counts)",
        ) from e
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no h5ad file at {p}")
    with h5py.File(p, "r") as f:
        key = f"layers/{layer}" if layer and f"layers/{layer}" in f else "X"
        if key not in f:
            raise ValueError(f"{p} has neither layers/{layer} nor X")
        node = f[key]
        if isinstance(node, h5py.Dataset):
            return np.asarray(node[...])
        encoding = node.attrs.get("encoding-type", node.attrs.get("h5sparse_format", ""))
        encoding = encoding.decode() if isinstance(encoding, bytes) else str(encoding)
        shape = tuple(int(s) for s in node.attrs["shape"])
        data, indices, indptr = node["data"][...], node["indices"][...], node["indptr"][...]
    import scipy.sparse

    if encoding.startswith("csc"):
        return scipy.sparse.csc_matrix((data, indices, indptr), shape=shape).toarray()
    if encoding.startswith("csr"):
        return scipy.sparse.csr_matrix((data, indices, indptr), shape=shape).toarray()
    raise ValueError(f"{p}:{key} has unknown sparse encoding {encoding!r}")
