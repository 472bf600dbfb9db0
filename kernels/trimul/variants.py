"""A parameterised CPU TriMul kernel whose variants an offline search agent can choose between.

The kernel source is ``submissions/cpu_fast.py``; its ``# --- variant choices ---`` block holds one
module-level constant per axis below. :func:`render_submission` rewrites that block and returns the
source of a new self-contained submission file (torch + stdlib imports only), so every variant is
runnable exactly as the verifier would run a candidate.

The space is real: variants differ in speed by several times and some are numerically wrong. Low
precision is slower on CPUs without native bf16/fp16 matmuls; treating the mask as binary is faster
on masked shapes and wrong on fractional masks. The verifier, not this module, decides which
variants are correct; :data:`EXPECTED_INCORRECT` only records what the tests observed.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

#: Source file the variants are rendered from (also the default, fastest-known variant).
TEMPLATE_PATH = Path(__file__).parent / "submissions" / "cpu_fast.py"

#: Each axis and its choices; the first choice of each axis is what ``cpu_fast.py`` ships.
VARIANT_SPACE: dict[str, list[Any]] = {
    # channel_major: projections computed as W @ xn^T, already in the [d, i, k] layout the bmm
    # wants; position_major: xn @ W^T as the reference does, then permute copies around the bmm.
    # blocked: channel-major operands, prologue/epilogue in position blocks that stay in L2.
    "LAYOUT": ["blocked", "channel_major", "position_major"],
    # positions per block of the blocked layout.
    "BLOCK": [512, 256, 1024, 2048],
    # orientation of the blocked projections: W @ xn^T (wx) or (xn @ W^T)^T (xw); same FLOPs,
    # different BLAS kernels.
    "ORIENT": ["wx", "xw"],
    # fused: one matmul for the stacked weights; separate: one matmul per weight.
    "PROJECTION": ["fused", "separate"],
    # hidden channels per chunk of the channel_major layout (0 = all at once).
    "CHUNK": [32, 0, 8, 16, 64],
    # skip the left/right projections at masked-out positions (exact: they are multiplied by 0).
    "SKIP_MASKED": [True, False],
    # dtype of the matmuls; only fp32 is safe on every input.
    "PRECISION": ["fp32", "bf16_contraction", "fp16_contraction", "bf16_all"],
    # exact: multiply by the mask values; binary: treat every nonzero mask value as 1 (one pass
    # less, right on GPU MODE's 0/1 masks, wrong on fractional masks a perturbed suite may use).
    "MASK": ["exact", "binary"],
}

#: Choices that fail the 2e-2 check on some input the verifier may draw (tests assert it).
#: The low-precision choices passed every CPU test shape (both LayerNorms bound the matmul
#: operands, so Cauchy inputs do not reach them); on a CPU without native bf16/fp16 they are
#: slower, not wrong.
EXPECTED_INCORRECT: dict[str, list[Any]] = {"MASK": ["binary"]}

_BLOCK = re.compile(
    r"(# --- variant choices \(rewritten by kernels/trimul/variants\.py\) ---\n)(.*?)(# --- end variant choices ---)",
    re.S,
)


def default_choices() -> dict[str, Any]:
    """The choices ``cpu_fast.py`` ships with (the first of each axis)."""
    return {axis: values[0] for axis, values in VARIANT_SPACE.items()}


def render_submission(**choices: Any) -> str:
    """Return the source of a self-contained submission with the given variant choices.

    Args:
        **choices: axis name to value, e.g. ``CHUNK=16, PRECISION="bf16_contraction"``; axes left out
            keep their default (first) value.

    Returns:
        Python source defining ``custom_kernel(data)``.

    Raises:
        KeyError: an axis is not in :data:`VARIANT_SPACE`.
        ValueError: a value is not one of the axis's choices, or the template lost its choice block.
    """
    merged = default_choices()
    for axis, value in choices.items():
        if axis not in VARIANT_SPACE:
            raise KeyError(f"unknown trimul variant axis {axis!r}; axes: {sorted(VARIANT_SPACE)}")
        if value not in VARIANT_SPACE[axis]:
            raise ValueError(f"trimul variant {axis}={value!r} is not one of {VARIANT_SPACE[axis]}")
        merged[axis] = value
    source = TEMPLATE_PATH.read_text()
    if not _BLOCK.search(source):
        raise ValueError(f"{TEMPLATE_PATH} has no variant choice block to rewrite")
    body = "".join(f"{axis} = {_literal(merged[axis])}\n" for axis in VARIANT_SPACE)
    return _BLOCK.sub(lambda m: m.group(1) + body + m.group(3), source, count=1)


def _literal(value: Any) -> str:
    """Python literal for a choice, with double-quoted strings as the template writes them."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


def all_variants() -> list[dict[str, Any]]:
    """Every combination of choices (the full grid)."""
    axes = list(VARIANT_SPACE)
    return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*VARIANT_SPACE.values())]
