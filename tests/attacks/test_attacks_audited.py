"""Attacks leave a record: every limit hit and every refused spec is an audit event, and the log verifies.

The attack tests next to this file prove the attacks fail; these prove the platform *recorded* them,
through the same `run_sandbox` path the loop and the verifiers use.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sia_sandbox.audit import AuditLog, iter_events, verify_chain
from sia_sandbox.errors import SandboxSpecError
from sia_sandbox.sandbox.local import LocalBackend
from sia_sandbox.sandbox.runner import run_sandbox
from sia_sandbox.sandbox.types import Limits, Mount, SandboxSpec

pytestmark = pytest.mark.bwrap

ATTACKS = {
    "fork_bomb": (["python3", "-c", "import os\nwhile True:\n    os.fork()"], Limits(timeout_s=10, pids=32, memory_mb=256),
                  "pids_limit"),
    "memory_bomb": (["python3", "-c", "x = []\nwhile True:\n    x.append(bytearray(16 << 20))"],
                    Limits(timeout_s=10, memory_mb=128), "oom"),
    "busy_loop": (["python3", "-c", "while True: pass"], Limits(timeout_s=1.5), "timeout"),
    "stdout_flood": (["python3", "-c", "import sys\nb = b'x' * (1 << 20)\nwhile True:\n    sys.stdout.buffer.write(b)"],
                     Limits(timeout_s=20, output_limit_mb=8), "output_limit"),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_limit_hits_are_audited(local_backend: LocalBackend, tmp_path: Path, name: str) -> None:
    cmd, limits, reason = ATTACKS[name]
    log = tmp_path / "audit.jsonl"
    with AuditLog(log, "attack-run") as audit:
        result = run_sandbox(SandboxSpec(command=cmd, limits=limits), backend=local_backend, audit=audit)
    assert result.reason == reason
    events = iter_events(log)
    hits = [e for e in events if e.event == "sandbox.limit_hit"]
    assert len(hits) == 1 and hits[0].data["reason"] == reason and hits[0].sandbox_id == result.sandbox_id
    finished = [e for e in events if e.event == "sandbox.finished"]
    assert finished[0].data["result"]["reason"] == reason
    assert verify_chain(log).ok


def test_refused_specs_are_audited(local_backend: LocalBackend, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    attempts = [
        SandboxSpec(command=["true"], ro_mounts=[Mount(host=Path("/root"), sandbox="/loot")]),
        SandboxSpec(command=["true"], ro_mounts=[Mount(host=tmp_path, sandbox="/usr/lib")]),
        SandboxSpec(command=["true"], gpu=True),
    ]
    with AuditLog(log, "attack-run") as audit:
        for spec in attempts:
            with pytest.raises(SandboxSpecError):
                run_sandbox(spec, backend=local_backend, audit=audit)
    refused = [e for e in iter_events(log) if e.event == "sandbox.refused"]
    assert len(refused) == len(attempts)
    assert all(e.data["error"] for e in refused)
    assert verify_chain(log).ok
