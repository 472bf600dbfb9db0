"""Thin entry point: ``python benchmarks/trimul.py [args]`` runs ``benchmarks/trimul/bench.py``."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.argv[0] = str(Path(__file__).with_name("trimul") / "bench.py")
    runpy.run_path(sys.argv[0], run_name="__main__")
