"""Read a run directory into typed rows. Reports, ``compare`` and ``audit`` views are built from these.

Everything is rebuilt from per-candidate files and the audit log (never from a cached aggregate), so a
report is a pure function of the run directory. Files written by other components are read through
lenient view models (``extra="ignore"``) so an older or newer run still renders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sia_sandbox.audit import AuditEvent, ChainReport, verify_chain
from sia_sandbox.errors import ConfigError
from sia_sandbox.layout import Names, RunLayout


class _View(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CheckView(_View):
    name: str
    passed: bool
    detail: str = ""


class VerdictView(_View):
    verdict: str
    score: float | None = None
    perturbed_score: float | None = None
    drift: float | None = None
    checks: list[CheckView] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    candidate_s: float = 0.0
    verifier_s: float = 0.0


class ActionView(_View):
    lever: str | None = None
    algorithm: str | None = None
    reason: str = ""


class ExecView(_View):
    sandbox_id: str = ""
    reason: str = ""
    exit_code: int | None = None
    wall_s: float = 0.0
    cpu_s: float | None = None
    peak_memory_mb: float | None = None


class CandidateRow(_View):
    """One candidate of one generation, with whatever the run directory holds about it."""

    gen_index: int
    candidate_id: str
    dir: str
    verdict: VerdictView | None = None
    action: ActionView | None = None
    scaffold_exec: ExecView | None = None
    has_exec_log: bool = False
    improvement: str = ""
    edit: str = ""
    """What the agent changed to make this candidate (``scaffold/candidate.json`` notes)."""


class SandboxRow(_View):
    """One sandbox run, from its ``sandbox.finished`` audit event."""

    seq: int
    ts: str
    sandbox_id: str
    backend: str = ""
    reason: str = ""
    exit_code: int | None = None
    wall_s: float = 0.0
    cpu_s: float | None = None
    peak_memory_mb: float | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class TrainingRow(_View):
    """One weight update (an adapter version)."""

    version: str
    algo: str = ""
    algo_reason: str = ""
    n_samples: int = 0
    curve: list[float] = Field(default_factory=list)
    """Loss per step (or the first numeric per-step metric found)."""
    curve_name: str = "loss"


class RunData(_View):
    run_id: str
    root: str
    meta: dict[str, Any] = Field(default_factory=dict)
    summary: dict[str, Any] = Field(default_factory=dict)
    candidates: list[CandidateRow] = Field(default_factory=list)
    sandboxes: list[SandboxRow] = Field(default_factory=list)
    training: list[TrainingRow] = Field(default_factory=list)
    chain: ChainReport | None = None
    events: list[AuditEvent] = Field(default_factory=list)


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _parse(model: type[_View], path: Path) -> Any:
    data = _load_json(path)
    if not isinstance(data, dict):
        return None
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def _training_rows(adapters: Path) -> list[TrainingRow]:
    rows: list[TrainingRow] = []
    if not adapters.is_dir():
        return rows
    for d in sorted(p for p in adapters.iterdir() if p.is_dir()):
        meta = _load_json(d / "meta.json")
        if not isinstance(meta, dict):
            continue
        curve, name = [], "loss"
        steps = meta.get("metrics")
        if isinstance(steps, dict):
            steps = steps.get("steps", steps.get("per_step"))
        if isinstance(steps, list) and steps and isinstance(steps[0], dict):
            keys = [k for k in ("loss", "policy_loss", "reward", "mean_reward") if k in steps[0]]
            keys = keys or [k for k, v in steps[0].items() if isinstance(v, (int, float))]
            if keys:
                name = keys[0]
                curve = [float(s.get(name, float("nan"))) for s in steps]
        rows.append(TrainingRow(
            version=str(meta.get("version", d.name)), algo=str(meta.get("algo", "")),
            algo_reason=str(meta.get("algo_reason", meta.get("reason", ""))),
            n_samples=len(meta.get("rollout_ids", []) or []), curve=curve, curve_name=name,
        ))
    return rows


def _sandbox_rows(events: list[AuditEvent]) -> list[SandboxRow]:
    labels: dict[str, dict[str, str]] = {}
    rows = []
    for ev in events:
        if ev.event == "sandbox.requested" and ev.sandbox_id:
            spec = ev.data.get("spec") or {}
            labels[ev.sandbox_id] = {str(k): str(v) for k, v in (spec.get("labels") or {}).items()}
        if ev.event == "sandbox.finished" and ev.sandbox_id:
            res = ev.data.get("result") or {}
            rows.append(SandboxRow(
                seq=ev.seq, ts=ev.ts, sandbox_id=ev.sandbox_id, backend=str(ev.data.get("backend", "")),
                reason=str(res.get("reason", "")), exit_code=res.get("exit_code"),
                wall_s=float(res.get("wall_s") or 0.0), cpu_s=res.get("cpu_s"),
                peak_memory_mb=res.get("peak_memory_mb"), labels=labels.get(ev.sandbox_id, {}),
            ))
    return rows


def collect_run(run_dir: Path) -> RunData:
    """Read everything a report needs from ``run_dir``.

    Raises:
        ConfigError: ``run_dir`` is not a run directory.
    """
    layout = RunLayout(Path(run_dir).absolute())
    if not layout.root.is_dir() or not (layout.audit_log.exists() or layout.generations.exists()):
        raise ConfigError(
            f"{layout.root} is not a run directory (no {Names.AUDIT} or {Names.GENERATIONS}/)",
            hint="pass runs/<run_id> as written by `sia run`",
        )
    candidates = []
    for gen, cand in layout.candidates():
        candidates.append(CandidateRow(
            gen_index=gen, candidate_id=cand.root.name, dir=str(cand.root),
            verdict=_parse(VerdictView, cand.verdict), action=_parse(ActionView, cand.action),
            scaffold_exec=_parse(ExecView, cand.exec_result), has_exec_log=cand.exec_log.exists(),
            improvement=cand.improvement.read_text()[:4000] if cand.improvement.exists() else "",
            edit=str((_load_json(cand.candidate_meta) or {}).get("notes", ""))[:300],
        ))
    chain, events = None, []
    if layout.audit_log.exists():
        chain = verify_chain(layout.audit_log)
        # Only the prefix the chain vouches for is shown; lines after a break are untrusted.
        events = iter_events_prefix(layout.audit_log, chain.n_events)
    meta = _load_json(layout.run_json)
    summary = _load_json(layout.summary_json)
    return RunData(
        run_id=layout.run_id, root=str(layout.root),
        meta=meta if isinstance(meta, dict) else {}, summary=summary if isinstance(summary, dict) else {},
        candidates=candidates, sandboxes=_sandbox_rows(events), training=_training_rows(layout.adapters),
        chain=chain, events=events,
    )


def iter_events_prefix(path: Path, n: int) -> list[AuditEvent]:
    """The first ``n`` events of a log whose chain breaks after them (trusted prefix only)."""
    out: list[AuditEvent] = []
    with open(path, "rb") as f:
        for raw in f:
            if len(out) >= n:
                break
            out.append(AuditEvent.model_validate_json(raw))
    return out
