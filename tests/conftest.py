"""Suite-wide options: opt-in flags for slow tests, shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow") or os.environ.get("SIA_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: pass --run-slow (or SIA_RUN_SLOW=1) to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def pytest_configure(config: pytest.Config) -> None:
    # Tests read the shared LawBench copy instead of downloading it (CI runs offline).
    lawbench = SHARED_DATA / "lawbench"
    if "SIA_LAWBENCH_DIR" not in os.environ and lawbench.is_dir():
        os.environ["SIA_LAWBENCH_DIR"] = str(lawbench)
