"""Trusted TriMul reference: the math, the input generator and the correctness check.

This reproduces GPU MODE's ``problems/bioml/trimul/reference.py`` (the AlphaFold3 "outgoing"
triangle multiplicative update, after lucidrains' triangle-multiplicative-module):

    x = LayerNorm(dim)(x)
    left  = left_proj(x)  * mask * sigmoid(left_gate(x))
    right = right_proj(x) * mask * sigmoid(right_gate(x))
    out   = einsum('... i k d, ... j k d -> ... i j d', left, right)
    out   = to_out(LayerNorm(hidden_dim)(out) * sigmoid(out_gate(x)))

It is written functionally (``F.layer_norm``/``F.linear``/``torch.einsum``) instead of building an
``nn.Module`` per call; the operations and their order are the same, so the numbers are the same.
Everything runs in float32 with TF32 off, as GPU MODE's ``DisableCuDNNTF32`` context does.

Deliberate difference from GPU MODE's ``generate_input``: GPU MODE draws the Cauchy input and all
weights from the *global* RNG, so its inputs are not a function of ``seed`` alone. Here every draw
uses the seeded ``torch.Generator``, in the same order and with the same distributions and scales,
so a seed fixes the whole input on a given device (the verifier relies on that to replay runs).

This module imports only torch and the stdlib: verifiers load it outside any sandbox and the
trusted verifier image can copy it as one file.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F

#: GPU MODE's ``check_implementation`` tolerance for trimul.
RTOL = 2e-2
ATOL = 2e-2

#: Input distributions GPU MODE's task.yml uses.
DISTRIBUTIONS = ("normal", "cauchy")

#: Keys of the weights dict, in GPU MODE's naming (``nn.Linear`` weights are ``[out, in]``).
WEIGHT_KEYS = (
    "norm.weight",
    "norm.bias",
    "left_proj.weight",
    "right_proj.weight",
    "left_gate.weight",
    "right_gate.weight",
    "out_gate.weight",
    "to_out_norm.weight",
    "to_out_norm.bias",
    "to_out.weight",
)

TriMulInput = tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor], dict[str, Any]]


@contextlib.contextmanager
def _full_fp32() -> Iterator[None]:
    """Disable TF32 in cuBLAS and cuDNN for the duration (the reference is an fp32 oracle)."""
    saved = (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.backends.cudnn.deterministic,
    )
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.deterministic = True
    try:
        yield
    finally:
        (
            torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.allow_tf32,
            torch.backends.cudnn.deterministic,
        ) = saved


def ref_kernel(data: TriMulInput) -> torch.Tensor:
    """Compute TriMul exactly as GPU MODE's reference does, in float32.

    Args:
        data: ``(x, mask, weights, config)``; ``x`` is ``[bs, n, n, dim]``, ``mask`` is
            ``[bs, n, n]`` (float ones or int64 0/1), ``weights`` holds :data:`WEIGHT_KEYS`,
            ``config`` holds ``dim`` and ``hidden_dim``.

    Returns:
        The output, ``[bs, n, n, dim]`` float32, on ``x``'s device.

    Raises:
        KeyError: a weight or config key is missing.
    """
    x, mask, w, config = data
    dim, hidden_dim = int(config["dim"]), int(config["hidden_dim"])
    with _full_fp32(), torch.no_grad():
        x = F.layer_norm(x, (dim,), w["norm.weight"], w["norm.bias"], eps=1e-5)
        left = F.linear(x, w["left_proj.weight"])
        right = F.linear(x, w["right_proj.weight"])
        m = mask.unsqueeze(-1)
        left = left * m
        right = right * m
        left_gate = F.linear(x, w["left_gate.weight"]).sigmoid()
        right_gate = F.linear(x, w["right_gate.weight"]).sigmoid()
        out_gate = F.linear(x, w["out_gate.weight"]).sigmoid()
        left = left * left_gate
        right = right * right_gate
        out = torch.einsum("... i k d, ... j k d -> ... i j d", left, right)
        out = F.layer_norm(out, (hidden_dim,), w["to_out_norm.weight"], w["to_out_norm.bias"], eps=1e-5)
        out = out * out_gate
        return F.linear(out, w["to_out.weight"])


def generate_input(
    seqlen: int,
    bs: int,
    dim: int,
    hiddendim: int,
    seed: int,
    nomask: bool,
    distribution: str,
    device: str | torch.device = "cpu",
) -> TriMulInput:
    """Draw one TriMul input the way GPU MODE does, every draw from a generator seeded by ``seed``.

    Args:
        seqlen: ``n``, the pair-representation side length.
        bs: batch size.
        dim: channel dimension of ``x`` and the output.
        hiddendim: hidden channels of the triangle contraction.
        seed: generator seed; the same seed on the same device gives the same input.
        nomask: if true the mask is all ones (float32), else random 0/1 (int64, as GPU MODE).
        distribution: ``"normal"`` (standard normal) or ``"cauchy"`` (median 0, scale 2).
        device: where to create the tensors; the generator lives there too.

    Returns:
        ``(x, mask, weights, config)`` in GPU MODE's layout.

    Raises:
        ValueError: unknown ``distribution`` or a non-positive size.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"trimul distribution {distribution!r} is not one of {DISTRIBUTIONS}")
    if min(seqlen, bs, dim, hiddendim) <= 0:
        raise ValueError(f"trimul sizes must be positive, got seqlen={seqlen} bs={bs} dim={dim} "
                         f"hiddendim={hiddendim}")
    device = torch.device(device)
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    f32 = torch.float32
    shape = (bs, seqlen, seqlen, dim)
    if distribution == "cauchy":
        x = torch.empty(shape, device=device, dtype=f32).cauchy_(0.0, 2.0, generator=gen)
    else:
        x = torch.randn(shape, device=device, dtype=f32, generator=gen)
    if nomask:
        mask = torch.ones(bs, seqlen, seqlen, device=device)
    else:
        mask = torch.randint(0, 2, (bs, seqlen, seqlen), device=device, generator=gen)

    def randn(*size: int) -> torch.Tensor:
        return torch.randn(size, device=device, dtype=f32, generator=gen)

    # Same draw order and scales as GPU MODE (projections scaled by 1/sqrt(hidden_dim), to_out by
    # 1/sqrt(dim), to_out_norm.bias drawn last).
    weights = {
        "norm.weight": randn(dim),
        "norm.bias": randn(dim),
        "left_proj.weight": randn(hiddendim, dim) / math.sqrt(hiddendim),
        "right_proj.weight": randn(hiddendim, dim) / math.sqrt(hiddendim),
        "left_gate.weight": randn(hiddendim, dim) / math.sqrt(hiddendim),
        "right_gate.weight": randn(hiddendim, dim) / math.sqrt(hiddendim),
        "out_gate.weight": randn(hiddendim, dim) / math.sqrt(hiddendim),
        "to_out_norm.weight": randn(hiddendim),
        "to_out.weight": randn(dim, hiddendim) / math.sqrt(dim),
    }
    weights["to_out_norm.bias"] = randn(hiddendim)
    config = {"hidden_dim": hiddendim, "dim": dim}
    return x, mask, weights, config


def check_implementation(
    data: TriMulInput,
    output: Any,
    rtol: float = RTOL,
    atol: float = ATOL,
    *,
    expected: torch.Tensor | None = None,
    max_report: int = 5,
) -> tuple[bool, str]:
    """Compare a candidate's output with the reference, GPU MODE style (``|a-b| <= atol + rtol*|b|``).

    NaN never matches (not even a NaN in the reference), an infinity matches only the same
    infinity, and the output must be a plain dense ``torch.Tensor`` of the reference's shape.

    Args:
        data: the input the candidate was given (the reference is recomputed from a clone of it
            unless ``expected`` is passed).
        output: what the candidate returned.
        rtol: relative tolerance.
        atol: absolute tolerance.
        expected: a precomputed reference output, to skip recomputing it.
        max_report: how many mismatching positions to list in the message.

    Returns:
        ``(ok, message)``; the message names the first mismatches when ``ok`` is false.
    """
    if expected is None:
        expected = ref_kernel(clone_input(data))
    # Subclasses could override comparisons or defer computation; accept only the base class.
    if type(output) is not torch.Tensor:
        return False, f"output is {type(output).__name__}, expected torch.Tensor"
    if output.layout != torch.strided or output.is_sparse:
        return False, f"output layout {output.layout} is not dense"
    if tuple(output.shape) != tuple(expected.shape):
        return False, f"shape mismatch: got {tuple(output.shape)}, expected {tuple(expected.shape)}"
    got = output.detach().to(device=expected.device, dtype=torch.float32)
    exp = expected.detach().to(torch.float32)
    finite = torch.isfinite(got) & torch.isfinite(exp)
    close = (got - exp).abs() <= atol + rtol * exp.abs()
    same_inf = torch.isinf(got) & torch.isinf(exp) & (torch.sign(got) == torch.sign(exp))
    ok_mask = (finite & close) | same_inf
    bad = int((~ok_mask).sum().item())
    if bad == 0:
        return True, ""
    idx = torch.nonzero(~ok_mask)[:max_report]
    lines = [f"{bad} of {exp.numel()} elements mismatch (rtol={rtol}, atol={atol})"]
    for row in idx.tolist():
        pos = tuple(row)
        lines.append(f"at {pos}: got {got[pos].item():.6g}, expected {exp[pos].item():.6g}")
    return False, "; ".join(lines)


def clone_input(data: TriMulInput) -> TriMulInput:
    """Deep-copy an input so neither side can see changes the other makes in place."""
    x, mask, weights, config = data
    return x.clone(), mask.clone(), {k: v.clone() for k, v in weights.items()}, dict(config)

