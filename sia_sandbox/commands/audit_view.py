"""``sia audit``: check a log's chain and summarise it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sia_sandbox.audit import verify_chain
from sia_sandbox.errors import ConfigError
from sia_sandbox.layout import Names


def resolve_log(path: Path) -> Path:
    p = path / Names.AUDIT if path.is_dir() else path
    if not p.is_file():
        raise ConfigError(f"no audit log at {p}", hint="pass a run directory or an audit.jsonl file")
    return p


def audit_command(path: Path, *, as_json: bool) -> int:
    report = verify_chain(resolve_log(path))
    if as_json:
        sys.stdout.write(json.dumps(report.model_dump(), indent=2) + "\n")
        return 0 if report.ok else 1
    con = Console()
    status = "[green]chain verifies[/]" if report.ok else f"[red]CHAIN BROKEN at line {report.first_bad_line}[/]"
    con.print(f"{report.path}: {status} ({report.n_events} events)")
    if report.error:
        con.print(f"[red]{report.error}[/]")
    if report.truncated_tail:
        con.print("[yellow]the file ends in a partial line (writer killed mid-write); ignored[/]")
    table = Table(title="events")
    table.add_column("event")
    table.add_column("count", justify="right")
    for name, n in sorted(report.event_counts.items()):
        table.add_row(name, str(n))
    con.print(table)
    return 0 if report.ok else 1
