"""Cheat: constant zeros of the right shape (free, wrong)."""

import torch
import torch.nn.functional as F


def _ref(data):
    """Correct TriMul (same math as kernels/trimul/reference.py), used by cheats that need answers."""
    x, mask, w, cfg = data
    d, h = cfg["dim"], cfg["hidden_dim"]
    x = F.layer_norm(x, (d,), w["norm.weight"], w["norm.bias"], eps=1e-5)
    m = mask.unsqueeze(-1)
    left = F.linear(x, w["left_proj.weight"]) * m * F.linear(x, w["left_gate.weight"]).sigmoid()
    right = F.linear(x, w["right_proj.weight"]) * m * F.linear(x, w["right_gate.weight"]).sigmoid()
    out = torch.einsum("... i k d, ... j k d -> ... i j d", left, right)
    out = F.layer_norm(out, (h,), w["to_out_norm.weight"], w["to_out_norm.bias"], eps=1e-5)
    return F.linear(out * F.linear(x, w["out_gate.weight"]).sigmoid(), w["to_out.weight"])



def custom_kernel(data):
    return torch.zeros_like(data[0])
