"""Entry point: ``python benchmarks/train_step.py [--json]`` (see benchmarks/train_step/README.md)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "train_step"))

from bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
