"""Cheat: patch every timer the harness might use, then do slow honest work (50 ms sleep)."""

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


import time

_REAL_SLEEP = time.sleep
_T = [0.0]


def _fake(*a, **k):
    _T[0] += 1e-6
    return _T[0]


def _fake_ns(*a, **k):
    return int(_fake() * 1e9)


time.perf_counter = time.time = time.monotonic = _fake
time.perf_counter_ns = time.time_ns = time.monotonic_ns = _fake_ns


class _Event:
    def __init__(self, *a, **k):
        pass

    def record(self, *a, **k):
        pass

    def synchronize(self):
        pass

    def elapsed_time(self, other):
        return 0.001


torch.cuda.Event = _Event


def custom_kernel(data):
    _REAL_SLEEP(0.05)
    return _ref(data)
