"""TriMul for NVIDIA GPUs (written for H100): two fused Triton kernels around a bf16 tensor-core bmm.

Self-contained submission (imports torch, triton and the stdlib only); defines ``custom_kernel(data)``
with GPU MODE's trimul interface, ``data = (x, mask, weights, config)``. There is no fallback path:
without Triton (or a CUDA device, unless ``TRITON_INTERPRET=1``) it raises.

1. ``_ln_proj_kernel``: per block of positions, a two-pass LayerNorm of ``x`` in fp32, then the five
   projections as ``tl.dot`` against the stacked weights, the sigmoid gates and the mask, all in
   registers. It writes ``left``/``right`` channel-major (``[bs, h, n, n]``, the operand layout of
   the contraction) and ``out_gate`` position-major (``[bs, n*n, h]``).
2. The triangle contraction ``out[b,d,i,j] = sum_k left[b,d,i,k] * right[b,d,j,k]`` is one batched
   matmul over ``bs*h`` channels (bf16 operands, fp32 accumulation in cuBLAS).
3. ``_out_kernel``: per block of positions, the LayerNorm over ``h`` channels of the contraction
   output, the affine, the out gate and the ``to_out`` projection, writing ``[bs, n, n, dim]``.

Precision: LayerNorm statistics and all accumulators are fp32. The matmul operands are bf16 on CUDA
(LayerNorm bounds them, so Cauchy inputs stay within bf16 range and the 2e-2 tolerance). Under the
Triton interpreter (CPU tensors) the operands stay fp32 so that tests check the logic exactly.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

_EPS = 1e-5
_PROJ_KEYS = ("left_proj.weight", "right_proj.weight", "left_gate.weight", "right_gate.weight",
              "out_gate.weight")


@triton.jit
def _ln_proj_kernel(x_ptr, mask_ptr, nw_ptr, nb_ptr, w_ptr, left_ptr, right_ptr, og_ptr,
                    NPOS, D, H, eps,
                    BLOCK_M: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr,
                    LOW: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_h = tl.program_id(1)
    b = tl.program_id(2)
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rmask = rows < NPOS
    xb = x_ptr + b.to(tl.int64) * NPOS * D
    # Two-pass statistics: E[x^2] - E[x]^2 cancels catastrophically on Cauchy inputs.
    s1 = tl.zeros([BLOCK_M], dtype=tl.float32)
    for k0 in range(0, D, BLOCK_K):
        cols = k0 + tl.arange(0, BLOCK_K)
        valid = rmask[:, None] & (cols < D)[None, :]
        xv = tl.load(xb + rows[:, None] * D + cols[None, :], mask=valid, other=0.0)
        s1 += tl.sum(xv, axis=1)
    mean = s1 / D
    s2 = tl.zeros([BLOCK_M], dtype=tl.float32)
    for k0 in range(0, D, BLOCK_K):
        cols = k0 + tl.arange(0, BLOCK_K)
        valid = rmask[:, None] & (cols < D)[None, :]
        xv = tl.load(xb + rows[:, None] * D + cols[None, :], mask=valid, other=0.0)
        diff = tl.where(valid, xv - mean[:, None], 0.0)
        s2 += tl.sum(diff * diff, axis=1)
    rstd = 1.0 / tl.sqrt(s2 / D + eps)

    hs = pid_h * BLOCK_H + tl.arange(0, BLOCK_H)
    hmask = hs < H
    acc_lp = tl.zeros([BLOCK_M, BLOCK_H], dtype=tl.float32)
    acc_rp = tl.zeros([BLOCK_M, BLOCK_H], dtype=tl.float32)
    acc_lg = tl.zeros([BLOCK_M, BLOCK_H], dtype=tl.float32)
    acc_rg = tl.zeros([BLOCK_M, BLOCK_H], dtype=tl.float32)
    acc_og = tl.zeros([BLOCK_M, BLOCK_H], dtype=tl.float32)
    HD = H * D
    for k0 in range(0, D, BLOCK_K):
        cols = k0 + tl.arange(0, BLOCK_K)
        cmask = cols < D
        valid = rmask[:, None] & cmask[None, :]
        xv = tl.load(xb + rows[:, None] * D + cols[None, :], mask=valid, other=0.0)
        nw = tl.load(nw_ptr + cols, mask=cmask, other=0.0)
        nb = tl.load(nb_ptr + cols, mask=cmask, other=0.0)
        xn = (xv - mean[:, None]) * rstd[:, None] * nw[None, :] + nb[None, :]
        xn = tl.where(valid, xn, 0.0)
        if LOW:
            xn = xn.to(tl.bfloat16)
        # Weights are [5, H, D] row-major; load a transposed [BLOCK_K, BLOCK_H] tile of each.
        wofs = hs[None, :] * D + cols[:, None]
        wmask = hmask[None, :] & cmask[:, None]
        w0 = tl.load(w_ptr + wofs, mask=wmask, other=0.0)
        w1 = tl.load(w_ptr + HD + wofs, mask=wmask, other=0.0)
        w2 = tl.load(w_ptr + 2 * HD + wofs, mask=wmask, other=0.0)
        w3 = tl.load(w_ptr + 3 * HD + wofs, mask=wmask, other=0.0)
        w4 = tl.load(w_ptr + 4 * HD + wofs, mask=wmask, other=0.0)
        acc_lp = tl.dot(xn, w0, acc_lp)
        acc_rp = tl.dot(xn, w1, acc_rp)
        acc_lg = tl.dot(xn, w2, acc_lg)
        acc_rg = tl.dot(xn, w3, acc_rg)
        acc_og = tl.dot(xn, w4, acc_og)

    m = tl.load(mask_ptr + b.to(tl.int64) * NPOS + rows, mask=rmask, other=0.0)
    left = acc_lp * m[:, None] * tl.sigmoid(acc_lg)
    right = acc_rp * m[:, None] * tl.sigmoid(acc_rg)
    out_gate = tl.sigmoid(acc_og)
    smask = rmask[:, None] & hmask[None, :]
    cm_ofs = b.to(tl.int64) * H * NPOS + hs[None, :] * NPOS + rows[:, None]
    tl.store(left_ptr + cm_ofs, left.to(left_ptr.dtype.element_ty), mask=smask)
    tl.store(right_ptr + cm_ofs, right.to(right_ptr.dtype.element_ty), mask=smask)
    pm_ofs = b.to(tl.int64) * NPOS * H + rows[:, None] * H + hs[None, :]
    tl.store(og_ptr + pm_ofs, out_gate.to(og_ptr.dtype.element_ty), mask=smask)


@triton.jit
def _out_kernel(o_ptr, og_ptr, g_ptr, bias_ptr, wo_ptr, out_ptr,
                NPOS, H, D, eps,
                BLOCK_M: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_D: tl.constexpr,
                LOW: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_d = tl.program_id(1)
    b = tl.program_id(2)
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rmask = rows < NPOS
    hs = tl.arange(0, BLOCK_H)
    hmask = hs < H
    valid = rmask[:, None] & hmask[None, :]
    # o is channel-major [bs, H, NPOS]: consecutive rows are consecutive addresses (coalesced).
    ov = tl.load(o_ptr + b.to(tl.int64) * H * NPOS + hs[None, :] * NPOS + rows[:, None],
                 mask=valid, other=0.0).to(tl.float32)
    mean = tl.sum(ov, axis=1) / H
    diff = tl.where(valid, ov - mean[:, None], 0.0)
    rstd = 1.0 / tl.sqrt(tl.sum(diff * diff, axis=1) / H + eps)
    g = tl.load(g_ptr + hs, mask=hmask, other=0.0)
    bias = tl.load(bias_ptr + hs, mask=hmask, other=0.0)
    gate = tl.load(og_ptr + b.to(tl.int64) * NPOS * H + rows[:, None] * H + hs[None, :],
                   mask=valid, other=0.0).to(tl.float32)
    y = (diff * rstd[:, None] * g[None, :] + bias[None, :]) * gate
    y = tl.where(valid, y, 0.0)
    ds = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    dmask = ds < D
    # to_out.weight is [D, H]; load a transposed [BLOCK_H, BLOCK_D] tile.
    wo = tl.load(wo_ptr + ds[None, :] * H + hs[:, None], mask=dmask[None, :] & hmask[:, None], other=0.0)
    if LOW:
        y = y.to(tl.bfloat16)
    acc = tl.dot(y, wo)
    tl.store(out_ptr + b.to(tl.int64) * NPOS * D + rows[:, None] * D + ds[None, :], acc,
             mask=rmask[:, None] & dmask[None, :])


def custom_kernel(data):  # noqa: ANN001, ANN201 - GPU MODE's interface
    """TriMul forward; returns ``[bs, n, n, dim]`` float32 on ``x``'s device."""
    x, mask, w, config = data
    bs, n, _, dim = x.shape
    h = int(config["hidden_dim"])
    npos = n * n
    dev = x.device
    low = dev.type == "cuda"
    op_dtype = torch.bfloat16 if low else torch.float32
    x = x.contiguous().float()
    maskf = mask.reshape(bs, npos).to(torch.float32).contiguous()
    w5 = torch.stack([w[k] for k in _PROJ_KEYS]).contiguous().to(op_dtype)
    left = torch.empty(bs, h, n, n, device=dev, dtype=op_dtype)
    right = torch.empty(bs, h, n, n, device=dev, dtype=op_dtype)
    out_gate = torch.empty(bs, npos, h, device=dev, dtype=op_dtype)

    block_m, block_h, block_k = 64, min(64, max(16, triton.next_power_of_2(h))), 32
    grid = (triton.cdiv(npos, block_m), triton.cdiv(h, block_h), bs)
    _ln_proj_kernel[grid](x, maskf, w["norm.weight"].float().contiguous(),
                          w["norm.bias"].float().contiguous(), w5, left, right, out_gate,
                          npos, dim, h, _EPS, BLOCK_M=block_m, BLOCK_H=block_h, BLOCK_K=block_k,
                          LOW=low, num_warps=8, num_stages=2)

    o = torch.bmm(left.view(bs * h, n, n), right.view(bs * h, n, n).transpose(1, 2))

    out = torch.empty(bs, n, n, dim, device=dev, dtype=torch.float32)
    block_h2 = max(16, triton.next_power_of_2(h))
    block_m2, block_d = 64, min(128, max(16, triton.next_power_of_2(dim)))
    grid2 = (triton.cdiv(npos, block_m2), triton.cdiv(dim, block_d), bs)
    _out_kernel[grid2](o, out_gate, w["to_out_norm.weight"].float().contiguous(),
                       w["to_out_norm.bias"].float().contiguous(),
                       w["to_out.weight"].contiguous().to(op_dtype), out,
                       npos, h, dim, _EPS, BLOCK_M=block_m2, BLOCK_H=block_h2, BLOCK_D=block_d,
                       LOW=low, num_warps=8, num_stages=2)
    return out
