"""The audit log's hash chain: appends verify, and every kind of tampering names the first bad line."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sia_sandbox.audit import GENESIS, AuditLog, iter_events, verify_chain
from sia_sandbox.errors import AuditIntegrityError


def _write(path: Path, n: int = 5) -> list[bytes]:
    with AuditLog(path, "run-1") as log:
        for i in range(n):
            log.emit("thing.happened", sandbox_id=f"sb-{i}", index=i)
    return path.read_bytes().splitlines(keepends=True)


def test_chain_verifies_and_records_fields(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    _write(p)
    report = verify_chain(p)
    assert report.ok and report.n_events == 5 and report.first_bad_line is None
    events = iter_events(p)
    assert events[0].prev_sha256 == GENESIS
    assert [e.seq for e in events] == list(range(5))
    assert events[3].sandbox_id == "sb-3" and events[3].data == {"index": 3}
    assert report.event_counts == {"thing.happened": 5}


def test_reopen_continues_chain(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    _write(p, 3)
    _write(p, 2)
    assert verify_chain(p).ok and verify_chain(p).n_events == 5


def test_edited_line_is_named(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    lines = _write(p)
    obj = json.loads(lines[2])
    obj["data"]["index"] = 99
    lines[2] = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
    p.write_bytes(b"".join(lines))
    report = verify_chain(p)
    # The edit itself still parses; the NEXT line's prev hash no longer matches it.
    assert not report.ok and report.first_bad_line == 4
    assert "line 4" in (report.error or "")


def test_deleted_line_is_named(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    lines = _write(p)
    del lines[1]
    p.write_bytes(b"".join(lines))
    report = verify_chain(p)
    assert not report.ok and report.first_bad_line == 2


def test_reordered_lines_are_named(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    lines = _write(p)
    lines[1], lines[3] = lines[3], lines[1]
    p.write_bytes(b"".join(lines))
    report = verify_chain(p)
    assert not report.ok and report.first_bad_line == 2


def test_garbage_line_is_named(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    lines = _write(p)
    lines.insert(2, b"not json\n")
    p.write_bytes(b"".join(lines))
    report = verify_chain(p)
    assert not report.ok and report.first_bad_line == 3


def test_rehashed_forgery_still_breaks_seq(tmp_path: Path) -> None:
    """Deleting a line and re-linking the next one's prev hash still leaves a hole in seq."""
    from sia_sandbox.audit import line_sha256

    p = tmp_path / "audit.jsonl"
    lines = _write(p)
    nxt = json.loads(lines[2])
    nxt["prev_sha256"] = line_sha256(lines[0])
    lines = [lines[0], (json.dumps(nxt, separators=(",", ":")) + "\n").encode(), *lines[3:]]
    p.write_bytes(b"".join(lines))
    report = verify_chain(p)
    assert not report.ok and report.first_bad_line == 2 and "seq" in (report.error or "")


def test_secrets_are_redacted(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    with AuditLog(p, "r") as log:
        log.emit("x.done", api_key="sk-canary-123", nested={"Authorization": "Bearer canary"})
    assert b"canary" not in p.read_bytes()


def test_append_refuses_log_whose_last_line_is_not_an_event(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    p.write_text("hello\n")
    with AuditLog(p, "r") as log, pytest.raises(AuditIntegrityError):
        log.emit("x.done")


def _hammer(path: str, worker: int, n: int) -> None:
    with AuditLog(path, "run-mp") as log:
        for i in range(n):
            log.emit("mp.wrote", worker=worker, i=i)


def test_concurrent_processes_keep_one_chain(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    procs = [mp.get_context("fork").Process(target=_hammer, args=(str(p), w, 50)) for w in range(4)]
    for pr in procs:
        pr.start()
    for pr in procs:
        pr.join()
    report = verify_chain(p)
    assert report.ok and report.n_events == 200


def test_killed_writer_leaves_verifiable_prefix(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    code = (
        "import sys\nfrom sia_sandbox.audit import AuditLog\n"
        f"log = AuditLog({str(p)!r}, 'run-k')\n"
        "i = 0\n"
        "while True:\n"
        "    log.emit('loop.tick', i=i, pad='x' * 2000); i += 1\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 20
    while (not p.exists() or p.stat().st_size < 200_000) and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with open(p, "ab") as f:  # simulate a torn final write as well
        f.write(b'{"schema_version":1,"seq":')
    report = verify_chain(p)
    assert report.ok and report.n_events > 10 and report.truncated_tail


def test_anchor_detects_lines_deleted_from_the_end(tmp_path: Path) -> None:
    """The chain alone cannot see a deleted tail; the anchor written when a run closes can."""
    from sia_sandbox.audit import anchor_of, check_anchor

    p = tmp_path / "audit.jsonl"
    lines = _write(p, 5)
    anchor = anchor_of(p)
    assert check_anchor(p, anchor) is None
    p.write_bytes(b"".join(lines[:-1]))
    assert verify_chain(p).ok  # the chain still verifies ...
    assert "deleted from the end" in (check_anchor(p, anchor) or "")  # ... the anchor does not
    with AuditLog(p, "run-1") as log:  # a different line appended in its place
        log.emit("forged.event")
    assert "no longer matches" in (check_anchor(p, anchor) or "")


def test_sia_audit_fails_on_a_truncated_run_log(tmp_path: Path) -> None:
    from sia_sandbox.audit import anchor_of
    from sia_sandbox.commands.audit_view import audit_command

    run = tmp_path / "run"
    run.mkdir()
    lines = _write(run / "audit.jsonl", 4)
    (run / "audit_anchor.json").write_text(anchor_of(run / "audit.jsonl").model_dump_json())
    assert audit_command(run, as_json=True) == 0
    (run / "audit.jsonl").write_bytes(b"".join(lines[:2]))
    assert audit_command(run, as_json=True) == 1
