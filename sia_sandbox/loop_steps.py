"""The steps of one candidate, called by ``loop.py``: run the scaffold, judge, sign, trace, update weights.

Trust boundaries: the scaffold runs in a sandbox with the task's public directory, its own files and
the gateway client (read-only), ``/out`` (read-write) and its own gateway session socket; the verifier
re-runs the artifact in fresh sandboxes; the verdict is signed here with a key no sandbox sees.
"""

from __future__ import annotations

import json
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import structlog

from sia_sandbox.agents.base import Agent
from sia_sandbox.agents.task_space import SCAFFOLD_MAIN, SearchSpace
from sia_sandbox.agents.types import (
    Candidate, FeedbackAction, ModelChoice, SandboxSummary, TraceView, VerdictView,
)
from sia_sandbox.audit import AuditLog
from sia_sandbox.errors import ConfigError
from sia_sandbox.layout import CandidateLayout, RunLayout
from sia_sandbox.loop_config import LoopConfig
from sia_sandbox.loop_records import CANDIDATE_FILE, TRACE_FILE, ActionRecord, read_trace_choices
from sia_sandbox.rollouts import RolloutStore
from sia_sandbox.sandbox.runner import new_sandbox_id, run_sandbox
from sia_sandbox.sandbox.types import GATEWAY_SOCKET_PATH, Limits, Mount, SandboxResult, SandboxSpec
from sia_sandbox.signing import sign_json
from sia_sandbox.tasks import Task
from sia_sandbox.verify.types import Verdict

log = structlog.get_logger(__name__)

CLIENT_DIR = Path(__file__).parent / "gateway" / "client"
CLIENT_MOUNT = PurePosixPath("/sia/client")
"""Where the gateway client appears in a scaffold sandbox (``/opt/sia`` is reserved for the runtime)."""
SUBMISSION = "submission.py"
MAX_SCAFFOLD_VIEW = 8000
STDERR_TAIL = 2000


@dataclass
class LoopContext:
    """Everything the steps share during one run (internal to the loop)."""

    config: LoopConfig
    task: Task
    space: SearchSpace
    layout: RunLayout
    audit: AuditLog
    store: RolloutStore
    gateway: Any
    model_backend: Any
    key: bytes
    agent: Agent


def write_scaffold(cl: CandidateLayout, cand: Candidate) -> None:
    """Materialise the candidate's files (a fresh directory; a half-written earlier attempt is removed)."""
    if cl.root.exists():
        shutil.rmtree(cl.root)
    cl.scaffold.mkdir(parents=True)
    cl.output.mkdir()
    for rel, text in cand.scaffold_files.items():
        path = (cl.scaffold / rel).resolve()
        if not path.is_relative_to(cl.scaffold.resolve()):
            raise ValueError(f"scaffold file {rel!r} of {cand.candidate_id} escapes the scaffold directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    meta = cand.model_dump(mode="json", exclude={"scaffold_files"})
    (cl.scaffold / CANDIDATE_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def run_scaffold(ctx: LoopContext, cand: Candidate, cl: CandidateLayout, timeout_s: float) -> SandboxResult:
    """Run the scaffold in a sandbox whose only network is its own gateway session.

    Raises:
        SandboxError / SandboxSpecError: the backend could not run it (infrastructure, not the scaffold).
    """
    cfg = ctx.config
    sid = new_sandbox_id()
    ctx.store.record_sandbox_run(sid, cfg.run_id, cand.gen_index, cand.candidate_id, "scaffold")
    sock = ctx.gateway.open_session(sid)
    ro = [Mount(host=cl.scaffold, sandbox=PurePosixPath("/scaffold")),
          Mount(host=CLIENT_DIR, sandbox=CLIENT_MOUNT)]
    if ctx.task.public_dir.is_dir():
        ro.append(Mount(host=ctx.task.public_dir, sandbox=PurePosixPath("/task")))
    spec = SandboxSpec(
        command=["python3", f"/scaffold/{SCAFFOLD_MAIN}"], ro_mounts=ro,
        rw_mounts=[Mount(host=cl.output, sandbox=PurePosixPath("/out"))],
        env={"PYTHONPATH": f"/scaffold:{CLIENT_MOUNT}", "SIA_GATEWAY_SOCKET": str(GATEWAY_SOCKET_PATH),
             "PYTHONDONTWRITEBYTECODE": "1"},
        limits=Limits(timeout_s=timeout_s, memory_mb=1024, pids=64, cpus=1.0, output_limit_mb=16),
        network="gateway", gateway_socket=sock,
        labels={"run_id": cfg.run_id, "candidate_id": cand.candidate_id, "role": "scaffold"},
    )
    try:
        result = run_sandbox(spec, backend=cfg.backend, audit=ctx.audit, sandbox_id=sid)
    finally:
        ctx.gateway.close_session(sid)
    ctx.store.record_sandbox_run(sid, cfg.run_id, cand.gen_index, cand.candidate_id, "scaffold",
                                 result=result.model_dump(mode="json", exclude={"stdout", "stderr"}))
    cl.exec_log.write_text(f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}\n", encoding="utf-8")
    cl.exec_result.write_text(result.model_dump_json(indent=1), encoding="utf-8")
    return result


def _artifact_problem(result: SandboxResult, cl: CandidateLayout) -> str | None:
    """Why the scaffold's output cannot be verified, or None."""
    if result.reason != "ok":
        return f"scaffold sandbox ended with {result.reason} (exit code {result.exit_code})"
    path = cl.output / SUBMISSION
    try:
        st = path.lstat()
    except FileNotFoundError:
        return f"scaffold wrote no /out/{SUBMISSION}"
    # A symlink could point the verifier at a host file; only a regular file is an artifact.
    if not stat.S_ISREG(st.st_mode):
        return f"/out/{SUBMISSION} is not a regular file"
    return None


def loop_rejection(ctx: LoopContext, candidate_id: str, problem: str) -> Verdict:
    """A ``rejected`` verdict for a scaffold that produced nothing verifiable (no verifier ran)."""
    return Verdict(
        task=ctx.task.name, verifier="loop", verifier_version="1", candidate_id=candidate_id, verdict="rejected",
        score=None, perturbed_score=None, drift=None, direction=ctx.task.spec.direction, reasons=[problem],
        seeds_commitment="none", device=ctx.config.device,
    )


def judge(ctx: LoopContext, cand: Candidate, cl: CandidateLayout, result: SandboxResult) -> Verdict:
    """Verify the artifact in fresh sandboxes (or reject a missing one).

    Raises:
        VerifierError / SandboxError: the verifier's infrastructure failed.
    """
    from sia_sandbox.verify.api import verify_submission
    from sia_sandbox.verify.drift import DriftStore

    problem = _artifact_problem(result, cl)
    if problem is not None:
        return loop_rejection(ctx, cand.candidate_id, problem)
    return verify_submission(
        ctx.task.name, cl.output / SUBMISSION, device=ctx.config.device, backend=ctx.config.backend,
        candidate_id=cand.candidate_id, out_dir=cl.verify_dir, audit=ctx.audit,
        drift_store=DriftStore(ctx.layout.drift_log), profile=ctx.config.verify_profile,
    )


def sign_and_record(ctx: LoopContext, gen_index: int, verdict: Verdict, cl: CandidateLayout) -> str:
    """Sign the verdict (bound to run and candidate), store it, audit it, then write ``verdict.json`` last.

    ``verdict.json`` is what marks the candidate done, so it is written only after the signed record.
    """
    payload = {"run_id": ctx.config.run_id, **verdict.model_dump(mode="json")}
    signature = sign_json(payload, ctx.key)
    digest = ctx.store.record_verdict(ctx.config.run_id, verdict.candidate_id, payload, signature)
    ctx.audit.emit("verdict.signed", gen_index=gen_index, candidate_id=verdict.candidate_id,
                   verdict=verdict.verdict, score=verdict.score, perturbed_score=verdict.perturbed_score,
                   sha256=digest, signature=signature, stored=True)
    tmp = cl.verdict.with_suffix(".tmp")
    tmp.write_text(verdict.model_dump_json(indent=1), encoding="utf-8")
    tmp.replace(cl.verdict)
    return signature


def trace_view(ctx: LoopContext, gen_index: int, cl: CandidateLayout, verdict: Verdict) -> TraceView:
    """What the Feedback-Agent may see of a candidate (no evidence paths, no metrics, no seeds)."""
    scaffold = {}
    for name in (SCAFFOLD_MAIN, "harness.json"):
        path = cl.scaffold / name
        if path.is_file():
            scaffold[name] = path.read_text(encoding="utf-8", errors="replace")[:MAX_SCAFFOLD_VIEW]
    harness_raw = json.loads((cl.scaffold / "harness.json").read_text(encoding="utf-8"))
    sandbox = None
    outputs: list[str] = []
    if cl.exec_result.is_file():
        res = SandboxResult.model_validate_json(cl.exec_result.read_text(encoding="utf-8"))
        sandbox = SandboxSummary(reason=res.reason, exit_code=res.exit_code, wall_s=round(res.wall_s, 3),
                                 stderr_tail=res.stderr[-STDERR_TAIL:])
        outputs = [f"{o.path} ({o.kind}, {o.size} B)" for o in res.outputs if not o.path.endswith(TRACE_FILE)]
    suspicious = verdict.verdict == "suspicious" or any(
        not c.passed and c.severity == "suspicious" for c in verdict.checks)
    view = VerdictView(
        verdict=verdict.verdict, score=verdict.score, perturbed_score=verdict.perturbed_score, drift=verdict.drift,
        direction=verdict.direction, reasons=verdict.reasons, suspicious=suspicious,
        checks=[{"name": c.name, "passed": c.passed, "detail": c.detail[:300], "severity": c.severity}
                for c in verdict.checks],
    )
    return TraceView(
        task=ctx.task.name, gen_index=gen_index, candidate_id=cl.root.name, scaffold=scaffold,
        harness={"choices": harness_raw.get("choices", {}), "delegate": harness_raw.get("delegate", [])},
        outputs=outputs, sandbox=sandbox,
        model_choices=[ModelChoice(**c) for c in read_trace_choices(cl, ctx.space)], verdict=view,
    )


def update_weights(ctx: LoopContext, gen_index: int, action: FeedbackAction) -> dict[str, Any]:
    """Train the task model on the run's verified rollouts; returns the ActionRecord fields it fills.

    A missing learning signal is not an error: the update is skipped and the reason recorded.

    Raises:
        TrainingError / ConfigError: the updater failed for another reason.
    """
    from sia_sandbox.train import TrainConfig, train_from_rollouts
    from sia_sandbox.train.choose import choose_algorithm
    from sia_sandbox.train.data import samples_from_rollouts
    from sia_sandbox.train.types import NoLearningSignalError

    reload = getattr(ctx.model_backend, "reload_adapter", None)
    if reload is None:
        return _skip(ctx, gen_index, f"model backend {ctx.config.model_backend!r} serves no LoRA adapters")
    rollouts = ctx.store.verified_rollouts(ctx.config.run_id, key=ctx.key)
    if not rollouts:
        return _skip(ctx, gen_index, "no verified rollouts (no verified candidate called the task model)")
    samples = samples_from_rollouts(rollouts)
    try:
        try:
            choice = choose_algorithm(samples, action.algorithm, action.reason if action.algorithm else None)
        except ConfigError as e:
            # An agent naming an unknown algorithm must not stop the run: the rule decides, and we say so.
            ctx.audit.emit("weights.override_refused", gen_index=gen_index, requested=action.algorithm, error=e.message)
            choice = choose_algorithm(samples, None, None)
    except NoLearningSignalError as e:
        return _skip(ctx, gen_index, e.message)
    train_cfg = TrainConfig(algo=choice.algo, algo_reason=choice.reason, base_model=ctx.config.model,  # type: ignore[arg-type]
                            device=ctx.config.device, steps=ctx.config.train_steps, seed=ctx.config.seed)
    result = train_from_rollouts(rollouts, train_cfg, adapters_dir=ctx.layout.adapters)
    served = reload()
    ctx.audit.emit("weights.updated", gen_index=gen_index, algorithm=result.algo, reason=result.algo_reason,
                   rule_algorithm=result.rule_algo, adapter_version=result.adapter_version,
                   n_rollouts=result.n_samples, rollout_ids=result.rollout_ids,
                   verdict_hashes=sorted(set(result.verdict_hashes)), served=served)
    return {"algorithm": result.algo, "algorithm_reason": result.algo_reason,
            "adapter_version": result.adapter_version}


def _skip(ctx: LoopContext, gen_index: int, why: str) -> dict[str, Any]:
    ctx.audit.emit("weights.skipped", gen_index=gen_index, reason=why)
    log.info("weights.skipped", gen_index=gen_index, reason=why)
    return {"weights_skipped": why}


def write_action(cl: CandidateLayout, improvement_md: str, record: ActionRecord) -> None:
    """Write ``improvement.md`` then ``action.json`` (which marks the generation complete)."""
    cl.improvement.write_text(improvement_md, encoding="utf-8")
    tmp = cl.action.with_suffix(".tmp")
    tmp.write_text(record.model_dump_json(indent=1), encoding="utf-8")
    tmp.replace(cl.action)
