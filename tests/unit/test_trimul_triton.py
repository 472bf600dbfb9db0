"""Triton TriMul submission: interpreter correctness on CPU (tiny sizes) and CUDA tests on a GPU.

The interpreter runs in a subprocess because ``TRITON_INTERPRET`` is read when triton is imported.
Under the interpreter the kernel keeps fp32 operands (numpy has no bfloat16); the bf16 path runs
only on CUDA, in the ``gpu`` tests.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SUBMISSION = ROOT / "kernels" / "trimul" / "submissions" / "triton_h100.py"

triton_missing = importlib.util.find_spec("triton") is None
needs_triton = pytest.mark.skipif(triton_missing, reason="triton is not installed (pip install 'triton>=3')")

_INTERPRET_SCRIPT = """
import importlib.util, sys
sys.path.insert(0, {root!r})
from kernels.trimul.reference import check_implementation, clone_input, generate_input
spec = importlib.util.spec_from_file_location("triton_sub", {path!r})
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
failures = []
for args in {cases!r}:
    data = generate_input(*args)
    ok, msg = check_implementation(data, mod.custom_kernel(clone_input(data)))
    if not ok:
        failures.append((args, msg))
print("FAILURES", failures)
sys.exit(1 if failures else 0)
"""


@needs_triton
def test_triton_kernel_matches_reference_under_interpreter() -> None:
    # (seqlen, bs, dim, hiddendim, seed, nomask, distribution): non-power-of-two sizes exercise
    # every boundary mask; a fractional hidden size exercises the channel-block mask.
    cases = [(8, 1, 32, 32, 1, False, "normal"), (12, 2, 48, 24, 2, True, "cauchy"),
             (9, 1, 20, 16, 3, False, "cauchy")]
    script = _INTERPRET_SCRIPT.format(root=str(ROOT), path=str(SUBMISSION), cases=cases)
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def _load():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("triton_sub_gpu", SUBMISSION)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.custom_kernel


@pytest.mark.gpu
@needs_triton
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_triton_kernel_on_cuda_gpu_mode_test_shapes() -> None:
    from kernels.trimul.reference import check_implementation, clone_input, generate_input
    from kernels.trimul.shapes import GPU_TEST_SHAPES

    kernel = _load()
    for shape in GPU_TEST_SHAPES:
        data = generate_input(**shape.model_dump(), device="cuda")
        ok, msg = check_implementation(data, kernel(clone_input(data)))
        assert ok, f"{shape.label()}: {msg}"


@pytest.mark.gpu
@needs_triton
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_triton_kernel_on_cuda_fresh_seeds_and_fractional_mask() -> None:
    from kernels.trimul.reference import check_implementation, clone_input, generate_input

    kernel = _load()
    for seed in (101, 202):
        x, mask, w, cfg = generate_input(256, 2, 384, 128, seed, False, "cauchy", device="cuda")
        frac = mask * torch.rand(mask.shape, device="cuda")
        for m in (mask, frac):
            data = (x, m, w, cfg)
            ok, msg = check_implementation(data, kernel(clone_input(data)))
            assert ok, msg
