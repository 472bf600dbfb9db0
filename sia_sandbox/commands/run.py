"""``sia run``: build a LoopConfig from the flags, run the loop with progress, print the summary table."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from sia_sandbox.config import get_settings
from sia_sandbox.layout import RunLayout
from sia_sandbox.loop_config import LoopBudgets, LoopConfig
from sia_sandbox.loop_records import RunSummary

REPORT_MODULE = "sia_sandbox.report"


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def summary_table(summary: RunSummary) -> Table:
    """One row per generation: lever, verdict, nominal and perturbed score."""
    table = Table(title=f"run {summary.run_id} ({summary.task}, {summary.status})")
    for col in ("gen", "candidate", "verdict", "score", "perturbed", "lever", "algorithm", "adapter"):
        table.add_column(col)
    for g in summary.generations:
        verdict = "agent_error" if g.agent_error else (g.verdict or "-")
        table.add_row(str(g.gen_index), g.candidate_id or "-", verdict, _fmt(g.score), _fmt(g.perturbed_score),
                      g.lever or "-", g.algorithm or "-", "-" if g.adapter_version is None else f"{g.adapter_version:04d}")
    return table


def _build_report(run_dir: Path, console: Console) -> Path | None:
    if importlib.util.find_spec(REPORT_MODULE) is None:
        console.print("report: sia_sandbox.report is not installed; skipped")
        return None
    module = importlib.import_module(REPORT_MODULE)
    build = getattr(module, "build_report", None)
    if build is None:
        console.print("report: sia_sandbox.report has no build_report; skipped")
        return None
    out = build(run_dir)
    return Path(out) if out else RunLayout(run_dir).report_html


def run_command(
    task: str,
    max_gen: int,
    run_id: str,
    agent: str = "auto",
    backend: str | None = None,
    device: str = "cpu",
    resume: bool = False,
    model: str = "tiny",
    max_wall_s: float | None = None,
    max_tokens: int | None = None,
    max_model_calls: int | None = None,
    plateau_k: int = 2,
    candidates_per_gen: int = 1,
    verify_profile: str = "auto",
    claude_model: str = "claude-sonnet-4-6",
    model_backend: str = "local",
    seed: int = 0,
    runs_dir: Path | None = None,
    console: Console | None = None,
) -> int:
    """Run the loop and print progress, the summary table, the run dir and the report path.

    Returns:
        0 when the run completed or stopped on a budget, 130 when interrupted.

    Raises:
        SiaError: bad configuration or an infrastructure failure (the CLI prints it with its hint).
    """
    from pydantic import ValidationError

    from sia_sandbox.errors import ConfigError
    from sia_sandbox.loop import LoopEvent, run_loop

    console = console or Console(stderr=False, soft_wrap=True)
    settings = get_settings()
    try:
        config = LoopConfig(
            task=task, max_gen=max_gen, run_id=run_id, agent=agent, backend=backend or settings.backend,  # type: ignore[arg-type]
            device=device, model=model, plateau_k=plateau_k, candidates_per_gen=candidates_per_gen,  # type: ignore[arg-type]
            verify_profile=verify_profile, claude_model=claude_model, model_backend=model_backend, seed=seed,
            budgets=LoopBudgets(max_wall_s=max_wall_s, max_tokens=max_tokens, max_model_calls=max_model_calls),
        ).resolved()
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'config'}: {err['msg']}" for err in e.errors())
        raise ConfigError(f"invalid run configuration: {problems}", hint="see `sia run --help`") from e
    runs_dir = Path(runs_dir or settings.runs_dir)
    layout = RunLayout.for_run(runs_dir, config.run_id)
    console.print(f"run {escape(config.run_id)}: task={config.task} agent={config.agent} backend={config.backend} "
                  f"model={config.model} max_gen={config.max_gen} -> {layout.root}")
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        TextColumn("{task.completed}/{task.total} gen"), TimeElapsedColumn(), console=console)
    code = 0
    with progress:
        bar = progress.add_task("starting", total=config.max_gen)

        def on_event(ev: LoopEvent) -> None:
            where = f"gen {ev.gen_index}" + (f" {ev.candidate_id}" if ev.candidate_id else "")
            progress.update(bar, description=f"{where}: {ev.stage} {ev.detail}".strip())
            if ev.stage in ("candidate.judged", "feedback.done", "agent.failed", "budget.exhausted"):
                progress.console.print(f"  {escape(where)}: {escape(ev.stage)} {escape(ev.detail)}")
            if ev.stage == "feedback.done":
                progress.update(bar, completed=ev.gen_index + 1)

        try:
            summary = run_loop(config, runs_dir=runs_dir, resume=resume, on_event=on_event)
        except KeyboardInterrupt:
            code = 130
            summary = RunSummary.model_validate_json(layout.summary_json.read_text(encoding="utf-8"))
    console.print(summary_table(summary))
    if summary.best_score is not None:
        console.print(f"best verified: {summary.best_candidate_id} score={_fmt(summary.best_score)} "
                      f"(perturbed {_fmt(summary.best_perturbed_score)}; first verified {_fmt(summary.first_verified_score)})")
    else:
        console.print("no verified candidate in this run")
    if code == 130:
        console.print(f"interrupted; continue with: sia run --task {config.task} --run-id {config.run_id} --resume")
    console.print(f"run dir: {layout.root}")
    report = _build_report(layout.root, console)
    if report is not None:
        console.print(f"report: {report}")
    return code
