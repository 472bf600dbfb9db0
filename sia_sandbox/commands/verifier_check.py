"""``sia verifier check``: print the cheat/honest table; exit 1 when the verifier can be gamed."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

STYLE = {"caught": "green", "defeated": "green", "verified": "green", "GAINED": "bold red",
         "REJECTED": "bold red", "suspicious": "yellow"}


def _f(v: float | None) -> str:
    return "—" if v is None else f"{v:.4g}"


def verifier_check_command(task: str, *, as_json: bool, backend: str | None, device: str, profile: str | None,
                           parallel: int, only: list[str], work_dir: Path | None) -> int:
    from sia_sandbox.verify.toolkit import verifier_check

    # CI logs are not terminals: give the table room instead of folding every cell to 8 characters.
    con = Console(stderr=as_json, width=None if sys.stdout.isatty() else 200)
    with con.status(f"running the cheat library through the {task} verifier ..."):
        report = verifier_check(task, backend=backend, device=device, profile=profile, parallel=parallel,
                                only=only or None, work_dir=work_dir)
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        return 0 if report.ok else 1
    table = Table(title=f"sia verifier check {task} (honest best {_f(report.honest_best)}, gain tolerance {report.gain_tolerance:.0%})")
    for col in ("candidate", "role", "verdict", "outcome", "nominal", "perturbed", "gap", "caught by / note"):
        table.add_column(col, overflow="fold")
    for r in report.rows:
        table.add_row(r.name, r.role, r.verdict, f"[{STYLE[r.outcome]}]{r.outcome}[/]", _f(r.nominal_score),
                      _f(r.perturbed_score), _f(r.gap), escape(r.caught_by))
    con.print(table)
    if report.ok:
        con.print(f"[green]{task}: every cheat caught or defeated, every honest reference verified[/]")
    else:
        con.print(f"[bold red]{task}: {len(report.failures)} problem(s): "
                  + ", ".join(f"{r.name} ({r.outcome})" for r in report.failures) + "[/]")
    return 0 if report.ok else 1
