"""Honest reference for __TASK__: the straightforward torch implementation."""

import torch


def custom_kernel(data):
    x, mask, w, _cfg = data
    y = torch.nn.functional.layer_norm(x, x.shape[-1:])
    gated = y * torch.sigmoid(y @ w["w_gate"].T)
    return (gated @ w["w_out"].T) * mask[..., None]
