"""The `sia sandbox exec` CLI contract, run as a real subprocess against the real local backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sia_sandbox.audit import verify_chain

SIA = [sys.executable, "-m", "sia_sandbox.cli"]


def _local_usable() -> bool:
    try:
        from sia_sandbox.sandbox import get_backend

        return get_backend("local").status().usable
    except Exception:
        return False


needs_local = pytest.mark.skipif(not _local_usable(), reason="local bubblewrap backend not usable here")


def sia(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SIA, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


@needs_local
@pytest.mark.bwrap
def test_json_contract(tmp_path: Path) -> None:
    out = tmp_path / "out"
    log = tmp_path / "audit.jsonl"
    p = sia("sandbox", "exec", "--rw", f"{out}:/out", "--env", "GREETING=hi", "--audit-log", str(log), "--json",
            "--", "python3", "-c",
            "import os,sys; open('/out/a.txt','w').write(os.environ['GREETING']); print('hello'); sys.exit(3)",
            cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    for key in ("exit_code", "reason", "wall_s", "stdout", "stderr", "stdout_truncated", "stderr_truncated",
                "outputs", "audit_log"):
        assert key in res
    assert res["exit_code"] == 3 and res["reason"] == "nonzero_exit"
    assert res["stdout"] == "hello\n"
    assert (out / "a.txt").read_text() == "hi"
    assert any(o["path"].endswith("a.txt") and o["size"] == 2 for o in res["outputs"])
    report = verify_chain(log)
    assert report.ok and report.event_counts.get("sandbox.finished") == 1


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--memory", "-5"], "--memory"),
        (["--timeout", "0"], "--timeout"),
        (["--backend", "nope"], "unknown sandbox backend"),
        (["--env", "NOEQUALS"], "KEY=VALUE"),
        (["--ro", "no-colon"], "HOST:SANDBOX"),
    ],
)
def test_bad_flags_one_line_error(tmp_path: Path, args: list[str], fragment: str) -> None:
    log = tmp_path / "audit.jsonl"
    p = sia("sandbox", "exec", *args, "--audit-log", str(log), "--", "true", cwd=tmp_path)
    assert p.returncode == 2
    assert fragment in p.stderr
    assert "Traceback" not in p.stderr
    assert verify_chain(log).ok


@needs_local
@pytest.mark.bwrap
@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--ro", "/definitely/missing:/data"], "/definitely/missing"),
        (["--ro", "{tmp}:/usr"], "/usr"),
        ([], "not found"),
    ],
)
def test_bad_specs_refused_and_logged(tmp_path: Path, args: list[str], fragment: str) -> None:
    log = tmp_path / "audit.jsonl"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    cmd = ["no-such-command-xyz"] if not args else ["true"]
    p = sia("sandbox", "exec", *args, "--audit-log", str(log), "--", *cmd, cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    assert fragment in p.stderr and "Traceback" not in p.stderr
    assert len([ln for ln in p.stderr.strip().splitlines() if ln.startswith("error:")]) == 1
    report = verify_chain(log)
    assert report.ok and report.event_counts.get("sandbox.refused") == 1


def test_audit_cli_names_first_bad_line(tmp_path: Path) -> None:
    from sia_sandbox.audit import AuditLog

    log = tmp_path / "audit.jsonl"
    with AuditLog(log, "r") as a:
        for i in range(4):
            a.emit("x.done", i=i)
    lines = log.read_bytes().splitlines(keepends=True)
    lines[1], lines[2] = lines[2], lines[1]
    log.write_bytes(b"".join(lines))
    p = sia("audit", str(log), "--json", cwd=tmp_path)
    assert p.returncode == 1
    data = json.loads(p.stdout)
    assert data["chain"]["ok"] is False and data["chain"]["first_bad_line"] == 2
    human = sia("audit", str(log), cwd=tmp_path)
    assert human.returncode == 1 and "line 2" in human.stdout


def test_doctor_reports_every_backend(tmp_path: Path) -> None:
    p = sia("doctor", "--json", cwd=tmp_path)
    assert p.returncode == 0
    names = {row["backend"] for row in json.loads(p.stdout)}
    assert {"local", "docker", "modal"} <= names
