"""``sia doctor``: which backends work here, and for each that does not, why and how to fix it."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sia_sandbox.errors import SiaError
from sia_sandbox.sandbox.base import BackendStatus
from sia_sandbox.sandbox.registry import available_backends, get_backend

def backend_statuses() -> list[BackendStatus]:
    rows = []
    for name in available_backends():
        try:
            rows.append(get_backend(name).status())
        except SiaError as e:  # e.g. the backend's SDK is not installed
            rows.append(BackendStatus(backend=name, usable=False, detail=e.message, fix=e.hint))
        except Exception as e:  # doctor must report, never crash, whatever a backend does
            rows.append(BackendStatus(backend=name, usable=False, detail=f"status check failed: {e!r}"))
    return rows


def doctor_command(*, as_json: bool) -> int:
    rows = backend_statuses()
    if as_json:
        sys.stdout.write(json.dumps([r.model_dump() for r in rows], indent=2) + "\n")
        return 0
    table = Table(title="sia doctor: sandbox backends")
    for col in ("backend", "usable", "detail", "fix"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r.backend, "[green]yes[/]" if r.usable else "[red]no[/]", escape(r.detail), escape(r.fix or ""))
    Console().print(table)
    return 0
