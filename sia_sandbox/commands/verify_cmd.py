"""``sia verify`` and ``sia tasks``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sia_sandbox.audit import AuditLog


def tasks_command(*, as_json: bool) -> int:
    from sia_sandbox.tasks import list_tasks, load_task

    rows = []
    for name in list_tasks():
        t = load_task(name)
        rows.append({"name": t.name, "description": t.spec.description, "interface": t.spec.interface.kind,
                     "metric": t.spec.metric, "direction": t.spec.direction, "gpu": t.spec.gpu,
                     "backend": t.spec.backend})
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    table = Table(title="sia tasks")
    for col in ("name", "interface", "metric", "direction", "description"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], r["interface"], str(r["metric"]), r["direction"], escape(r["description"]))
    Console().print(table)
    return 0


def verify_command(*, task: str, submission: Path, as_json: bool, device: str, backend: str | None,
                   out_dir: Path | None, audit_log: Path) -> int:
    """Verify one submission; exit 0 whenever verification ran, whatever the verdict."""
    from sia_sandbox.verify.api import verify_submission

    with AuditLog(audit_log, run_id=f"verify-{task}") as audit:
        verdict = verify_submission(task, submission, device=device, backend=backend, out_dir=out_dir, audit=audit)
    if as_json:
        payload = json.loads(verdict.model_dump_json())
        payload["audit_log"] = str(audit.path)
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return 0
    con = Console()
    colour = {"verified": "green", "suspicious": "yellow", "rejected": "red"}[verdict.verdict]
    con.print(f"[bold {colour}]{verdict.verdict}[/]  task={verdict.task} candidate={verdict.candidate_id}")
    con.print(f"score (nominal) = {verdict.score}   perturbed = {verdict.perturbed_score}   drift = {verdict.drift}")
    con.print(f"candidate time {verdict.candidate_s:.1f}s, verifier overhead {verdict.verifier_s:.1f}s")
    table = Table(title="checks")
    for col in ("check", "passed", "detail"):
        table.add_column(col, overflow="fold")
    for c in verdict.checks:
        table.add_row(c.name, "[green]yes[/]" if c.passed else f"[red]no ({c.severity})[/]", escape(c.detail[:300]))
    con.print(table)
    for r in verdict.reasons:
        con.print(f"[red]-[/] {escape(r)}")
    con.print(f"audit log: {audit.path}")
    return 0
