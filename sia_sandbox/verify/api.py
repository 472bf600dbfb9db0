"""``verify_submission``: the function ``sia verify`` (and the loop) call to judge one candidate.

Order of trust-relevant events in the audit log: ``verify.started`` (with the sha256 commitment to
the seeds), the sandbox events of each suite, ``verdict.recorded``, and only then
``verify.seeds_revealed`` with the seeds themselves, so the seeds provably existed before the
verdict and could not have been chosen after seeing it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

from sia_sandbox.errors import ConfigError
from sia_sandbox.tasks import load_task
from sia_sandbox.verify.base import VerifyContext, load_verifier
from sia_sandbox.verify.drift import DriftStore, compute_drift, drift_checks
from sia_sandbox.verify.types import Check, SuiteResult, Verdict

log = structlog.get_logger(__name__)

MAX_SUBMISSION_BYTES = 4 << 20
"""Largest candidate file accepted (a kernel or predictor is code, not data)."""
VERDICT_FILE = "verdict.json"


def seeds_commitment(seeds: dict[str, int]) -> str:
    """sha256 of the canonical JSON of the seeds (salt included, so it cannot be brute-forced)."""
    return hashlib.sha256(json.dumps(seeds, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _check_inputs(submission: Path, device: str) -> Path:
    path = Path(submission).expanduser()
    if not path.is_file():
        raise ConfigError(f"submission file {path} not found or not a regular file",
                          hint="pass the path of the candidate's .py file with --submission")
    if path.stat().st_size > MAX_SUBMISSION_BYTES:
        raise ConfigError(f"submission {path} is {path.stat().st_size} bytes, over {MAX_SUBMISSION_BYTES}")
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"unknown device {device!r}", hint="use --device cpu or --device cuda")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("device 'cuda' requested but no CUDA GPU is visible",
                              hint="use --device cpu, or run on a GPU machine")
    return path.resolve()


def _verdict_status(checks: list[Check]) -> tuple[str, list[str]]:
    failed = [c for c in checks if not c.passed]
    reasons = [f"{c.name}: {c.detail}" for c in failed]
    if any(c.severity == "reject" for c in failed):
        return "rejected", reasons
    if failed:
        return "suspicious", reasons
    return "verified", reasons


def verify_submission(
    task_name: str,
    submission: Path,
    *,
    device: str = "cpu",
    backend: str | None = None,
    candidate_id: str | None = None,
    out_dir: Path | None = None,
    audit: Any | None = None,
    seeds: dict[str, int] | None = None,
    drift_store: DriftStore | Path | None = None,
    profile: str = "full",
) -> Verdict:
    """Verify one candidate file for one task: nominal and perturbed suites in fresh sandboxes.

    Args:
        task_name: a directory under the tasks dir.
        submission: the candidate's Python file (copied; the original is never executed).
        device: ``cpu`` or ``cuda``.
        backend: sandbox backend; None = the task's default.
        candidate_id: identifier recorded in the verdict (default: ``c-`` + sha256 prefix).
        out_dir: where suite dirs, evidence and ``verdict.json`` go (default: a new temp dir).
        audit: an ``AuditLog`` (anything with ``.emit(event, **fields)``), or None.
        seeds: recorded seeds for a replay (as revealed by ``verify.seeds_revealed``); None = fresh.
        drift_store: the run's drift store (or its JSONL path) for cross-generation drift; None = off.
        profile: ``full`` (default) or a lighter profile the task defines (``quick`` for tests).

    Returns:
        The verdict (also written to ``<out_dir>/verdict.json``).

    Raises:
        TaskError: unknown or malformed task (the message lists known tasks / names the field).
        ConfigError: missing submission file, bad device.
        VerifierError / SandboxError: our infrastructure failed (never the candidate's fault).
    """
    t_start = time.perf_counter()
    task = load_task(task_name)
    path = _check_inputs(submission, device)
    verifier = load_verifier(task)
    backend = backend or task.spec.backend
    data = path.read_bytes()
    cand_sha = hashlib.sha256(data).hexdigest()
    candidate_id = candidate_id or f"c-{cand_sha[:12]}"
    work = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix=f"sia-verify-{task.name}-"))
    work.mkdir(parents=True, exist_ok=True)
    trusted = work / "candidate" / task.spec.interface.file
    trusted.parent.mkdir(parents=True, exist_ok=True)
    trusted.write_bytes(data)
    replay = seeds is not None
    seeds = dict(seeds) if seeds is not None else {**verifier.draw_seeds(task), "salt": secrets.randbits(128)}
    commitment = seeds_commitment(seeds)
    blog = log.bind(task=task.name, candidate_id=candidate_id, backend=backend, device=device)
    if audit is not None:
        audit.emit("verify.started", task=task.name, verifier=verifier.name,
                   verifier_version=verifier.version, candidate_id=candidate_id, candidate_sha256=cand_sha,
                   seeds_commitment=commitment, device=device,
                   backend=backend, replay=replay, profile=profile)
    blog.info("verify.started", work_dir=str(work))
    stage = Path(tempfile.mkdtemp(prefix="sia-stage-verify-"))
    stage.chmod(0o755)
    ctx = VerifyContext(task=task, candidate=trusted, work_dir=work, stage_dir=stage, backend=backend,
                        device=device,
                        seeds=seeds, audit=audit, candidate_id=candidate_id, profile=profile)
    ctx.params()  # fail early on an unknown profile
    try:
        suites: list[SuiteResult] = [verifier.run_suite(ctx, "nominal")]
        if all(c.passed or c.severity != "reject" for c in suites[0].checks):
            suites.append(verifier.run_suite(ctx, "perturbed"))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    verdict = _assemble(task, verifier, candidate_id, suites, commitment, device, work, drift_store,
                        time.perf_counter() - t_start).model_copy(update={"profile": profile})
    (work / VERDICT_FILE).write_text(verdict.model_dump_json(indent=1))
    if drift_store is not None:
        store = drift_store if isinstance(drift_store, DriftStore) else DriftStore(Path(drift_store))
        store.append(verdict)
    if audit is not None:
        audit.emit("verdict.recorded", **json.loads(verdict.model_dump_json()))
        # Strictly after the verdict: anyone can now check the commitment in verify.started.
        audit.emit("verify.seeds_revealed", task=task.name, candidate_id=candidate_id,
                   seeds_commitment=commitment, seeds=seeds)
    blog.info("verdict.recorded", verdict=verdict.verdict, score=verdict.score,
              perturbed_score=verdict.perturbed_score, drift=verdict.drift)
    return verdict


def _assemble(task: Any, verifier: Any, candidate_id: str, suites: list[SuiteResult], commitment: str,
              device: str, work: Path, drift_store: DriftStore | Path | None, total_s: float) -> Verdict:
    nominal = suites[0]
    perturbed = suites[1] if len(suites) > 1 else None
    checks = [c for s in suites for c in s.checks]
    direction = task.spec.direction
    p_score = perturbed.score if perturbed else None
    best = None
    if drift_store is not None:
        store = drift_store if isinstance(drift_store, DriftStore) else DriftStore(Path(drift_store))
        best = store.best_verified(task.name, direction)
    if nominal.score is not None and p_score is not None and all(c.passed or c.severity != "reject"
                                                                 for c in checks):
        checks += drift_checks(nominal.score, p_score, direction=direction,
                               threshold=task.spec.suites.drift_threshold,
                               tolerance=task.spec.suites.drift_tolerance, best=best)
    status, reasons = _verdict_status(checks)
    metrics = {f"{s.suite}.{k}": v for s in suites for k, v in s.metrics.items()}
    # Scores of a rejected candidate stay visible for diagnosis, never as the verdict's score.
    metrics.update({f"{s.suite}.score": s.score for s in suites if s.score is not None})
    cand_s = sum(s.candidate_s for s in suites)
    evidence = sorted(str(p) for p in work.rglob("*") if p.is_file() and p.name.endswith(".json"))
    evidence.insert(0, str(work / "candidate" / task.spec.interface.file))
    return Verdict(
        task=task.name, verifier=verifier.name, verifier_version=verifier.version,
        candidate_id=candidate_id, verdict=status,  # type: ignore[arg-type]
        score=nominal.score if status != "rejected" else None,
        perturbed_score=p_score if status != "rejected" else None, drift=compute_drift(nominal.score, p_score, direction),
        direction=direction, checks=checks, reasons=reasons, metrics=metrics, evidence=evidence[:200],
        seeds_commitment=commitment, device=device, candidate_s=cand_s,
        verifier_s=max(0.0, total_s - cand_s),
    )


def cleanup(work: Path) -> None:
    """Remove a verification's work dir (tests and benchmarks)."""
    shutil.rmtree(work, ignore_errors=True)
