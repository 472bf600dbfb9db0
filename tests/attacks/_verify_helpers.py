"""Shared helpers of the verifier attack/integration tests (real bwrap sandboxes, quick profiles)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from sia_sandbox.audit import AuditLog
from sia_sandbox.verify.api import verify_submission
from sia_sandbox.verify.types import Verdict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHEATS = Path(__file__).resolve().parent / "cheats"


@functools.cache
def _local_usable() -> tuple[bool, str]:
    from sia_sandbox.sandbox import get_backend

    try:
        st = get_backend("local").status()
    except Exception as e:  # noqa: BLE001 - any failure to build the backend means "skip"
        return False, repr(e)
    return st.usable, st.detail


def require_local() -> None:
    """Skip unless the local bubblewrap backend works on this machine."""
    ok, detail = _local_usable()
    if not ok:
        pytest.skip(f"local sandbox backend unusable: {detail}")


def run_verify(task: str, submission: Path, tmp: Path, **kw: object) -> tuple[Verdict, Path]:
    """Verify with the quick profile and an audit log; returns (verdict, audit path)."""
    require_local()
    audit_path = tmp / "audit.jsonl"
    with AuditLog(audit_path, run_id="test") as audit:
        v = verify_submission(task, submission, out_dir=tmp / "verify", audit=audit,
                              profile=str(kw.pop("profile", "quick")), **kw)  # type: ignore[arg-type]
    return v, audit_path
