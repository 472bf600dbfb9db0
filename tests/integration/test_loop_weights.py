"""The weight lever on real parts: tiny model behind the real gateway, signed verdicts, LoRA training, reload."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sia_sandbox.agents.task_space import load_search_space
from sia_sandbox.agents.types import FeedbackAction
from sia_sandbox.audit import AuditLog, iter_events
from sia_sandbox.gateway.backends import get_model_backend
from sia_sandbox.gateway.server import Gateway
from sia_sandbox.layout import RunLayout
from sia_sandbox.loop_config import LoopConfig
from sia_sandbox.loop_steps import LoopContext, update_weights
from sia_sandbox.rollouts import RolloutStore
from sia_sandbox.signing import load_or_create_key, sign_json
from sia_sandbox.tasks import load_task

CLIENT = Path(__file__).resolve().parents[2] / "sia_sandbox" / "gateway" / "client"


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    monkeypatch.setenv("SIA_HOME", str(tmp_path / "home"))
    cfg = LoopConfig(task="trimul", max_gen=2, run_id="w", agent="offline", model="tiny", train_steps=2)
    layout = RunLayout.for_run(tmp_path / "runs", "w")
    layout.root.mkdir(parents=True)
    store = RolloutStore(layout.rollouts_db)
    store.record_run("w", "trimul", {})
    backend = get_model_backend("local", model="tiny", device="cpu", adapters_dir=layout.adapters)
    gateway = Gateway(store, backend, "w")
    gateway.start(Path(f"/tmp/sia-test-{id(tmp_path)}.sock"))
    task = load_task("trimul")
    c = LoopContext(config=cfg, task=task, space=load_search_space(task.root, task.project_root), layout=layout,
                    audit=AuditLog(layout.audit_log, "w"), store=store, gateway=gateway, model_backend=backend,
                    key=load_or_create_key(), agent=None)  # type: ignore[arg-type]
    yield c
    gateway.stop()


def _candidate(ctx, cid: str, verdict: str, score: float) -> None:
    """One scaffold session with two real model calls, then a signed verdict for its candidate."""
    sid = f"sb-{cid}"
    ctx.store.record_sandbox_run(sid, "w", 0, cid, "scaffold")
    sock = ctx.gateway.open_session(sid)
    sys.path.insert(0, str(CLIENT))
    import sia_client

    for _ in range(2):
        sia_client.chat([{"role": "user", "content": "Q: trimul kernel. pick CHUNK: A) 32 B) 0\nA:"}],
                        max_tokens=4, sock=str(sock))
    ctx.gateway.close_session(sid)
    payload = {"run_id": "w", "candidate_id": cid, "verdict": verdict, "score": score}
    ctx.store.record_verdict("w", cid, payload, sign_json(payload, ctx.key))


def test_weights_update_trains_on_verified_rollouts_only_and_is_served(ctx):
    _candidate(ctx, "g0000-c0", "verified", 1.0)
    _candidate(ctx, "g0001-c0", "verified", 3.0)
    _candidate(ctx, "g0002-c0", "suspicious", 100.0)
    out = update_weights(ctx, 2, FeedbackAction(lever="weights", reason="plateau", improvement_md=""))
    assert out["adapter_version"] == 1 and out["algorithm"]
    assert (ctx.layout.adapters / "0001" / "adapter_config.json").exists()
    ev = next(e for e in iter_events(ctx.layout.audit_log) if e.event == "weights.updated")
    assert ev.data["n_rollouts"] == 4, "the suspicious candidate's calls never train"
    # The gateway now serves the adapter: the next call is recorded with its version.
    _candidate(ctx, "g0003-c0", "verified", 2.0)
    assert ctx.store.run_model_calls("w")[-1].adapter_version


def test_no_verified_rollouts_skips_the_update_with_a_reason(ctx):
    _candidate(ctx, "g0000-c0", "rejected", 0.0)
    out = update_weights(ctx, 0, FeedbackAction(lever="weights", reason="x", improvement_md=""))
    assert "no verified rollouts" in out["weights_skipped"]
    assert not ctx.layout.adapters.exists() or not any(ctx.layout.adapters.iterdir())


def test_unknown_algorithm_from_the_agent_falls_back_to_the_rule(ctx):
    _candidate(ctx, "g0000-c0", "verified", 1.0)
    _candidate(ctx, "g0001-c0", "verified", 2.0)
    out = update_weights(ctx, 1, FeedbackAction(lever="weights", algorithm="magic", reason="x", improvement_md=""))
    assert out["adapter_version"] == 1
    assert any(e.event == "weights.override_refused" for e in iter_events(ctx.layout.audit_log))
