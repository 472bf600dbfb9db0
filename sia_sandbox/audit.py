"""Append-only, hash-chained JSONL audit log (one per run) and its verifier.

Each line is one JSON object (an ``AuditEvent``) carrying the sha256 of the previous line's bytes, so an
edited, deleted, inserted or reordered line breaks the chain at a line we can name. Lines are written
with a single ``write`` on an ``O_APPEND`` descriptor under an advisory ``flock``, so several threads or
processes may share one log, and a process killed mid-run leaves a log that verifies up to its last whole
line (a torn final line is reported as ``truncated_tail``, not as tampering).

What this does NOT protect against: an attacker with write access who rewrites the whole file and
recomputes every hash, or who deletes lines from the end (no later line vouches for them). Anchor the
head hash elsewhere to detect the latter: a run writes ``audit_anchor.json`` (event count and head hash)
when it closes, and ``sia audit RUN`` checks the log against it; keep a copy outside the run directory
for protection against someone who can rewrite both.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field

from sia_sandbox.errors import AuditIntegrityError, ConfigError

SCHEMA_VERSION = 1
GENESIS = "0" * 64
"""``prev_sha256`` of the first line of every log."""

_REDACT_KEYS = ("secret", "token", "password", "api_key", "apikey", "authorization")
_TAIL_READ = 1 << 16


class AuditEvent(BaseModel):
    """One line of ``audit.jsonl``. Do not reorder fields: the line bytes are hashed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    seq: int
    """0-based position in the log; consecutive, so a deleted or reordered line is visible."""
    ts: str
    """UTC ISO-8601 timestamp."""
    run_id: str
    sandbox_id: str | None = None
    event: str
    """``noun.past_verb`` event type, e.g. ``sandbox.finished``, ``verdict.recorded``."""
    data: dict[str, Any] = Field(default_factory=dict)
    prev_sha256: str
    """sha256 (hex) of the previous line's bytes without its newline; ``GENESIS`` for the first line."""


def line_sha256(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def redact(obj: Any) -> Any:
    """Replace values under secret-looking keys with a marker; the audit log is data, never a secret store."""
    if isinstance(obj, dict):
        return {
            k: ("<redacted>" if any(s in str(k).lower() for s in _REDACT_KEYS) else redact(v))
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return [redact(v) for v in obj]
    return obj


def _read_tail_state(fd: int) -> tuple[str, int, int]:
    """Return (sha of last whole line, next seq, size) by reading the end of the file."""
    size = os.fstat(fd).st_size
    if size == 0:
        return GENESIS, 0, 0
    start = max(0, size - _TAIL_READ)
    while True:
        chunk = os.pread(fd, size - start, start)
        body = chunk[: chunk.rfind(b"\n") + 1] if b"\n" in chunk else b""
        lines = body.splitlines()
        if lines and (start == 0 or len(lines) >= 2):
            last = lines[-1]
            try:
                seq = int(json.loads(last)["seq"]) + 1
            except (ValueError, KeyError, TypeError) as e:
                raise AuditIntegrityError(
                    f"cannot append: the last line of the audit log is not an audit event ({e})",
                    hint="run `sia audit` on it; start a new log for a new run",
                ) from e
            return line_sha256(last), seq, size
        if start == 0:
            return GENESIS, 0, size
        start = max(0, start - _TAIL_READ * 4)


class _ChainWriter:
    """The structlog "logger" at the end of the pipeline: chains and appends one line per event."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self._rfd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self._lock = threading.Lock()
        self._known: tuple[str, int, int] | None = None

    def write(self, fields: dict[str, Any]) -> AuditEvent:
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                size = os.fstat(self._rfd).st_size
                if self._known is None or self._known[2] != size:
                    # Another writer appended since our last line: re-read the head of the chain.
                    self._known = _read_tail_state(self._rfd)
                prev, seq, _ = self._known
                event = AuditEvent(seq=seq, prev_sha256=prev, **fields)
                line = json.dumps(event.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))
                raw = line.encode() + b"\n"
                os.write(self._fd, raw)
                self._known = (line_sha256(raw), seq + 1, size + len(raw))
                return event
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        for fd in (self._fd, self._rfd):
            try:
                os.close(fd)
            except OSError:
                pass


class AuditLog:
    """Writer of one run's audit log. Thread- and process-safe; every event is one flushed line.

    Args:
        path: the JSONL file; created (with parents) if missing, appended to otherwise.
        run_id: recorded on every event.
    """

    def __init__(self, path: Path | str, run_id: str) -> None:
        self.path = Path(path).absolute()
        self.run_id = run_id
        try:
            self._writer = _ChainWriter(self.path)
        except OSError as e:
            raise ConfigError(
                f"cannot open audit log {self.path}: {e.strerror}",
                hint="pass a writable --audit-log path",
            ) from e
        self._log = structlog.wrap_logger(
            None,
            processors=[self._to_event],
            wrapper_class=structlog.BoundLogger,
            cache_logger_on_first_use=False,
        )

    def _to_event(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        name = event_dict.pop("event")
        sandbox_id = event_dict.pop("sandbox_id", None)
        fields = {
            "ts": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            "run_id": self.run_id,
            "sandbox_id": sandbox_id,
            "event": name,
            "data": redact(json.loads(json.dumps(event_dict, default=str))),
        }
        self.last_event = self._writer.write(fields)
        raise structlog.DropEvent

    def emit(self, event: str, *, sandbox_id: str | None = None, **data: Any) -> AuditEvent:
        """Append one event. Values must be JSON-serialisable (others are stringified).

        Raises:
            AuditIntegrityError: the existing log's last line is not an audit event.
        """
        self._log.info(event, sandbox_id=sandbox_id, **data)
        return self.last_event

    def head_sha256(self) -> str:
        """sha256 of the last whole line (anchor it elsewhere to detect deletions at the end)."""
        return verify_chain(self.path).head_sha256

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> "AuditLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ChainReport(BaseModel):
    """Result of checking a log's hash chain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    ok: bool
    n_events: int
    """Whole, valid lines before the first bad one (all of them when ok)."""
    first_bad_line: int | None = None
    """1-based line number of the first line that breaks the chain."""
    error: str | None = None
    truncated_tail: bool = False
    """The file ends in a partial line (a writer was killed mid-write); not an integrity failure."""
    head_sha256: str = GENESIS
    run_ids: list[str] = Field(default_factory=list)
    event_counts: dict[str, int] = Field(default_factory=dict)


def iter_events(path: Path | str) -> list[AuditEvent]:
    """Parse every whole line of a log (no chain check)."""
    out = []
    with open(path, "rb") as f:
        for raw in f:
            if raw.endswith(b"\n"):
                out.append(AuditEvent.model_validate_json(raw))
    return out


def verify_chain(path: Path | str) -> ChainReport:
    """Check every line of an audit log; name the first line that breaks the chain.

    Raises:
        FileNotFoundError: the log does not exist.
    """
    p = Path(path)
    data = p.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    prev, n = GENESIS, 0
    counts: Counter[str] = Counter()
    run_ids: list[str] = []

    def bad(lineno: int, msg: str) -> ChainReport:
        return ChainReport(
            path=str(p), ok=False, n_events=n, first_bad_line=lineno, error=msg, head_sha256=prev,
            run_ids=run_ids, event_counts=dict(counts),
        )

    for i, raw in enumerate(lines, start=1):
        try:
            ev = AuditEvent.model_validate_json(raw)
        except ValueError as e:
            return bad(i, f"line {i} is not a valid audit event: {str(e).splitlines()[0]}")
        if ev.prev_sha256 != prev:
            return bad(i, f"line {i}: prev_sha256 does not match line {i - 1} (edited, deleted or reordered)")
        if ev.seq != n:
            return bad(i, f"line {i}: seq {ev.seq}, expected {n} (a line was deleted, inserted or moved)")
        prev = line_sha256(raw)
        n += 1
        counts[ev.event] += 1
        if ev.run_id not in run_ids:
            run_ids.append(ev.run_id)
    return ChainReport(
        path=str(p), ok=True, n_events=n, truncated_tail=bool(tail), head_sha256=prev,
        run_ids=run_ids, event_counts=dict(counts),
    )


class AuditAnchor(BaseModel):
    """The head of a log at a moment worth vouching for (written when a run closes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_events: int
    head_sha256: str


def anchor_of(path: Path | str) -> AuditAnchor:
    """The anchor of a log as it is now (its chain must verify).

    Raises:
        AuditIntegrityError: the chain is broken, so there is no head to vouch for.
    """
    report = verify_chain(path)
    if not report.ok:
        raise AuditIntegrityError(f"cannot anchor {path}: {report.error}")
    return AuditAnchor(n_events=report.n_events, head_sha256=report.head_sha256)


def check_anchor(path: Path | str, anchor: AuditAnchor) -> str | None:
    """Why the log no longer reaches ``anchor`` (lines deleted or rewritten at the end), or None."""
    lines = [ln for ln in Path(path).read_bytes().split(b"\n")[:-1]]
    if len(lines) < anchor.n_events:
        return (f"the log has {len(lines)} whole lines but was anchored at {anchor.n_events}: "
                "lines were deleted from the end")
    if anchor.n_events and line_sha256(lines[anchor.n_events - 1]) != anchor.head_sha256:
        return f"line {anchor.n_events} no longer matches the anchored head hash"
    return None
