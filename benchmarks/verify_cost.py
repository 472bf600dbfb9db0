"""Entry point: ``python benchmarks/verify_cost.py`` runs ``benchmarks/verify_cost/bench.py``."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    runpy.run_path(str(Path(__file__).with_name("verify_cost") / "bench.py"), run_name="__main__")
