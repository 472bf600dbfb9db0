"""``sia audit``: check a log's chain, then show a timeline, every limit hit and every non-verified verdict.

Only the prefix of the log that the chain vouches for is shown. Values under secret-looking keys were
redacted when written, and environment values are stored hashed; this view also never prints spec
environments.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sia_sandbox.audit import AuditAnchor, AuditEvent, ChainReport, check_anchor, verify_chain
from sia_sandbox.errors import ConfigError
from sia_sandbox.layout import Names
from sia_sandbox.report.collect import iter_events_prefix


class VerdictEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    candidate_id: str
    verdict: str
    score: float | None = None
    reasons: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)


class AuditView(BaseModel):
    """What ``sia audit --json`` prints."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chain: ChainReport
    anchor_error: str | None = None
    """Set when the run's ``audit_anchor.json`` shows lines deleted or rewritten at the end."""
    timeline: list[dict[str, Any]]
    limit_hits: list[dict[str, Any]]
    flagged_verdicts: list[VerdictEntry]


def resolve_log(path: Path) -> Path:
    p = path / Names.AUDIT if path.is_dir() else path
    if not p.is_file():
        raise ConfigError(f"no audit log at {p}", hint="pass a run directory or an audit.jsonl file")
    return p


def summarize(ev: AuditEvent) -> str:
    """One line about an event, never including environment values or stream contents."""
    d = ev.data
    if ev.event == "sandbox.requested":
        spec = d.get("spec") or {}
        return f"{d.get('backend', '')}: {' '.join(map(str, spec.get('command', [])))[:100]}"
    if ev.event == "sandbox.finished":
        r = d.get("result") or {}
        return f"reason={r.get('reason')} exit={r.get('exit_code')} wall={r.get('wall_s', 0):.2f}s"
    if ev.event in ("sandbox.refused", "sandbox.limit_hit"):
        return str(d.get("error") or d.get("reason") or "")[:120]
    v = _verdict_of(ev)
    if v is not None:
        return f"{v.candidate_id}: {v.verdict} score={v.score}"
    parts = [f"{k}={json.dumps(val, default=str)[:40]}" for k, val in d.items() if k not in ("spec", "env")]
    return " ".join(parts)[:140]


def _verdict_of(ev: AuditEvent) -> VerdictEntry | None:
    if not ev.event.startswith("verdict."):
        return None
    d = ev.data
    v = d.get("verdict")
    body = v if isinstance(v, dict) else d
    status = body.get("verdict") if isinstance(v, dict) else v
    if not isinstance(status, str):
        return None
    score = body.get("score")
    return VerdictEntry(
        seq=ev.seq, candidate_id=str(body.get("candidate_id", d.get("candidate_id", "?"))), verdict=status,
        score=float(score) if isinstance(score, (int, float)) else None,
        reasons=[str(r) for r in body.get("reasons", [])][:20], evidence=[str(e) for e in body.get("evidence", [])][:20],
    )


def _anchor_error(log_path: Path) -> str | None:
    anchor_file = log_path.parent / Names.AUDIT_ANCHOR
    if not anchor_file.is_file():
        return None
    try:
        anchor = AuditAnchor.model_validate_json(anchor_file.read_text())
    except ValueError as e:
        return f"{anchor_file} is not a valid anchor: {str(e).splitlines()[0]}"
    return check_anchor(log_path, anchor)


def build_view(log_path: Path) -> AuditView:
    chain = verify_chain(log_path)
    anchor_error = _anchor_error(log_path)
    events = iter_events_prefix(log_path, chain.n_events)
    timeline = [
        {"seq": e.seq, "ts": e.ts, "event": e.event, "sandbox_id": e.sandbox_id, "summary": summarize(e)}
        for e in events
    ]
    hits = [
        {"seq": e.seq, "sandbox_id": e.sandbox_id, "reason": e.data.get("reason"), "detail": e.data.get("detail", "")}
        for e in events if e.event == "sandbox.limit_hit"
    ]
    flagged = [v for e in events if (v := _verdict_of(e)) is not None and v.verdict != "verified"]
    return AuditView(chain=chain, anchor_error=anchor_error, timeline=timeline, limit_hits=hits,
                     flagged_verdicts=flagged)


def audit_command(path: Path, *, as_json: bool, limit: int = 200) -> int:
    view = build_view(resolve_log(path))
    report = view.chain
    ok = report.ok and view.anchor_error is None
    if as_json:
        sys.stdout.write(view.model_dump_json(indent=2) + "\n")
        return 0 if ok else 1
    con = Console()
    status = "[green]chain verifies[/]" if report.ok else f"[bold red]CHAIN BROKEN at line {report.first_bad_line}[/]"
    con.print(f"{escape(report.path)}: {status} ({report.n_events} trusted events, head {report.head_sha256[:12]})")
    if report.error:
        con.print(f"[red]{escape(report.error)}[/]")
    if view.anchor_error:
        con.print(f"[bold red]ANCHOR MISMATCH: {escape(view.anchor_error)}[/]")
    if report.truncated_tail:
        con.print("[yellow]the file ends in a partial line (writer killed mid-write); ignored[/]")
    tl = Table(title=f"timeline (last {min(limit, len(view.timeline))} of {len(view.timeline)})")
    for col in ("seq", "time", "event", "sandbox", "summary"):
        tl.add_column(col, overflow="fold")
    for row in view.timeline[-limit:]:
        style = "red" if row["event"] in ("sandbox.limit_hit", "sandbox.refused") else None
        tl.add_row(str(row["seq"]), row["ts"][11:23], row["event"], row["sandbox_id"] or "",
                   escape(row["summary"]), style=style)
    con.print(tl)
    if view.limit_hits:
        lt = Table(title="limits hit")
        for col in ("seq", "sandbox", "reason", "detail"):
            lt.add_column(col, overflow="fold")
        for h in view.limit_hits:
            lt.add_row(str(h["seq"]), h["sandbox_id"] or "", str(h["reason"]), escape(str(h["detail"])[:200]))
        con.print(lt)
    if view.flagged_verdicts:
        vt = Table(title="rejected and suspicious verdicts")
        for col in ("seq", "candidate", "verdict", "reasons", "evidence"):
            vt.add_column(col, overflow="fold")
        for v in view.flagged_verdicts:
            vt.add_row(str(v.seq), v.candidate_id, v.verdict, escape("; ".join(v.reasons)[:400]),
                       escape("\n".join(v.evidence[:5])))
        con.print(vt)
    return 0 if ok else 1
