"""Short real runs of the loop: bubblewrap sandboxes, the local gateway with the tiny model, real verifiers."""

from __future__ import annotations

import json

import pytest

from sia_sandbox.agents.offline import IMPROVEMENT_TOL
from sia_sandbox.audit import AuditAnchor, check_anchor, verify_chain
from sia_sandbox.loop import run_loop
from sia_sandbox.loop_config import LoopConfig
from sia_sandbox.rollouts import RolloutStore
from sia_sandbox.signing import load_or_create_key
from sia_sandbox.tasks import list_tasks
from tests.integration.loop_helpers import events, needs_local, run_env, summary  # noqa: F401

pytestmark = [pytest.mark.bwrap, needs_local]


def _better(a, b, direction):
    gap = (a - b) if direction == "maximize" else (b - a)
    return gap > IMPROVEMENT_TOL * max(abs(b), 1e-12)


def _stages(run_dir):
    names = [e.event for e in events(run_dir)]
    scaffold_runs = [e for e in events(run_dir) if e.event == "sandbox.requested"
                     and e.data["spec"]["labels"].get("role") == "scaffold"]
    return names, scaffold_runs


def test_trimul_run_with_a_weight_update(run_env):
    cfg = LoopConfig(task="trimul", max_gen=2, run_id="e2e-trimul", agent="offline_weights_first",
                     verify_profile="quick", model="tiny")
    result = run_loop(cfg, runs_dir=run_env)
    run_dir = run_env / "e2e-trimul"
    names, scaffold_runs = _stages(run_dir)

    assert result.status == "complete"
    assert len(scaffold_runs) == 2
    assert scaffold_runs[0].data["spec"]["network"] == "gateway"
    for stage in ("run.started", "candidate.proposed", "verify.started", "verdict.signed", "feedback.chosen",
                  "run.finished"):
        assert stage in names, stage
    assert verify_chain(run_dir / "audit.jsonl").ok
    anchor = AuditAnchor.model_validate_json((run_dir / "audit_anchor.json").read_text())
    assert check_anchor(run_dir / "audit.jsonl", anchor) is None

    s = summary(run_dir)
    assert [g["gen_index"] for g in s["generations"]] == [0, 1]
    assert s["generations"][0]["lever"] == "weights"
    verified = [g["score"] for g in s["generations"] if g["verdict"] == "verified"]
    assert s["best_score"] == (max(verified) if verified else None)
    store = RolloutStore(run_dir / "rollouts.db")
    assert len(store.run_model_calls("e2e-trimul")) == 2, "each scaffold asked the task model for CHUNK"
    if s["generations"][0]["verdict"] == "verified":
        # Training ran on gen 0's verified rollouts; gen 1 held the harness and was served by adapter 0001.
        assert "weights.updated" in names and s["adapters"] == [1]
        gen0, gen1 = (json.loads((run_dir / "generations" / f"{g:04d}" / f"g{g:04d}-c0" / "scaffold" / "harness.json")
                                 .read_text())["choices"] for g in (0, 1))
        assert gen0 == gen1
        assert store.run_model_calls("e2e-trimul")[1].adapter_version
        assert store.verified_rollouts("e2e-trimul", key=load_or_create_key())
    else:
        # Timing on an overloaded CPU can make the verifier call gen 0 suspicious: then nothing may train.
        skipped = [e for e in events(run_dir) if e.event == "weights.skipped"]
        assert skipped and "no verified rollouts" in skipped[0].data["reason"]
        assert s["adapters"] == []
    for g in (0, 1):
        cand = run_dir / "generations" / f"{g:04d}" / f"g{g:04d}-c0"
        for name in ("exec.log", "exec.json", "verdict.json", "output/submission.py"):
            assert (cand / name).exists(), (g, name)
    assert (run_dir / "generations" / "0000" / "g0000-c0" / "improvement.md").read_text().strip()
    assert json.loads((run_dir / "run.json").read_text())["task"] == "trimul"
    assert json.loads((run_dir / "config.json").read_text())["agent"] == "offline_weights_first"


@pytest.mark.parametrize("task", ["lawbench", "denoising"])
def test_offline_run_per_task(run_env, task):
    """Two generations of the offline loop on a task whose scaffold embeds its own candidate program."""
    if task not in list_tasks():
        pytest.skip(f"task {task} has no task.toml yet")
    cfg = LoopConfig(task=task, max_gen=2, run_id=f"e2e-{task}", agent="offline", verify_profile="quick",
                     plateau_k=1, model="tiny")
    result = run_loop(cfg, runs_dir=run_env)
    run_dir = run_env / f"e2e-{task}"
    names, scaffold_runs = _stages(run_dir)

    assert result.status == "complete" and len(scaffold_runs) == 2
    assert all(r.data["spec"]["network"] == "gateway" for r in scaffold_runs)
    for stage in ("run.started", "candidate.proposed", "sandbox.requested", "verify.started", "verdict.signed",
                  "feedback.chosen", "run.finished"):
        assert stage in names, stage
    assert verify_chain(run_dir / "audit.jsonl").ok

    s = summary(run_dir)
    assert [g["gen_index"] for g in s["generations"]] == [0, 1]
    assert all(g["lever"] in ("harness", "weights") for g in s["generations"])
    # Every rendered candidate is a valid submission. A perturbed suite draws a fresh secret dataset
    # per candidate, so an honest candidate may still be called suspicious by a drift rule (never
    # rejected): then the failed checks are drift checks only.
    for g in s["generations"]:
        verdict = json.loads((run_dir / "generations" / f"{g['gen_index']:04d}" / g["candidate_id"] / "verdict.json")
                             .read_text())
        failed = [c["name"] for c in verdict["checks"] if not c["passed"]]
        assert g["verdict"] in ("verified", "suspicious") and g["score"] is not None, (g, verdict["reasons"])
        assert all(name.startswith("drift.") for name in failed), failed
    verified = [g["score"] for g in s["generations"] if g["verdict"] == "verified"]
    assert s["best_score"] == ((max(verified) if s["direction"] == "maximize" else min(verified)) if verified else None)
    assert s["first_verified_score"] == (verified[0] if verified else None)

    harnesses = [json.loads((run_dir / "generations" / f"{g:04d}" / f"g{g:04d}-c0" / "scaffold" / "harness.json")
                            .read_text()) for g in (0, 1)]
    assert harnesses[0]["choices"] != harnesses[1]["choices"], "gen 1 edits the start harness"
    # The scaffold asked the task model (through the gateway) for its delegated dimension.
    delegated = harnesses[0]["delegate"]
    assert delegated
    store = RolloutStore(run_dir / "rollouts.db")
    assert len(store.run_model_calls(f"e2e-{task}")) == 2 * len(delegated)
    trace = json.loads((run_dir / "generations" / "0000" / "g0000-c0" / "output" / "scaffold_trace.json").read_text())
    assert {c["dimension"] for c in trace["choices"] if c["source"] in ("model", "fallback")} == set(delegated)
    # plateau_k=1: a generation without progress after a verified one pulls the weight lever.
    if len(verified) == 2 and not _better(verified[1], verified[0], s["direction"]):
        assert s["generations"][1]["lever"] == "weights"
