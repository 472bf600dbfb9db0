"""Median ``python3 -c pass`` in a sandbox vs a bare subprocess, and parallel sandboxed runs/s."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sia_sandbox.audit import AuditLog  # noqa: E402
from sia_sandbox.sandbox import Limits, SandboxSpec, get_backend  # noqa: E402
from sia_sandbox.sandbox.runner import run_sandbox  # noqa: E402


def _median_ms(fn, n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    q = statistics.quantiles(times, n=4)
    return statistics.median(times), q[2] - q[0]


def bench_backend(name: str, n: int, parallel: int, audit: AuditLog) -> dict:
    backend = get_backend(name)
    spec = SandboxSpec(command=["python3", "-c", "pass"], limits=Limits(timeout_s=30, memory_mb=512, pids=64))
    python = sys.executable

    def bare() -> None:
        subprocess.run([python, "-c", "pass"], check=True)

    def boxed() -> None:
        r = run_sandbox(spec, backend=backend, audit=audit)
        assert r.reason == "ok", (r.reason, r.stderr[-500:])

    boxed()  # warm caches (root layout, seccomp program) before timing
    # Interleave baseline and sandbox rounds so drift on a noisy machine hits both equally.
    bare_ms, boxed_ms = [], []
    for _ in range(3):
        bare_ms.append(_median_ms(bare, n // 3)[0])
        boxed_ms.append(_median_ms(boxed, n // 3)[0])
    bare_med, boxed_med = statistics.median(bare_ms), statistics.median(boxed_ms)

    total = n * 2
    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(lambda _: boxed(), range(total)))
    par_rate = total / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(lambda _: bare(), range(total)))
    bare_rate = total / (time.perf_counter() - t0)
    return {
        "backend": name,
        "bare_median_ms": round(bare_med, 2),
        "sandbox_median_ms": round(boxed_med, 2),
        "ratio": round(boxed_med / bare_med, 2),
        "parallel": parallel,
        "sandbox_runs_per_s": round(par_rate, 1),
        "bare_runs_per_s": round(bare_rate, 1),
        "throughput_ratio": round(bare_rate / par_rate, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=60, help="runs per timing series")
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--backends", default="local,docker")
    ap.add_argument("--json", action="store_true", help="write results/<date>-cpu.json")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, AuditLog(Path(tmp) / "audit.jsonl", "bench") as audit:
        for name in args.backends.split(","):
            try:
                status = get_backend(name).status()
            except Exception as e:  # a backend that is not installed is reported, not fatal
                print(f"{name}: skipped ({e})")
                continue
            if not status.usable:
                print(f"{name}: skipped ({status.detail})")
                continue
            rows.append(bench_backend(name, args.n if name == "local" else max(9, args.n // 4), args.parallel, audit))
    print(f"{'backend':8} {'bare ms':>8} {'sandbox ms':>10} {'ratio':>6} {'runs/s (x' + str(args.parallel) + ')':>14} {'bare runs/s':>11}")
    for r in rows:
        print(f"{r['backend']:8} {r['bare_median_ms']:8.1f} {r['sandbox_median_ms']:10.1f} {r['ratio']:6.2f} "
              f"{r['sandbox_runs_per_s']:14.1f} {r['bare_runs_per_s']:11.1f}")
    if args.json:
        sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        out = ROOT / "benchmarks" / "sandbox_overhead" / "results" / f"{date.today()}-cpu.json"
        out.write_text(json.dumps({"git_sha": sha, "python": platform.python_version(), "machine": platform.machine(),
                                   "nproc": __import__("os").cpu_count(), "rows": rows}, indent=2) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
