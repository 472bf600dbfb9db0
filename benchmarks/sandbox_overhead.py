"""Entry point: see benchmarks/sandbox_overhead/README.md."""

from __future__ import annotations

import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(str(Path(__file__).with_name("sandbox_overhead") / "bench.py"), run_name="__main__")
