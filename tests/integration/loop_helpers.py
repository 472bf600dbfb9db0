"""Shared pieces of the loop integration tests (not a test module)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sia_sandbox.agents.offline import OfflineAgent
from sia_sandbox.agents.registry import AGENTS, register_agent
from sia_sandbox.agents.types import FeedbackAction, HistoryEntry, TraceView
from sia_sandbox.audit import iter_events


def local_backend_usable() -> bool:
    from sia_sandbox.sandbox.registry import get_backend

    try:
        return get_backend("local").status().usable
    except Exception:  # noqa: BLE001 - any failure to probe means: skip
        return False


needs_local = pytest.mark.skipif(not local_backend_usable(), reason="local (bubblewrap) backend not usable here")


if not AGENTS.is_registered("offline_weights_first"):

    @register_agent("offline_weights_first")
    class WeightsFirstAgent(OfflineAgent):
        """The offline agent, but the first feedback always pulls the weight lever (a registry plugin)."""

        def feedback(self, trace: TraceView, history: list[HistoryEntry]) -> FeedbackAction:
            action = super().feedback(trace, history)
            if trace.gen_index == 0:
                return action.model_copy(update={"lever": "weights", "reason": "test: weights first"})
            return action


@pytest.fixture
def run_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SIA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SIA_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    return tmp_path / "runs"


def events(run_dir: Path) -> list:
    return iter_events(run_dir / "audit.jsonl")


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())
