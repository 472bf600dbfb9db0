"""Honest TriMul candidate: GPU MODE's reference math, unoptimised (the baseline every kernel beats).

Self-contained: imports torch only. Defines ``custom_kernel(data)`` with GPU MODE's trimul interface,
``data = (x, mask, weights, config)``; works on CPU and CUDA tensors, in float32 with TF32 off.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def custom_kernel(data):  # noqa: ANN001, ANN201 - GPU MODE's interface
    """LayerNorm, five projections, gating, triangle einsum, LayerNorm, gate, output projection."""
    x, mask, w, config = data
    dim, hidden_dim = int(config["dim"]), int(config["hidden_dim"])
    saved = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.no_grad():
            x = F.layer_norm(x, (dim,), w["norm.weight"], w["norm.bias"], eps=1e-5)
            m = mask.unsqueeze(-1)
            left = F.linear(x, w["left_proj.weight"]) * m
            right = F.linear(x, w["right_proj.weight"]) * m
            left = left * F.linear(x, w["left_gate.weight"]).sigmoid()
            right = right * F.linear(x, w["right_gate.weight"]).sigmoid()
            out_gate = F.linear(x, w["out_gate.weight"]).sigmoid()
            out = torch.einsum("... i k d, ... j k d -> ... i j d", left, right)
            out = F.layer_norm(out, (hidden_dim,), w["to_out_norm.weight"], w["to_out_norm.bias"], eps=1e-5)
            return F.linear(out * out_gate, w["to_out.weight"])
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved
