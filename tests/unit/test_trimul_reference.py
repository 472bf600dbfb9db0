"""The trusted TriMul reference: math vs an independent naive einsum, generator, checker."""

from __future__ import annotations

import math

import pytest
import torch

from kernels.trimul.reference import (
    WEIGHT_KEYS,
    check_implementation,
    clone_input,
    generate_input,
    ref_kernel,
)
from kernels.trimul.shapes import CPU_BENCHMARK_SHAPES, CPU_TEST_SHAPES, GPU_BENCHMARK_SHAPES, GPU_TEST_SHAPES


def _naive(data) -> torch.Tensor:  # noqa: ANN001
    """TriMul in float64 with explicit loops over k (independent of F.layer_norm/einsum)."""
    x, mask, w, _ = data
    x = x.double()
    wd = {k: v.double() for k, v in w.items()}

    def ln(t: torch.Tensor, g: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        mu = t.mean(-1, keepdim=True)
        var = ((t - mu) ** 2).mean(-1, keepdim=True)
        return (t - mu) / torch.sqrt(var + 1e-5) * g + b

    xn = ln(x, wd["norm.weight"], wd["norm.bias"])
    m = mask.double()[..., None]
    sig = torch.sigmoid
    left = (xn @ wd["left_proj.weight"].T) * m * sig(xn @ wd["left_gate.weight"].T)
    right = (xn @ wd["right_proj.weight"].T) * m * sig(xn @ wd["right_gate.weight"].T)
    bs, n, _, h = left.shape
    out = torch.zeros(bs, n, n, h, dtype=torch.float64)
    for k in range(n):
        out += left[:, :, None, k, :] * right[:, None, :, k, :]
    out = ln(out, wd["to_out_norm.weight"], wd["to_out_norm.bias"]) * sig(xn @ wd["out_gate.weight"].T)
    return out @ wd["to_out.weight"].T


@pytest.mark.parametrize(("n", "bs", "dim", "h", "nomask", "dist"), [
    (6, 1, 8, 4, True, "normal"), (7, 2, 12, 8, False, "normal"), (5, 1, 16, 8, False, "cauchy"),
])
def test_reference_matches_naive(n: int, bs: int, dim: int, h: int, nomask: bool, dist: str) -> None:
    data = generate_input(n, bs, dim, h, seed=3, nomask=nomask, distribution=dist)
    got = ref_kernel(clone_input(data))
    assert got.shape == (bs, n, n, dim) and got.dtype == torch.float32
    torch.testing.assert_close(got.double(), _naive(data), rtol=1e-4, atol=1e-4)


def test_generator_is_deterministic_and_seed_sensitive() -> None:
    a = generate_input(8, 1, 16, 8, seed=11, nomask=False, distribution="cauchy")
    b = generate_input(8, 1, 16, 8, seed=11, nomask=False, distribution="cauchy")
    c = generate_input(8, 1, 16, 8, seed=12, nomask=False, distribution="cauchy")
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert all(torch.equal(a[2][k], b[2][k]) for k in WEIGHT_KEYS)
    assert not torch.equal(a[0], c[0])
    assert a[3] == {"hidden_dim": 8, "dim": 16}


def test_generator_distributions_and_masks() -> None:
    x_norm, ones, w, _ = generate_input(16, 1, 32, 16, seed=1, nomask=True, distribution="normal")
    x_cau, mask, _, _ = generate_input(16, 1, 32, 16, seed=1, nomask=False, distribution="cauchy")
    assert torch.all(ones == 1)
    assert set(mask.unique().tolist()) == {0, 1}
    # Cauchy is heavy-tailed: its largest value dwarfs the normal input's.
    assert x_cau.abs().max() > 10 * x_norm.abs().max()
    assert w["left_proj.weight"].shape == (16, 32) and w["to_out.weight"].shape == (32, 16)
    assert torch.isfinite(ref_kernel((x_cau, mask, w, {"dim": 32, "hidden_dim": 16}))).all()


def test_generator_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="distribution"):
        generate_input(4, 1, 8, 8, 0, True, "uniform")
    with pytest.raises(ValueError, match="positive"):
        generate_input(0, 1, 8, 8, 0, True, "normal")


def test_masked_positions_are_excluded() -> None:
    data = generate_input(6, 1, 8, 8, seed=5, nomask=True, distribution="normal")
    x, mask, w, cfg = data
    mask = mask.clone()
    mask[0, :, 2] = 0  # k=2 contributes nothing when masked, so changing x there changes nothing
    base = ref_kernel((x, mask, w, cfg))
    x2 = x.clone()
    x2[0, 3, 2] += 100.0
    other = ref_kernel((x2, mask, w, cfg))
    keep = torch.ones(6, 6, dtype=torch.bool)
    keep[3, 2] = False  # position (3, 2) itself still changes through the out gate
    torch.testing.assert_close(base[0][keep], other[0][keep])


def test_check_implementation_accepts_reference_and_small_noise() -> None:
    data = generate_input(8, 1, 16, 8, seed=2, nomask=False, distribution="normal")
    out = ref_kernel(clone_input(data))
    assert check_implementation(data, out.clone()) == (True, "")
    assert check_implementation(data, out + 1e-3)[0]


def test_check_implementation_rejects_wrong_values_nan_inf_shape_and_type() -> None:
    data = generate_input(8, 1, 16, 8, seed=2, nomask=True, distribution="normal")
    out = ref_kernel(clone_input(data))
    wrong = out.clone()
    wrong[0, 1, 2, 3] += 1.0
    ok, msg = check_implementation(data, wrong, expected=out)
    assert not ok and "(0, 1, 2, 3)" in msg and "1 of" in msg
    nan = out.clone()
    nan[0, 0, 0, 0] = math.nan
    assert not check_implementation(data, nan, expected=out)[0]
    # NaN never matches, even where the reference itself is NaN.
    assert not check_implementation(data, nan, expected=nan)[0]
    inf = out.clone()
    inf[0, 0, 0, 0] = math.inf
    assert not check_implementation(data, inf, expected=out)[0]
    assert check_implementation(data, inf, expected=inf)[0]
    assert not check_implementation(data, out[..., :-1], expected=out)[0]
    assert not check_implementation(data, out.numpy(), expected=out)[0]

    class Sneaky(torch.Tensor):
        pass

    assert not check_implementation(data, out.as_subclass(Sneaky), expected=out)[0]


def test_shape_sets_match_gpu_mode_structure() -> None:
    assert len(GPU_TEST_SHAPES) == 18 and len(GPU_BENCHMARK_SHAPES) == 7
    assert GPU_BENCHMARK_SHAPES[0].model_dump() == {
        "seqlen": 256, "bs": 2, "dim": 128, "hiddendim": 128, "seed": 9371, "nomask": True,
        "distribution": "normal"}
    assert len(CPU_TEST_SHAPES) == 18 and len(CPU_BENCHMARK_SHAPES) == 7
    for cpu, gpu in zip(CPU_BENCHMARK_SHAPES, GPU_BENCHMARK_SHAPES, strict=True):
        assert (cpu.seed, cpu.nomask, cpu.distribution, cpu.dim) == (gpu.seed, gpu.nomask, gpu.distribution, gpu.dim)
