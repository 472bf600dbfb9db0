"""Rollout store: recording, usage, and the verified-only gate that the weight updater relies on."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from sia_sandbox.errors import ConfigError
from sia_sandbox.rollouts import ModelCall, RolloutStore, Usage
from sia_sandbox.signing import canonical_json, sign_json

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
RUN = "run-1"


def _call(sandbox_run_id: str | None, prompt: str = "p", completion: str = "c", run_id: str = RUN) -> ModelCall:
    return ModelCall(
        call_id=uuid.uuid4().hex, run_id=run_id, sandbox_run_id=sandbox_run_id, model="tiny",
        adapter_version="0001", messages=[{"role": "user", "content": prompt}], prompt=prompt,
        completion=completion, prompt_token_ids=[1, 2], completion_token_ids=[3, 4, 5],
        token_logprobs=[-0.1, -0.2, -0.3], prompt_tokens=2, completion_tokens=3, latency_s=0.01,
        created_at=time.time(),
    )


def _verdict(label: str, score: float, candidate_id: str) -> dict[str, Any]:
    return {"verdict": label, "score": score, "candidate_id": candidate_id, "run_id": RUN,
            "reasons": ["ok"], "verifier": "test@1"}


@pytest.fixture
def store(tmp_path: Path) -> RolloutStore:
    s = RolloutStore(tmp_path / "rollouts.db")
    s.record_run(RUN, "lawbench", {"seed": 1})
    yield s
    s.close()


def _candidate(store: RolloutStore, cand: str, label: str, score: float, n_calls: int = 2,
               key: bytes = KEY, gen: int = 0) -> list[ModelCall]:
    sbx = f"sbx-{cand}"
    store.record_sandbox_run(sbx, RUN, gen, cand, "scaffold")
    calls = [_call(sbx, prompt=f"prompt-{i}", completion=f"{cand}-{i}") for i in range(n_calls)]
    for c in calls:
        store.record_model_call(c)
    v = _verdict(label, score, cand)
    store.record_verdict(RUN, cand, v, sign_json(v, key))
    return calls


def _tamper(db: Path, cand: str, **cols: Any) -> None:
    con = sqlite3.connect(db)
    sets = ", ".join(f"{k}=?" for k in cols)
    con.execute(f"UPDATE verdicts SET {sets} WHERE candidate_id=?", (*cols.values(), cand))
    con.commit()
    con.close()


def test_record_and_read_calls(store: RolloutStore) -> None:
    store.record_sandbox_run("s1", RUN, 0, "c1", "scaffold")
    a, b = _call("s1"), _call("s1")
    store.record_model_call(a)
    store.record_model_call(b)
    store.record_model_call(_call(None))
    assert [c.call_id for c in store.model_calls("s1")] == [a.call_id, b.call_id]
    assert store.model_calls("s1")[0] == a
    assert len(store.model_calls(None)) == 1
    assert store.usage(RUN) == Usage(calls=3, prompt_tokens=6, completion_tokens=9)
    assert store.usage("other") == Usage()
    with pytest.raises(sqlite3.IntegrityError):
        store.record_model_call(a)


def test_sandbox_run_upsert_and_conflict(store: RolloutStore) -> None:
    store.record_sandbox_run("s1", RUN, 0, "c1", "scaffold")
    store.record_sandbox_run("s1", RUN, 0, "c1", "scaffold", result={"exit_code": 0})
    assert store.sandbox_run("s1") == {"run_id": RUN, "gen_index": 0, "candidate_id": "c1", "role": "scaffold"}
    with pytest.raises(ConfigError, match="already recorded"):
        store.record_sandbox_run("s1", RUN, 0, "c2", "scaffold")
    with pytest.raises(ValueError, match="role"):
        store.record_sandbox_run("s2", RUN, 0, "c1", "trainer")  # type: ignore[arg-type]


def test_record_verdict_validates_shape(store: RolloutStore) -> None:
    for bad in ({"score": 1.0}, {"verdict": "great", "score": 1.0}, {"verdict": "verified"},
                {"verdict": "verified", "score": "high"}, {"verdict": "verified", "score": float("inf")}):
        with pytest.raises(ValueError):
            store.record_verdict(RUN, "c1", bad, "sig")


def test_verified_rollouts_returned_with_reward_and_group(store: RolloutStore) -> None:
    calls = _candidate(store, "good", "verified", 0.75)
    rollouts = store.verified_rollouts(RUN, key=KEY)
    assert [r.rollout_id for r in rollouts] == [c.call_id for c in calls]
    r = rollouts[0]
    assert r.reward == 0.75 and r.verdict == "verified" and r.candidate_id == "good" and r.gen_index == 0
    assert r.group_id == hashlib.sha256(b"prompt-0").hexdigest()
    assert r.completion_token_ids == [3, 4, 5] and r.token_logprobs == [-0.1, -0.2, -0.3]
    assert r.verdict_sha256 == hashlib.sha256(canonical_json(_verdict("verified", 0.75, "good"))).hexdigest()
    assert store.refused_rollouts(RUN, KEY) == []


def test_same_prompt_same_group(store: RolloutStore) -> None:
    _candidate(store, "a", "verified", 1.0, n_calls=1)
    _candidate(store, "b", "verified", 0.0, n_calls=1)
    groups = {r.candidate_id: r.group_id for r in store.verified_rollouts(RUN, key=KEY)}
    assert groups["a"] == groups["b"]


def test_rejected_and_suspicious_never_returned(store: RolloutStore) -> None:
    _candidate(store, "rej", "rejected", 0.9)
    _candidate(store, "sus", "suspicious", 0.9)
    assert store.verified_rollouts(RUN, key=KEY) == []
    reasons = {r.candidate_id: r.reason for r in store.refused_rollouts(RUN, KEY)}
    assert "'rejected'" in reasons["rej"] and "'suspicious'" in reasons["sus"]


def _forge_edited_json(db: Path) -> None:
    # Raise the score in the stored JSON, leave hash and signature.
    _tamper(db, "x", verdict_json=canonical_json(_verdict("verified", 99.0, "x")).decode())


def _forge_plain_sha(db: Path) -> None:
    # Edit the verdict field and recompute the sha256 (no key needed for that): the HMAC must catch it.
    text = canonical_json(_verdict("verified", 0.9, "x")).decode()
    _tamper(db, "x", verdict_json=text, sha256=hashlib.sha256(text.encode()).hexdigest())


def _forge_other_key(db: Path) -> None:
    v = _verdict("verified", 0.9, "x")
    text = canonical_json(v).decode()
    _tamper(db, "x", verdict_json=text, sha256=hashlib.sha256(text.encode()).hexdigest(),
            signature=sign_json(v, OTHER_KEY))


def _forge_sha_as_signature(db: Path) -> None:
    v = _verdict("verified", 0.9, "x")
    text = canonical_json(v).decode()
    digest = hashlib.sha256(text.encode()).hexdigest()
    _tamper(db, "x", verdict_json=text, sha256=digest, signature=digest)


def _forge_noncanonical(db: Path) -> None:
    text = json.dumps(_verdict("rejected", 0.9, "x"), indent=1)
    _tamper(db, "x", verdict_json=text, sha256=hashlib.sha256(text.encode()).hexdigest())


@pytest.mark.parametrize("forge,reason", [
    (_forge_edited_json, "sha256 does not match"),
    (_forge_plain_sha, "signature does not verify"),
    (_forge_other_key, "signature does not verify"),
    (_forge_sha_as_signature, "signature does not verify"),
    (_forge_noncanonical, "not canonical"),
])
def test_forged_verdict_rows_are_refused(store: RolloutStore, forge: Any, reason: str) -> None:
    _candidate(store, "x", "rejected", 0.1)
    forge(store.path)
    with capture_logs() as logs:
        assert store.verified_rollouts(RUN, key=KEY) == []
    refused = [e for e in logs if e["event"] == "rollout.refused"]
    assert len(refused) == 2 and all(reason in e["reason"] for e in refused)
    assert all(e["log_level"] == "warning" and e["candidate_id"] == "x" for e in refused)


def test_verdict_signed_with_other_key_is_refused(store: RolloutStore) -> None:
    _candidate(store, "x", "verified", 1.0, key=OTHER_KEY)
    assert store.verified_rollouts(RUN, key=KEY) == []
    assert len(store.verified_rollouts(RUN, key=OTHER_KEY)) == 2  # the same rows pass with their own key


def test_verdict_moved_to_another_candidate_is_refused(store: RolloutStore) -> None:
    _candidate(store, "good", "verified", 1.0, n_calls=1)
    _candidate(store, "bad", "rejected", 0.0, n_calls=1)
    con = sqlite3.connect(store.path)
    row = con.execute("SELECT verdict_json, sha256, signature FROM verdicts WHERE candidate_id='good'").fetchone()
    con.execute("INSERT INTO verdicts (run_id, candidate_id, verdict_json, sha256, signature, created_at)"
                " VALUES (?, 'bad', ?, ?, ?, ?)", (RUN, *row, time.time()))
    con.commit()
    con.close()
    assert [r.candidate_id for r in store.verified_rollouts(RUN, key=KEY)] == ["good"]
    (bad,) = store.refused_rollouts(RUN, KEY)
    assert "candidate_id='good'" in bad.reason


def test_latest_verdict_counts(store: RolloutStore) -> None:
    _candidate(store, "c", "verified", 1.0)
    v = _verdict("rejected", 0.0, "c")
    store.record_verdict(RUN, "c", v, sign_json(v, KEY))
    assert store.verified_rollouts(RUN, key=KEY) == []


def test_only_scaffold_calls_of_the_run(store: RolloutStore) -> None:
    _candidate(store, "c", "verified", 1.0, n_calls=1)
    store.record_sandbox_run("verify-1", RUN, 0, "c", "verify")
    store.record_model_call(_call("verify-1"))
    store.record_model_call(_call(None))  # platform's own socket
    store.record_run("run-2", "lawbench", {})
    store.record_sandbox_run("other", "run-2", 0, "c", "scaffold")
    store.record_model_call(_call("other", run_id="run-2"))
    assert len(store.verified_rollouts(RUN, key=KEY)) == 1


def test_no_verdict_is_refused(store: RolloutStore) -> None:
    store.record_sandbox_run("s", RUN, 0, "nov", "scaffold")
    store.record_model_call(_call("s"))
    assert store.verified_rollouts(RUN, key=KEY) == []
    assert store.refused_rollouts(RUN, KEY)[0].reason == "no verdict recorded for the candidate"


def test_reopen_resumes(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with RolloutStore(db) as s:
        s.record_run(RUN, "t", {})
        _candidate(s, "c", "verified", 1.0)
    with RolloutStore(db) as s:
        assert s.usage(RUN).calls == 2
        assert len(s.verified_rollouts(RUN, key=KEY)) == 2
        s.record_run(RUN, "t", {})  # idempotent


def test_closed_store_raises(tmp_path: Path) -> None:
    s = RolloutStore(tmp_path / "r.db")
    s.close()
    s.close()
    with pytest.raises(ConfigError, match="closed"):
        s.usage(RUN)


def test_not_a_database(tmp_path: Path) -> None:
    p = tmp_path / "junk.db"
    p.write_bytes(b"x" * 4096)
    with pytest.raises(ConfigError, match="cannot open rollouts database"):
        RolloutStore(p)


def test_threads_write_concurrently(store: RolloutStore) -> None:
    store.record_sandbox_run("s", RUN, 0, "c", "scaffold")

    def work() -> None:
        for _ in range(25):
            store.record_model_call(_call("s"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.usage(RUN).calls == 100


_WRITER = textwrap.dedent("""
    import sys, time, uuid
    from sia_sandbox.rollouts import ModelCall, RolloutStore
    s = RolloutStore(sys.argv[1])
    s.record_run("run-1", "t", {})
    s.record_sandbox_run("s", "run-1", 0, "c", "scaffold")
    i = 0
    while True:
        s.record_model_call(ModelCall(call_id=uuid.uuid4().hex, run_id="run-1", sandbox_run_id="s",
            model="m", messages=[{"role": "user", "content": "x" * 2000}], prompt="x" * 5000,
            completion="y" * 5000, prompt_tokens=1, completion_tokens=1, latency_s=0, created_at=time.time()))
        i += 1
        if i == 50:
            print("ready", flush=True)
""")


def test_survives_sigkill_mid_write(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # structlog's default renderer also writes to stdout
            if line.strip() == "ready":
                break
        else:
            pytest.fail("writer exited before it was ready")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
    with RolloutStore(db) as s:
        n = s.usage(RUN).calls
        assert n >= 50
        assert len(s.model_calls("s")) == n
        s.record_model_call(_call("s"))
        assert s.usage(RUN).calls == n + 1
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
