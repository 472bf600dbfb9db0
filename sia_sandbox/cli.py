"""The ``sia`` command. Parses arguments, builds config, calls one function per verb.

Exit codes: 0 success (for ``sandbox exec`` and ``verify``: whenever the sandbox/verification ran,
whatever the candidate did), 1 when the thing checked failed (a broken audit chain), 2 for usage,
config and spec errors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from sia_sandbox.errors import SiaError

app = typer.Typer(
    name="sia",
    help="Run self-improving agent loops safely: sandboxes, hardened verifiers, verified-only training.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
sandbox_app = typer.Typer(help="Run commands in an isolated sandbox.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
verifier_app = typer.Typer(help="Tools for verifier authors.", no_args_is_help=True)
app.add_typer(verifier_app, name="verifier")
train_app = typer.Typer(help="LoRA weight updates from verified rollouts.", invoke_without_command=True)
app.add_typer(train_app, name="train")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
_state: dict[str, bool] = {"debug": False}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors.")) -> None:
    _state["debug"] = debug
    from sia_sandbox.logging_setup import configure_logging

    configure_logging(debug=debug)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


@sandbox_app.command(
    "exec",
    context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
)
def sandbox_exec(
    cmd: list[str] = typer.Argument(..., metavar="-- CMD [ARG...]", help="Command to run inside the sandbox."),
    backend: Optional[str] = typer.Option(None, "--backend", help="local | docker | modal (default SIA_BACKEND or local)."),
    ro: list[str] = typer.Option([], "--ro", metavar="HOST:SANDBOX", help="Read-only mount (repeatable)."),
    rw: list[str] = typer.Option([], "--rw", metavar="HOST:SANDBOX", help="Writable output mount (repeatable)."),
    timeout: float = typer.Option(60.0, "--timeout", help="Wall-clock limit in seconds."),
    memory: int = typer.Option(2048, "--memory", help="Memory limit in MB."),
    pids: int = typer.Option(256, "--pids", help="Most processes/threads at once."),
    cpus: float = typer.Option(1.0, "--cpus", help="CPU bandwidth in cores."),
    output_limit: float = typer.Option(64.0, "--output-limit", help="MB allowed on output mounts and per stream."),
    env: list[str] = typer.Option([], "--env", metavar="KEY=VALUE", help="Environment variable (repeatable; nothing else leaks in)."),
    network: str = typer.Option("none", "--network", help="Network policy: none."),
    workdir: str = typer.Option("/tmp", "--workdir", help="Working directory inside the sandbox."),
    no_seccomp: bool = typer.Option(False, "--no-seccomp", help="Do not install the seccomp filter."),
    audit_log: Path = typer.Option(Path("runs/sandbox-exec/audit.jsonl"), "--audit-log", help="Audit log to append to."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Run CMD in a fresh sandbox and report how it ended."""
    from sia_sandbox.commands.sandbox_exec import exec_command

    code = exec_command(
        cmd=cmd, backend=backend, ro=ro, rw=rw, timeout=timeout, memory=memory, pids=pids, cpus=cpus,
        output_limit=output_limit, env=env, network=network, workdir=workdir, seccomp=not no_seccomp,
        audit_log=audit_log, as_json=as_json,
    )
    raise typer.Exit(code)


@app.command("audit")
def audit_cmd(
    path: Path = typer.Argument(..., help="A run directory or an audit.jsonl file."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Verify an audit log's hash chain and summarise it. Exit 1 when the chain is broken."""
    from sia_sandbox.commands.audit_view import audit_command

    raise typer.Exit(audit_command(path, as_json=as_json))


@app.command("doctor")
def doctor_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Say which sandbox backends work on this machine, and how to fix the others."""
    from sia_sandbox.commands.doctor import doctor_command

    raise typer.Exit(doctor_command(as_json=as_json))


@app.command("tasks")
def tasks_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the tasks (tasks/<name>/task.toml)."""
    from sia_sandbox.commands.verify_cmd import tasks_command

    raise typer.Exit(tasks_command(as_json=as_json))


@app.command("verify")
def verify_cmd(
    task: str = typer.Argument(..., help="Task name (see `sia tasks`)."),
    submission: Path = typer.Option(..., "--submission", help="The candidate's Python file."),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON."),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Sandbox backend (default: the task's)."),
    out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="Where evidence and verdict.json go."),
    audit_log: Path = typer.Option(Path("runs/verify/audit.jsonl"), "--audit-log", help="Audit log to append to."),
) -> None:
    """Verify a candidate in fresh sandboxes (nominal + perturbed suites). Exit 0 whenever it ran."""
    from sia_sandbox.commands.verify_cmd import verify_command

    raise typer.Exit(verify_command(task=task, submission=submission, as_json=as_json, device=device,
                                    backend=backend, out_dir=out_dir, audit_log=audit_log))


@verifier_app.command("check")
def verifier_check_cmd(
    task: str = typer.Argument(..., help="Task name (see `sia tasks`)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Sandbox backend (default: the task's)."),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Verifier profile (default quick when defined)."),
    parallel: int = typer.Option(2, "--parallel", help="Verifications at once."),
    only: list[str] = typer.Option([], "--only", help="Run only these cheats (repeatable)."),
    work_dir: Optional[Path] = typer.Option(None, "--work-dir", help="Keep candidates and evidence here."),
) -> None:
    """Run the cheat library and the honest references through TASK's verifier. Exit 1 if it can be gamed."""
    from sia_sandbox.commands.verifier_check import verifier_check_command

    raise typer.Exit(verifier_check_command(task, as_json=as_json, backend=backend, device=device, profile=profile,
                                            parallel=parallel, only=only, work_dir=work_dir))


@app.command("new-task")
def new_task_cmd(
    name: str = typer.Argument(..., help="Task name (lowercase, digits, '_')."),
    interface: str = typer.Option("function", "--interface", help="function | kernel | predict."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing task."),
    root: Optional[Path] = typer.Option(None, "--root", help="Project root (default: this checkout)."),
) -> None:
    """Create tasks/NAME/ and verifiers/NAME.py from a hardened template (plus a test file)."""
    from sia_sandbox.layout import project_root
    from sia_sandbox.verify.scaffold_task import new_task

    base = root or project_root()
    for p in new_task(name, interface, root=base, force=force):  # type: ignore[arg-type]
        out.print(f"created {p.relative_to(base)}")
    out.print(f"next: sia verify {name} --submission tasks/{name}/baselines/reference.py && sia verifier check {name}")


@app.command("run")
def run_cmd(
    task: str = typer.Option(..., "--task", help="Task name (see `sia tasks`)."),
    max_gen: int = typer.Option(6, "--max-gen", help="Most generations."),
    run_id: Optional[str] = typer.Option(None, "--run-id", help="Run directory name under SIA_RUNS_DIR (default: task + time)."),
    agent: str = typer.Option("auto", "--agent", help="offline | claude | auto (claude when ANTHROPIC_API_KEY is set)."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Sandbox backend (default SIA_BACKEND or local)."),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run with the same --run-id."),
    model: str = typer.Option("tiny", "--model", help="Task model served by the gateway: tiny | gemma3-270m | a path."),
    model_backend: str = typer.Option("local", "--model-backend", help="Gateway backend: local | openai-compatible | anthropic."),
    max_wall_s: Optional[float] = typer.Option(None, "--max-wall-s", help="Wall-clock budget of the run."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Task-model token budget of the run."),
    max_model_calls: Optional[int] = typer.Option(None, "--max-model-calls", help="Task-model call budget of the run."),
    plateau_k: int = typer.Option(2, "--plateau-k", help="Generations without improvement before the weight lever."),
    verify_profile: str = typer.Option("auto", "--verify-profile", help="Verifier profile: auto (quick on CPU, full on CUDA) | quick | full."),
    claude_model: str = typer.Option("claude-sonnet-4-6", "--claude-model", help="Claude model for the agents."),
    seed: int = typer.Option(0, "--seed", help="Seed of the offline search policy."),
) -> None:
    """Run the self-improvement loop: scaffold -> sandbox -> verifier -> feedback (harness or weights)."""
    import time as _time

    from sia_sandbox.commands.run import run_command

    rid = run_id or f"{task}-{_time.strftime('%Y%m%d-%H%M%S')}"
    raise typer.Exit(run_command(
        task=task, max_gen=max_gen, run_id=rid, agent=agent, backend=backend, device=device, resume=resume,
        model=model, model_backend=model_backend, max_wall_s=max_wall_s, max_tokens=max_tokens,
        max_model_calls=max_model_calls, plateau_k=plateau_k, verify_profile=verify_profile,
        claude_model=claude_model, seed=seed,
    ))


@train_app.callback()
def train_cmd(
    ctx: typer.Context,
    run: Optional[Path] = typer.Option(None, "--run", help="Run directory whose verified rollouts train the next adapter."),
    algo: str = typer.Option("auto", "--algo", help="auto | ppo | grpo | entropic | reinforce_kl | dpo | bon_bc."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why you override the automatic choice (recorded)."),
    base_model: str = typer.Option("tiny", "--base-model", help="Base model of the adapter."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Optimisation steps."),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Train the next LoRA adapter of a run from its verified rollouts only (or `sia train toy`)."""
    if ctx.invoked_subcommand is not None:
        return
    if run is None:
        from sia_sandbox.errors import ConfigError

        raise ConfigError("sia train needs --run RUN (or the `toy` subcommand)", hint="sia train --run runs/<run_id> --algo auto")
    from sia_sandbox.train.cli_impl import train_run

    result = train_run(run, algo, algo_reason=reason, base_model=base_model, steps=steps, device=device)
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        out.print(f"adapter {result.adapter_version} ({result.algo}: {result.algo_reason}) from {result.n_samples} "
                  f"verified samples -> {result.adapter_dir}")


@train_app.command("toy")
def train_toy_cmd(
    algo: str = typer.Option(..., "--algo", help="ppo | grpo | entropic | reinforce_kl | dpo | bon_bc."),
    steps: int = typer.Option(20, "--steps", help="Optimisation steps."),
    seed: int = typer.Option(0, "--seed", help="Seed."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Self-check: train a tiny model on a synthetic task with a known optimum; print reward before/after."""
    from sia_sandbox.train.cli_impl import toy

    toy(algo, steps, seed, as_json)


@app.command("report")
def report_cmd(
    run: Path = typer.Argument(..., help="Run directory (runs/<run_id>)."),
    out_path: Optional[Path] = typer.Option(None, "--out", help="Where to write the HTML (default <run>/report.html)."),
) -> None:
    """Write one self-contained HTML report (plots embedded) for a run."""
    from sia_sandbox.report import build_report

    path = build_report(run, out_path)
    out.print(f"report: {path}")


@app.command("compare")
def compare_cmd(
    run_a: Path = typer.Argument(..., help="First run directory."),
    run_b: Path = typer.Argument(..., help="Second run directory."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Scores, drift and cost of two runs side by side."""
    from rich.table import Table

    from sia_sandbox.report.compare import compare_runs

    a, b = compare_runs(run_a, run_b)
    if as_json:
        print_json({"a": a.model_dump(), "b": b.model_dump()})
        return
    table = Table(title="sia compare")
    table.add_column("")
    table.add_column(a.run_id)
    table.add_column(b.run_id)
    for field in a.model_fields:
        if field == "run_id":
            continue
        va, vb = getattr(a, field), getattr(b, field)
        fa = f"{va:.4g}" if isinstance(va, float) else str(va)
        fb = f"{vb:.4g}" if isinstance(vb, float) else str(vb)
        table.add_row(field, fa, fb)
    out.print(table)


@app.command("replay")
def replay_cmd(
    run: Path = typer.Argument(..., help="Run directory (runs/<run_id>)."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Sandbox backend (default: the run's)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recompute every verdict from the run directory (candidates + recorded seeds); exit 1 if any differ."""
    from rich.table import Table

    from sia_sandbox.report.replay import replay_run

    report = replay_run(run, backend=backend)
    if as_json:
        print_json({**report.model_dump(), "differing": [r.candidate_id for r in report.differing]})
    else:
        table = Table(title=f"sia replay {report.run_id}")
        for col in ("gen", "candidate", "recorded", "replayed", "recorded score", "replayed score", "match", "note"):
            table.add_column(col, overflow="fold")
        for r in report.rows:
            table.add_row(str(r.gen_index), r.candidate_id, r.recorded, str(r.replayed), str(r.recorded_score),
                          str(r.replayed_score), "[green]yes[/]" if r.matches else "[red]NO[/]", r.note)
        out.print(table)
        out.print(f"{len(report.rows)} verdicts replayed, {len(report.differing)} differ")
    raise typer.Exit(1 if report.differing else 0)


def main() -> None:
    """Console-script entry point: one-line errors with hints; tracebacks only under --debug."""
    try:
        app()
    except SiaError as e:
        if _state["debug"]:
            raise
        err.print(f"[bold red]error:[/] {escape(e.message)}", highlight=False)
        if e.hint:
            err.print(f"[yellow]hint:[/] {escape(e.hint)}", highlight=False)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
