"""A run stopped by a budget, then by Ctrl-C mid-generation, resumes to completion without duplicates."""

from __future__ import annotations

import pytest

from sia_sandbox.audit import verify_chain
from sia_sandbox.errors import ConfigError
from sia_sandbox.loop import LoopEvent, run_loop
from sia_sandbox.loop_config import LoopBudgets, LoopConfig
from tests.integration.loop_helpers import events, needs_local, run_env, summary  # noqa: F401

pytestmark = [pytest.mark.bwrap, needs_local]


def _cfg(**kw):
    base = dict(task="trimul", max_gen=3, run_id="resume", agent="offline", verify_profile="quick", model="tiny")
    return LoopConfig(**{**base, **kw})


def test_budget_then_interrupt_then_resume(run_env):
    run_dir = run_env / "resume"
    # 1. One model call allowed: generation 0 spends it, the run stops cleanly before generation 1.
    first = run_loop(_cfg(budgets=LoopBudgets(max_model_calls=1)), runs_dir=run_env)
    assert first.status == "budget_exhausted"
    assert [g.gen_index for g in first.generations] == [0]

    with pytest.raises(ConfigError):
        run_loop(_cfg(), runs_dir=run_env)  # an existing run needs --resume

    # 2. Resume; Ctrl-C arrives while generation 1's scaffold has just finished (before its verdict).
    def interrupt(ev: LoopEvent) -> None:
        if ev.stage == "scaffold.finished" and ev.gen_index == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_loop(_cfg(), runs_dir=run_env, resume=True, on_event=interrupt)
    assert summary(run_dir)["status"] == "interrupted"
    assert not (run_dir / "generations" / "0001" / "g0001-c0").exists(), "the abandoned candidate is removed"
    assert verify_chain(run_dir / "audit.jsonl").ok

    # 3. Resume to the end (2 generations); generation 0 is not re-run.
    done = run_loop(_cfg(max_gen=2), runs_dir=run_env, resume=True)
    assert done.status == "complete"
    assert [g.gen_index for g in done.generations] == [0, 1]
    assert [g.candidate_id for g in done.generations] == ["g0000-c0", "g0001-c0"]
    evs = events(run_dir)
    proposed = [e.data["candidate_id"] for e in evs if e.event == "candidate.proposed"]
    assert proposed == ["g0000-c0", "g0001-c0", "g0001-c0"], "gen 0 once; gen 1 again only after the interrupt"
    signed = [e.data["candidate_id"] for e in evs if e.event == "verdict.signed"]
    assert signed == ["g0000-c0", "g0001-c0"], "one verdict per candidate, no duplicates"
    names = [e.event for e in evs]
    for name in ("run.budget_exhausted", "run.interrupted", "run.resumed"):
        assert name in names
    assert verify_chain(run_dir / "audit.jsonl").ok
