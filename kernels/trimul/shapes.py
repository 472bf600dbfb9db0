"""TriMul problem shapes: GPU MODE's test and benchmark sets, and scaled-down CPU sets.

``GPU_TEST_SHAPES`` (18) and ``GPU_BENCHMARK_SHAPES`` (7) are GPU MODE's ``problems/bioml/trimul``
``task.yml`` ``tests``/``benchmarks`` lists, in order, with their seeds.

The CPU sets keep the structure of the GPU sets (same order, seeds, mask and distribution
choices, the two channel widths) at sizes a 2-core CI machine can run:

* ``CPU_BENCHMARK_SHAPES``: seqlen 256 -> 64 (/4) and 512/768/1024 -> 64/96/128 (/8); ``bs``,
  ``dim`` and ``hiddendim`` unchanged. One reference call takes ~20-250 ms on one core.
* ``CPU_TEST_SHAPES``: seqlen /8 (at least 8), ``dim`` and ``hiddendim`` /4, so the whole set of
  18 reference calls takes a few seconds on one core.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class TriMulShape(BaseModel):
    """One TriMul case: the keyword arguments of ``generate_input``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seqlen: int
    """``n``: the pair representation is ``[bs, n, n, dim]``."""
    bs: int
    """Batch size."""
    dim: int
    """Channels of the input and output."""
    hiddendim: int
    """Hidden channels of the triangle contraction."""
    seed: int
    """Seed of the input generator (the verifier replaces it with secret seeds)."""
    nomask: bool
    """True: the mask is all ones; False: random 0/1."""
    distribution: Literal["normal", "cauchy"]
    """Distribution of the input tensor."""

    def label(self) -> str:
        """Short human-readable name, e.g. ``n256 bs2 d128 h128 nomask normal``."""
        mask = "nomask" if self.nomask else "mask"
        return f"n{self.seqlen} bs{self.bs} d{self.dim} h{self.hiddendim} {mask} {self.distribution}"


def _s(seqlen: int, bs: int, dim: int, hiddendim: int, seed: int, nomask: bool, dist: str) -> TriMulShape:
    return TriMulShape(seqlen=seqlen, bs=bs, dim=dim, hiddendim=hiddendim, seed=seed, nomask=nomask,
                       distribution=dist)  # type: ignore[arg-type]


GPU_TEST_SHAPES: tuple[TriMulShape, ...] = (
    _s(32, 1, 128, 128, 9371, True, "normal"),
    _s(32, 1, 128, 128, 1092, False, "normal"),
    _s(64, 2, 256, 128, 2291, True, "normal"),
    _s(64, 2, 256, 128, 210284, False, "normal"),
    _s(128, 1, 768, 128, 81934, True, "normal"),
    _s(256, 1, 128, 128, 1932, True, "normal"),
    _s(256, 1, 128, 128, 10432, False, "normal"),
    _s(768, 2, 128, 128, 731, True, "normal"),
    _s(1024, 1, 384, 128, 53121, False, "normal"),
    _s(1024, 1, 768, 128, 31, True, "normal"),
    _s(1024, 1, 768, 128, 4921, False, "normal"),
    _s(32, 1, 128, 128, 937321, True, "cauchy"),
    _s(64, 2, 256, 128, 2291, True, "cauchy"),
    _s(128, 1, 768, 128, 8134, True, "cauchy"),
    _s(256, 1, 128, 128, 932, True, "cauchy"),
    _s(768, 2, 128, 128, 31, True, "cauchy"),
    _s(1024, 1, 384, 128, 5321, False, "cauchy"),
    _s(1024, 1, 768, 128, 491, False, "cauchy"),
)

GPU_BENCHMARK_SHAPES: tuple[TriMulShape, ...] = (
    _s(256, 2, 128, 128, 9371, True, "normal"),
    _s(768, 1, 128, 128, 381, True, "cauchy"),
    _s(256, 2, 384, 128, 2301, False, "normal"),
    _s(512, 1, 128, 128, 12819, True, "normal"),
    _s(1024, 1, 128, 128, 381, True, "cauchy"),
    _s(768, 1, 384, 128, 481, False, "normal"),
    _s(1024, 1, 384, 128, 23291, True, "normal"),
)


def _cpu_test(shape: TriMulShape) -> TriMulShape:
    return shape.model_copy(update={"seqlen": max(8, shape.seqlen // 8), "dim": shape.dim // 4,
                                    "hiddendim": shape.hiddendim // 4})


def _cpu_bench(shape: TriMulShape) -> TriMulShape:
    divisor = 4 if shape.seqlen <= 256 else 8
    return shape.model_copy(update={"seqlen": shape.seqlen // divisor})


CPU_TEST_SHAPES: tuple[TriMulShape, ...] = tuple(_cpu_test(s) for s in GPU_TEST_SHAPES)
CPU_BENCHMARK_SHAPES: tuple[TriMulShape, ...] = tuple(_cpu_bench(s) for s in GPU_BENCHMARK_SHAPES)
