"""Docker rows for benchmarks/sandbox_overhead: median ``python3 -c pass`` in the docker backend.

``docker_rows(n)`` measures, interleaved in the same run so machine drift hits all equally:
a bare host subprocess (the baseline), the docker backend's full ``run`` (create, attach, start, wait,
remove, with every hardening flag), and a plain ``docker run --rm --network none`` of the same image
(the engine's own floor, i.e. what the backend could at best approach).

Run alone: ``.venv/bin/python benchmarks/sandbox_overhead_docker.py -n 15``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sia_sandbox.sandbox import Limits, SandboxSpec  # noqa: E402
from sia_sandbox.sandbox import images  # noqa: E402
from sia_sandbox.sandbox.docker import DockerBackend  # noqa: E402


def _times_ms(fn: Callable[[], None], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def _row(name: str, ms: list[float], bare_med: float) -> dict[str, object]:
    q = statistics.quantiles(ms, n=4) if len(ms) >= 2 else [ms[0]] * 3
    med = statistics.median(ms)
    return {"backend": name, "n": len(ms), "bare_median_ms": round(bare_med, 2), "sandbox_median_ms": round(med, 2),
            "iqr_ms": round(q[2] - q[0], 2), "ratio": round(med / bare_med, 2)}


def docker_rows(n: int) -> list[dict[str, object]]:
    """Rows ``{backend, n, bare_median_ms, sandbox_median_ms, iqr_ms, ratio}`` for docker; [] if unusable.

    Args:
        n: runs per series (split into 3 interleaved rounds).
    """
    be = DockerBackend()
    if not be.status().usable:
        return []
    spec = SandboxSpec(command=["python3", "-c", "pass"], limits=Limits(timeout_s=60, memory_mb=512, pids=64))
    ref, _ = images.resolve_image(None, be.client())
    py = sys.executable

    def bare() -> None:
        subprocess.run([py, "-c", "pass"], check=True)

    def backend_run() -> None:
        r = be.run(spec)
        assert r.reason == "ok", (r.reason, r.stderr[-300:])

    def cli_run() -> None:
        subprocess.run(["docker", "run", "--rm", "--network", "none", ref, "python3", "-c", "pass"], check=True,
                       stdout=subprocess.DEVNULL)

    backend_run()  # warm the engine's image and layer caches
    series: dict[str, list[float]] = {"bare": [], "docker": [], "docker_cli": []}
    per_round = max(1, n // 3)
    for _ in range(3):
        series["bare"] += _times_ms(bare, per_round)
        series["docker"] += _times_ms(backend_run, per_round)
        series["docker_cli"] += _times_ms(cli_run, per_round)
    bare_med = statistics.median(series["bare"])
    return [_row("docker", series["docker"], bare_med), _row("docker_cli", series["docker_cli"], bare_med)]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=15)
    print(json.dumps(docker_rows(ap.parse_args().n), indent=2))
