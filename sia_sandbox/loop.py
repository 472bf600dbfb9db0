"""The generation loop: propose -> scaffold sandbox -> verify -> sign -> keep-best -> feedback -> lever.

Holds no policy: the agent proposes and chooses the lever, the verifier judges, ``train/`` updates
weights. The loop orders those calls, enforces budgets, and keeps the run directory resumable:
a candidate with ``verdict.json`` is never re-run, a generation with ``action.json`` is complete, and
Ctrl-C abandons only the candidate in flight (its partial directory is removed, ``run.interrupted``
is audited) so ``--resume`` continues from the last complete generation.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict

from sia_sandbox.agents.base import AgentCallError
from sia_sandbox.agents.offline import best_verified
from sia_sandbox.agents.registry import get_agent
from sia_sandbox.agents.task_space import load_search_space
from sia_sandbox.agents.types import Candidate, FeedbackAction, ProposalContext
from sia_sandbox.audit import AuditLog, anchor_of
from sia_sandbox.config import get_settings
from sia_sandbox.errors import ConfigError
from sia_sandbox.layout import RunLayout
from sia_sandbox.loop_config import LoopConfig
from sia_sandbox.loop_records import (
    ActionRecord, RunStatus, RunSummary, build_summary, generation_candidates, generation_complete, history,
    read_action, read_verdict,
)
from sia_sandbox.loop_steps import (
    LoopContext, judge, run_scaffold, sign_and_record, trace_view, update_weights, write_action, write_scaffold,
)
from sia_sandbox.rollouts import RolloutStore
from sia_sandbox.signing import load_or_create_key
from sia_sandbox.tasks import load_task

log = structlog.get_logger(__name__)

AGENT_BACKOFF_S = 2.0


class LoopEvent(BaseModel):
    """Progress notice for the CLI (``stage``: generation.started, candidate.judged, feedback.done, ...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: str
    gen_index: int
    candidate_id: str | None = None
    detail: str = ""


OnEvent = Callable[[LoopEvent], None]


def _git_sha(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=False)
    except OSError:
        return None
    return out.stdout.strip() or None


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in ("sia_sandbox", "torch", "transformers", "peft", "anthropic", "pydantic"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _open_run(config: LoopConfig, layout: RunLayout, resume: bool) -> None:
    """Create (or check, on resume) the run directory and write run.json + config.json.

    Raises:
        ConfigError: the run exists without --resume, or --resume names a missing or different run.
    """
    if layout.run_json.exists() and not resume:
        raise ConfigError(f"run {config.run_id} already exists at {layout.root}",
                          hint="pass --resume to continue it, or choose another --run-id")
    if resume:
        if not layout.run_json.exists():
            raise ConfigError(f"cannot resume run {config.run_id}: {layout.run_json} does not exist",
                              hint="drop --resume to start it")
        old = json.loads(layout.config_json.read_text(encoding="utf-8"))
        if old.get("task") != config.task:
            raise ConfigError(f"run {config.run_id} is for task {old.get('task')!r}, not {config.task!r}",
                              hint="resume with the run's own --task")
    layout.root.mkdir(parents=True, exist_ok=True)
    if not layout.run_json.exists():
        run = {"schema_version": 1, "run_id": config.run_id, "task": config.task, "backend": config.backend,
               "device": config.device, "agent": config.agent, "host": platform.node(),
               "platform": platform.platform(), "git_sha": _git_sha(Path(__file__).resolve().parent.parent),
               "versions": _versions(), "created_at": time.time()}
        layout.run_json.write_text(json.dumps(run, indent=1) + "\n", encoding="utf-8")
    layout.config_json.write_text(config.model_dump_json(indent=1) + "\n", encoding="utf-8")


def _model_backend(config: LoopConfig, layout: RunLayout) -> Any:
    from sia_sandbox.gateway.backends import get_model_backend

    if config.model_backend == "local":
        return get_model_backend("local", model=config.model, device=config.device, adapters_dir=layout.adapters)
    return get_model_backend(config.model_backend, model=config.model)


def _call_agent(ctx: LoopContext, role: str, gen: int, fn: Callable[[], Any]) -> Any:
    """Call the agent with retries; rate limits and outages are infrastructure, never a task failure.

    Raises:
        AgentCallError: every attempt failed (the caller records ``agent_error``).
    """
    for attempt in range(1, ctx.config.agent_retries + 1):
        try:
            return fn()
        except AgentCallError as e:
            ctx.audit.emit("agent.retried", role=role, gen_index=gen, attempt=attempt, error=e.message[:300])
            if attempt == ctx.config.agent_retries:
                raise
            time.sleep(AGENT_BACKOFF_S * attempt)
    raise AssertionError("unreachable")


class _Run:
    """One invocation of the loop (fresh or resumed)."""

    def __init__(self, ctx: LoopContext, on_event: OnEvent | None) -> None:
        self.ctx = ctx
        self.on_event = on_event or (lambda _e: None)
        self.t0 = time.monotonic()
        self.direction = ctx.task.spec.direction

    def remaining_s(self) -> float | None:
        limit = self.ctx.config.budgets.max_wall_s
        return None if limit is None else limit - (time.monotonic() - self.t0)

    def budget_spent(self) -> str | None:
        b = self.ctx.config.budgets
        rem = self.remaining_s()
        if rem is not None and rem <= 0:
            return f"wall-clock budget of {b.max_wall_s} s spent"
        usage = self.ctx.store.usage(self.ctx.config.run_id)
        if b.max_tokens is not None and usage.total_tokens >= b.max_tokens:
            return f"token budget of {b.max_tokens} spent ({usage.total_tokens} used)"
        if b.max_model_calls is not None and usage.calls >= b.max_model_calls:
            return f"model-call budget of {b.max_model_calls} spent ({usage.calls} calls)"
        return None

    def generation(self, gen: int) -> None:
        cfg, layout = self.ctx.config, self.ctx.layout
        self.on_event(LoopEvent(stage="generation.started", gen_index=gen))
        for k in range(cfg.candidates_per_gen):
            cl = layout.candidate(gen, f"g{gen:04d}-c{k}")
            if read_verdict(cl) is None and not self.candidate(gen, k):
                return
        self.feedback(gen)

    def _context(self, gen: int, k: int) -> ProposalContext:
        hist = history(self.ctx.layout, self.ctx.space)
        last_actions = [a for a in (read_action(cl) for cl in generation_candidates(self.ctx.layout, gen - 1)) if a]
        last = last_actions[-1] if last_actions else None
        return ProposalContext(
            task=self.ctx.task.name, task_doc=self.ctx.task.doc.read_text(encoding="utf-8")
            if self.ctx.task.doc.is_file() else "", gen_index=gen, candidate_index=k, direction=self.direction,
            history=hist, best=best_verified(hist, self.direction),
            last_improvement=self._improvement(gen - 1),
            hold_harness=bool(last and last.adapter_version is not None), seed=self.ctx.config.seed,
        )

    def _improvement(self, gen: int) -> str:
        for cl in generation_candidates(self.ctx.layout, gen):
            if cl.improvement.is_file():
                return cl.improvement.read_text(encoding="utf-8")
        return ""

    def candidate(self, gen: int, k: int) -> bool:
        """Propose, run, judge and record candidate k of generation gen; False after an agent error."""
        ctx = self.ctx
        try:
            cand: Candidate = _call_agent(ctx, "meta", gen, lambda: ctx.agent.propose(self._context(gen, k)))
        except AgentCallError as e:
            ctx.audit.emit("agent.failed", role="meta", gen_index=gen, error=e.message[:500])
            self.on_event(LoopEvent(stage="agent.failed", gen_index=gen, detail=e.message[:200]))
            return False
        cl = ctx.layout.candidate(gen, cand.candidate_id)
        write_scaffold(cl, cand)
        ctx.audit.emit("candidate.proposed", gen_index=gen, candidate_id=cand.candidate_id, agent=ctx.agent.name,
                       parent_id=cand.parent_id, harness=cand.harness.model_dump(mode="json"), notes=cand.notes)
        rem = self.remaining_s()
        timeout = max(10.0, min(ctx.config.scaffold_timeout_s, rem if rem is not None else 1e9))
        result = run_scaffold(ctx, cand, cl, timeout)
        self.on_event(LoopEvent(stage="scaffold.finished", gen_index=gen, candidate_id=cand.candidate_id,
                                detail=f"{result.reason} in {result.wall_s:.1f}s"))
        verdict = judge(ctx, cand, cl, result)
        before = best_verified(history(ctx.layout, ctx.space), self.direction)
        sign_and_record(ctx, gen, verdict, cl)
        after = best_verified(history(ctx.layout, ctx.space), self.direction)
        # Only a verified candidate can become the best; anything else leaves the best where it was.
        if after is not None and (before is None or after.candidate_id != before.candidate_id):
            ctx.audit.emit("best.updated", gen_index=gen, candidate_id=after.candidate_id, score=after.score,
                           previous=before.candidate_id if before else None)
        self.on_event(LoopEvent(stage="candidate.judged", gen_index=gen, candidate_id=cand.candidate_id,
                                detail=f"{verdict.verdict} score={verdict.score}"))
        return True

    def feedback(self, gen: int) -> None:
        ctx = self.ctx
        judged = [(cl, read_verdict(cl)) for cl in generation_candidates(ctx.layout, gen)]
        judged = [(cl, v) for cl, v in judged if v is not None]
        if not judged or any(cl.action.is_file() for cl, _ in judged):
            return
        # The feedback reads the generation's best verified candidate (else its last one).
        sign = 1 if self.direction == "maximize" else -1
        verified = [(cl, v) for cl, v in judged if v.verdict == "verified" and v.score is not None]
        cl, verdict = max(verified, key=lambda p: sign * (p[1].score or 0.0)) if verified else judged[-1]
        trace = trace_view(ctx, gen, cl, verdict)
        hist = history(ctx.layout, ctx.space)
        try:
            action: FeedbackAction = _call_agent(ctx, "feedback", gen, lambda: ctx.agent.feedback(trace, hist))
            agent_error = None
        except AgentCallError as e:
            agent_error = e.message[:500]
            ctx.audit.emit("agent.failed", role="feedback", gen_index=gen, error=agent_error)
            action = FeedbackAction(lever="harness", reason="feedback agent unavailable; harness lever by default",
                                    improvement_md=f"(feedback agent failed: {agent_error})\n")
        ctx.audit.emit("feedback.chosen", gen_index=gen, candidate_id=cl.root.name, lever=action.lever,
                       algorithm=action.algorithm, reason=action.reason)
        extra: dict[str, Any] = {}
        if action.lever == "weights":
            self.on_event(LoopEvent(stage="weights.started", gen_index=gen, candidate_id=cl.root.name))
            extra = update_weights(ctx, gen, action)
        write_action(cl, action.improvement_md, ActionRecord(
            gen_index=gen, candidate_id=cl.root.name, lever=action.lever, reason=action.reason,
            requested_algorithm=action.algorithm, agent_error=agent_error, **extra))
        self.on_event(LoopEvent(stage="feedback.done", gen_index=gen, candidate_id=cl.root.name,
                                detail=f"lever={action.lever}" + (f" adapter={extra.get('adapter_version')}"
                                                                  if extra.get("adapter_version") else "")))

    def abandon(self, gen: int) -> None:
        """Remove the in-flight candidate(s) of ``gen`` that have no verdict (they are re-run on resume)."""
        for cl in generation_candidates(self.ctx.layout, gen):
            if not cl.verdict.is_file():
                shutil.rmtree(cl.root, ignore_errors=True)


def _summary(ctx: LoopContext, status: RunStatus, wall_s: float) -> RunSummary:
    usage = ctx.store.usage(ctx.config.run_id)
    summary = build_summary(ctx.layout, task=ctx.task.name, status=status, direction=ctx.task.spec.direction,
                            wall_s=wall_s, usage=(usage.calls, usage.total_tokens))
    ctx.layout.summary_json.write_text(summary.model_dump_json(indent=1) + "\n", encoding="utf-8")
    return summary


def run_loop(config: LoopConfig, *, runs_dir: Path | None = None, resume: bool = False,
             on_event: OnEvent | None = None, agent_kwargs: dict[str, Any] | None = None) -> RunSummary:
    """Run (or resume) the loop to ``config.max_gen`` generations or until a budget is spent.

    Returns:
        The run summary (also written to ``summary.json``); ``status`` says how the run ended.

    Raises:
        ConfigError / TaskError: bad configuration or task; nothing is started.
        SandboxError / VerifierError / TrainingError: infrastructure failed (the run stays resumable).
        KeyboardInterrupt: after the run was left consistent and ``run.interrupted`` audited.
    """
    config = config.resolved()
    layout = RunLayout.for_run(runs_dir or get_settings().runs_dir, config.run_id)
    task = load_task(config.task)
    space = load_search_space(task.root, task.project_root)
    _open_run(config, layout, resume)
    audit = AuditLog(layout.audit_log, config.run_id)
    store = RolloutStore(layout.rollouts_db)
    store.record_run(config.run_id, config.task, config.model_dump(mode="json"))
    agent = get_agent(config.agent, space=space, plateau_k=config.plateau_k, seed=config.seed,
                      **(agent_kwargs or {}))
    from sia_sandbox.gateway.server import Gateway
    from sia_sandbox.gateway.types import GatewayBudgets

    model_backend = _model_backend(config, layout)
    gateway = Gateway(store, model_backend, config.run_id, GatewayBudgets(
        max_calls=config.budgets.max_model_calls, max_tokens=config.budgets.max_tokens, max_tokens_per_call=64))
    sock_dir = Path(tempfile.mkdtemp(prefix="sia-gw-", dir="/tmp"))
    # Session sockets live below; the sandbox's (unprivileged) uid must be able to traverse to them.
    # The platform socket itself is 0600, so this exposes only the per-sandbox session sockets.
    sock_dir.chmod(0o755)
    gateway.start(sock_dir / "gateway.sock")
    ctx = LoopContext(config=config, task=task, space=space, layout=layout, audit=audit, store=store,
                      gateway=gateway, model_backend=model_backend, key=load_or_create_key(), agent=agent)
    run = _Run(ctx, on_event)
    audit.emit("run.resumed" if resume else "run.started", task=config.task, config=config.model_dump(mode="json"))
    status: RunStatus = "failed"
    gen = 0
    try:
        for gen in range(config.max_gen):
            if generation_complete(layout, gen, config.candidates_per_gen):
                continue
            spent = run.budget_spent()
            if spent:
                audit.emit("run.budget_exhausted", gen_index=gen, reason=spent)
                run.on_event(LoopEvent(stage="budget.exhausted", gen_index=gen, detail=spent))
                status = "budget_exhausted"
                break
            run.generation(gen)
        else:
            status = "complete"
    except KeyboardInterrupt:
        run.abandon(gen)
        audit.emit("run.interrupted", gen_index=gen)
        status = "interrupted"
        raise
    finally:
        gateway.stop()
        shutil.rmtree(sock_dir, ignore_errors=True)
        summary = _summary(ctx, status, time.monotonic() - run.t0)
        audit.emit("run.finished", status=status, best_candidate_id=summary.best_candidate_id,
                   best_score=summary.best_score)
        close = getattr(model_backend, "close", None)
        if close:
            close()
        store.close()
        audit.close()
        # The hash chain cannot see lines deleted from its end; this anchor can (checked by `sia audit`).
        layout.audit_anchor.write_text(anchor_of(layout.audit_log).model_dump_json() + "\n", encoding="utf-8")
    return summary
