"""CPU TriMul submissions and rendered variants against the trusted reference."""

from __future__ import annotations

import ast
import importlib.util
import types
from pathlib import Path

import pytest
import torch

from kernels.trimul import variants
from kernels.trimul.reference import check_implementation, clone_input, generate_input, ref_kernel
from kernels.trimul.shapes import CPU_TEST_SHAPES

SUBMISSIONS = Path(__file__).resolve().parents[2] / "kernels" / "trimul" / "submissions"
CPU_SUBMISSIONS = ["reference", "cpu_fast"]
ALLOWED_IMPORTS = {"torch", "numpy", "triton", "__future__", "math", "typing", "collections", "functools",
                   "itertools", "os"}


def _load_file(stem: str):  # noqa: ANN202
    spec = importlib.util.spec_from_file_location(f"sub_{stem}", SUBMISSIONS / f"{stem}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.custom_kernel


def _load_source(source: str):  # noqa: ANN202
    module = types.ModuleType("variant")
    exec(compile(source, "<variant>", "exec"), module.__dict__)  # noqa: S102 - our own template
    return module.custom_kernel


def _imports(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
    return names


@pytest.fixture(autouse=True)
def _one_thread():  # noqa: ANN202
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.mark.parametrize("stem", ["reference", "cpu_fast", "triton_h100"])
def test_submissions_are_self_contained(stem: str) -> None:
    source = (SUBMISSIONS / f"{stem}.py").read_text()
    assert _imports(source) <= ALLOWED_IMPORTS
    assert "def custom_kernel(data)" in source


@pytest.mark.parametrize("stem", CPU_SUBMISSIONS)
@pytest.mark.parametrize("shape", CPU_TEST_SHAPES, ids=lambda s: s.label().replace(" ", "-"))
def test_cpu_submission_matches_reference(stem: str, shape) -> None:  # noqa: ANN001
    kernel = _load_file(stem)
    data = generate_input(**shape.model_dump())
    expected = ref_kernel(clone_input(data))
    ok, msg = check_implementation(data, kernel(clone_input(data)), expected=expected)
    assert ok, msg


def test_cpu_fast_handles_fractional_and_all_zero_masks() -> None:
    kernel = _load_file("cpu_fast")
    x, _, w, cfg = generate_input(12, 2, 16, 8, seed=9, nomask=True, distribution="cauchy")
    frac = torch.rand(2, 12, 12, generator=torch.Generator().manual_seed(1)) * (torch.rand(2, 12, 12) > 0.3)
    for mask in (frac, torch.zeros(2, 12, 12), torch.ones(2, 12, 12, dtype=torch.int64)):
        data = (x, mask, w, cfg)
        ok, msg = check_implementation(data, kernel(clone_input(data)))
        assert ok, msg


def test_rendered_default_is_cpu_fast() -> None:
    assert variants.render_submission() == (SUBMISSIONS / "cpu_fast.py").read_text()


def test_render_rejects_unknown_axis_and_value() -> None:
    with pytest.raises(KeyError, match="CHUNKS"):
        variants.render_submission(CHUNKS=4)
    with pytest.raises(ValueError, match="PRECISION"):
        variants.render_submission(PRECISION="int4")


def _one_axis_variants() -> list[dict]:
    out = []
    for axis, values in variants.VARIANT_SPACE.items():
        out += [{axis: v} for v in values[1:]]
    return out


@pytest.mark.parametrize("choice", _one_axis_variants(), ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_every_variant_renders_importable_and_is_correct_or_flagged(choice: dict) -> None:
    source = variants.render_submission(**choice)
    assert _imports(source) <= ALLOWED_IMPORTS
    kernel = _load_source(source)
    (axis, value), = choice.items()
    flagged = value in variants.EXPECTED_INCORRECT.get(axis, [])
    # One masked and one Cauchy shape with two blocks of positions, plus a fractional mask.
    x, mask, w, cfg = generate_input(24, 1, 32, 16, seed=4, nomask=False, distribution="cauchy")
    frac = mask * torch.rand(mask.shape, generator=torch.Generator().manual_seed(2))
    results = []
    for m in (mask, frac):
        data = (x, m, w, cfg)
        results.append(check_implementation(data, kernel(clone_input(data)))[0])
    if flagged:
        assert results[0] and not results[1], "flagged variant should pass 0/1 masks and fail fractional ones"
    else:
        assert all(results)


def test_variant_grid_is_enumerable() -> None:
    grid = variants.all_variants()
    expected = 1
    for values in variants.VARIANT_SPACE.values():
        expected *= len(values)
    assert len(grid) == expected and variants.default_choices() in grid
