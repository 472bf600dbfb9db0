"""TriMul benchmark: the reference and every kernel, same process, fresh inputs, correctness first.

Question answered: how much faster is each TriMul submission than the reference implementation on
this machine, per shape and as a geometric mean, and what reward (1500 / geomean µs) does it get?

CPU: ``CPU_BENCHMARK_SHAPES`` with ``torch.set_num_threads(--threads)`` (default 1); CUDA (when
present, or ``--device cuda``): GPU MODE's 7 benchmark shapes. Every kernel is first checked against
the trusted reference on the shape's own seed; a kernel that fails is not timed on that shape. Each
timed call gets an input drawn from a new seed, so no kernel can reuse an earlier result. Kernels run
in rotating order inside each repetition, so slow drift of the machine hits all of them alike.

Run: ``nice -n 5 .venv/bin/python benchmarks/trimul.py [--json] [--reps 7] [--clock cpu]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import math
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kernels.trimul.reference import check_implementation, clone_input, generate_input, ref_kernel  # noqa: E402
from kernels.trimul.shapes import CPU_BENCHMARK_SHAPES, GPU_BENCHMARK_SHAPES, TriMulShape  # noqa: E402

SUBMISSIONS = ROOT / "kernels" / "trimul" / "submissions"
RESULTS = Path(__file__).resolve().parent / "results"
SCHEMA_VERSION = 1
#: Submissions timed on each device (file stems under kernels/trimul/submissions/).
KERNELS = {"cpu": ("reference", "cpu_fast"), "cuda": ("reference", "triton_h100")}
BASELINE = "ref_kernel"

Kernel = Callable[[Any], torch.Tensor]


class ShapeResult(BaseModel):
    """Timing of one kernel on one shape."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shape: TriMulShape
    """The benchmark shape (its seed is the correctness seed; timed calls use fresh seeds)."""
    kernel: str
    """Kernel name (``ref_kernel`` is the trusted reference, the others are submission stems)."""
    correct: bool
    """Whether the kernel matched the reference on the correctness input."""
    message: str
    """Mismatch or error description when ``correct`` is false."""
    times_us: list[float]
    """Every timed call, in microseconds (empty when not correct)."""
    median_us: float | None
    """Median of ``times_us``."""
    speedup: float | None
    """Reference median divided by this kernel's median on the same shape."""


class BenchReport(BaseModel):
    """A whole benchmark run, as written to ``results/<date>-<device>.json``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int
    """Version of this file's layout."""
    created_at: str
    """UTC timestamp of the run."""
    git_sha: str
    """``git rev-parse HEAD`` of the checkout, or ``unknown``."""
    versions: dict[str, str]
    """Python, torch, numpy, triton versions."""
    device: str
    """CPU model or CUDA device name."""
    config: dict[str, Any]
    """Device kind, threads, repetitions, clock."""
    results: list[ShapeResult]
    """Per shape and kernel."""
    geomean_us: dict[str, float]
    """Geometric mean of the per-shape medians, per kernel correct on every shape."""
    geomean_speedup: dict[str, float]
    """Geometric mean of the per-shape speedups, per kernel correct on every shape."""
    reward: dict[str, float]
    """1500 / geomean_us, per kernel."""


def load_submission(stem: str) -> Kernel:
    """Import ``submissions/<stem>.py`` as an isolated module and return its ``custom_kernel``.

    Raises:
        FileNotFoundError: no such submission file.
        AttributeError: the file defines no ``custom_kernel``.
    """
    path = SUBMISSIONS / f"{stem}.py"
    if not path.is_file():
        raise FileNotFoundError(f"trimul submission {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"trimul_submission_{stem}", path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.custom_kernel  # type: ignore[no-any-return]


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _timed(fn: Kernel, data: Any, device: str, clock: str) -> tuple[torch.Tensor, float]:
    """Run once and return the output and elapsed microseconds (CPU time of all threads if ``cpu``)."""
    tick = time.process_time if clock == "cpu" else time.perf_counter
    _sync(device)
    start = tick()
    out = fn(data)
    _sync(device)
    return out, (tick() - start) * 1e6


def _input(shape: TriMulShape, seed: int, device: str) -> Any:
    kw = shape.model_dump()
    kw["seed"] = seed
    return generate_input(**kw, device=device)


def bench_shape(shape: TriMulShape, kernels: dict[str, Kernel], device: str, reps: int,
                clock: str) -> list[ShapeResult]:
    """Check then time every kernel on one shape."""
    data = _input(shape, shape.seed, device)
    expected = ref_kernel(clone_input(data))
    status: dict[str, tuple[bool, str]] = {}
    for name, fn in kernels.items():
        try:
            ok, msg = check_implementation(data, fn(clone_input(data)), expected=expected)
        except Exception as e:  # noqa: BLE001 - a crashing kernel is a result, not a bench failure
            ok, msg = False, f"{type(e).__name__}: {e}"
        status[name] = (ok, msg)
    timed = [name for name in kernels if status[name][0]]
    times: dict[str, list[float]] = {name: [] for name in kernels}
    for rep in range(reps):
        order = timed[rep % len(timed):] + timed[:rep % len(timed)] if timed else []
        for k, name in enumerate(order):
            fresh = _input(shape, shape.seed + 7919 * (rep + 1) + 104729 * (k + 1), device)
            _, us = _timed(kernels[name], fresh, device, clock)
            times[name].append(us)
    medians = {n: statistics.median(t) for n, t in times.items() if t}
    base = medians.get(BASELINE)
    return [
        ShapeResult(shape=shape, kernel=name, correct=status[name][0], message=status[name][1][:500],
                    times_us=times[name], median_us=medians.get(name),
                    speedup=(base / medians[name]) if base and name in medians else None)
        for name in kernels
    ]


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "cpu"


def _git_sha() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10, check=False)
    except OSError:
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def _versions() -> dict[str, str]:
    import numpy

    versions = {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}
    try:
        import triton

        versions["triton"] = triton.__version__
    except ImportError:
        versions["triton"] = "not installed"
    return versions


def run(device: Literal["cpu", "cuda"], reps: int, threads: int, clock: str,
        only: list[str] | None = None) -> BenchReport:
    """Benchmark every kernel for ``device`` on its shape set and summarise."""
    if device == "cpu":
        torch.set_num_threads(threads)
    shapes = CPU_BENCHMARK_SHAPES if device == "cpu" else GPU_BENCHMARK_SHAPES
    kernels: dict[str, Kernel] = {BASELINE: ref_kernel}
    for stem in KERNELS[device]:
        if only is None or stem in only:
            kernels[stem] = load_submission(stem)
    results: list[ShapeResult] = []
    for shape in shapes:
        rows = bench_shape(shape, kernels, device, reps, clock)
        results.extend(rows)
        _print_shape(shape, rows)
    geo_us: dict[str, float] = {}
    geo_speed: dict[str, float] = {}
    for name in kernels:
        rows = [r for r in results if r.kernel == name]
        if all(r.correct and r.median_us for r in rows):
            geo_us[name] = _geomean([r.median_us for r in rows if r.median_us])
            geo_speed[name] = _geomean([r.speedup for r in rows if r.speedup])
    return BenchReport(
        schema_version=SCHEMA_VERSION, created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        git_sha=_git_sha(), versions=_versions(), device=_device_name(device),
        config={"device": device, "threads": threads if device == "cpu" else None, "reps": reps,
                "clock": clock, "shapes": "cpu" if device == "cpu" else "gpu_mode_benchmarks"},
        results=results, geomean_us=geo_us, geomean_speedup=geo_speed,
        reward={k: 1500.0 / v for k, v in geo_us.items()},
    )


def _print_shape(shape: TriMulShape, rows: list[ShapeResult]) -> None:
    print(shape.label(), flush=True)
    for r in rows:
        if not r.correct:
            print(f"  {r.kernel:14s} INCORRECT: {r.message[:120]}")
            continue
        t = sorted(r.times_us)
        spread = f"[{t[0]:.0f}..{t[-1]:.0f}]" if t else ""
        speed = f"{r.speedup:6.2f}x" if r.speedup else "   n/a"
        print(f"  {r.kernel:14s} median {r.median_us or 0:12.1f} us {spread:24s} speedup {speed}")


def _print_summary(report: BenchReport) -> None:
    print("\nsummary (geomean over shapes)")
    for name, us in report.geomean_us.items():
        print(f"  {name:14s} geomean {us:12.1f} us  speedup {report.geomean_speedup[name]:6.2f}x  "
              f"reward {report.reward[name]:.5f}")


def main(argv: list[str] | None = None) -> int:
    """CLI entry; returns the exit code (0 ok, 1 some kernel incorrect)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--reps", type=int, default=5, help="timed calls per kernel and shape")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (CPU runs only)")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="wall: perf_counter; cpu: process CPU time of all threads (steadier on a busy host)")
    p.add_argument("--kernels", nargs="*", help="submission stems to include (default: all for the device)")
    p.add_argument("--json", action="store_true", help="write results/<date>-<device>.json")
    args = p.parse_args(argv)
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    report = run(device, args.reps, args.threads, args.clock, args.kernels)
    _print_summary(report)
    if args.json:
        RESULTS.mkdir(parents=True, exist_ok=True)
        tag = "".join(c if c.isalnum() else "-" for c in report.device.lower()).strip("-")[:40]
        path = RESULTS / f"{dt.date.today().isoformat()}-{device}-{tag}.json"
        path.write_text(report.model_dump_json(indent=2))
        print(f"wrote {path.relative_to(ROOT)}")
    return 0 if all(r.correct for r in report.results) else 1


if __name__ == "__main__":
    sys.exit(main())
