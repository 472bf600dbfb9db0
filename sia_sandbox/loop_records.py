"""What the loop writes per generation and how a run's state is rebuilt from its directory.

Everything here is a function of the run directory (per-candidate files plus the audit log), so a
resumed run, ``summary.json`` and a later report all agree, SWE-bench style: a candidate with
``verdict.json`` is done, a generation whose feedback wrote ``action.json`` is complete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sia_sandbox.agents.task_space import SCAFFOLD_HARNESS, SearchSpace
from sia_sandbox.agents.types import Harness, HistoryEntry, Lever
from sia_sandbox.audit import iter_events
from sia_sandbox.layout import CandidateLayout, Names, RunLayout
from sia_sandbox.verify.types import Verdict

SCHEMA_VERSION = 1
TRACE_FILE = "scaffold_trace.json"
"""What a scaffold writes next to its submission: where each value came from (untrusted)."""
CANDIDATE_FILE = Names.CANDIDATE
"""Candidate metadata (parent, notes) inside the scaffold directory."""

RunStatus = Literal["running", "complete", "interrupted", "budget_exhausted", "failed"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ActionRecord(_Frozen):
    """``action.json``: the Feedback-Agent's decision and what the loop did with it."""

    schema_version: int = SCHEMA_VERSION
    gen_index: int
    candidate_id: str
    """The candidate the feedback read (the best of its generation)."""
    lever: Lever
    """The Feedback-Agent's lever (``harness`` or ``weights``)."""
    reason: str
    """The Feedback-Agent's reason (the note itself is ``improvement.md``)."""
    requested_algorithm: str | None = None
    """Algorithm the agent asked for; None = the reward-shape rule."""
    agent_error: str | None = None
    """Set when the feedback agent failed and the loop fell back to ``lever=harness``."""
    algorithm: str | None = None
    """Algorithm actually used for the weight update."""
    algorithm_reason: str | None = None
    adapter_version: int | None = None
    """Adapter saved by the update; None when no update ran."""
    weights_skipped: str | None = None
    """Why a requested weight update did not run (no verified rollouts, no learning signal, ...)."""


class GenerationRecord(_Frozen):
    """One row of the summary table."""

    gen_index: int
    candidate_id: str | None
    verdict: str | None
    """verified / rejected / suspicious, or None for an agent error."""
    score: float | None = None
    perturbed_score: float | None = None
    drift: float | None = None
    lever: str | None = None
    """Lever chosen after this generation (None until feedback ran)."""
    algorithm: str | None = None
    adapter_version: int | None = None
    agent_error: bool = False
    notes: str = ""


class RunSummary(_Frozen):
    """``summary.json``: rebuilt from the per-candidate files on every write."""

    schema_version: int = SCHEMA_VERSION
    run_id: str
    task: str
    status: RunStatus
    direction: Literal["maximize", "minimize"] = "maximize"
    generations: list[GenerationRecord] = Field(default_factory=list)
    best_candidate_id: str | None = None
    best_score: float | None = None
    """Best nominal score among ``verified`` candidates only."""
    best_perturbed_score: float | None = None
    first_verified_score: float | None = None
    adapters: list[int] = Field(default_factory=list)
    model_calls: int = 0
    model_tokens: int = 0
    wall_s: float = 0.0
    report_path: str | None = None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def read_verdict(cl: CandidateLayout) -> Verdict | None:
    """The candidate's verdict, or None when it has none (or it does not parse)."""
    if not cl.verdict.is_file():
        return None
    try:
        return Verdict.model_validate_json(cl.verdict.read_text(encoding="utf-8"))
    except (OSError, ValidationError):
        return None


def read_action(cl: CandidateLayout) -> ActionRecord | None:
    if not cl.action.is_file():
        return None
    try:
        return ActionRecord.model_validate_json(cl.action.read_text(encoding="utf-8"))
    except (OSError, ValidationError):
        return None


def read_harness(cl: CandidateLayout) -> Harness:
    raw = _read_json(cl.scaffold / SCAFFOLD_HARNESS) or {}
    return Harness(choices=dict(raw.get("choices", {})), delegate=list(raw.get("delegate", [])))


def read_trace_choices(cl: CandidateLayout, space: SearchSpace) -> list[dict[str, Any]]:
    """The scaffold's own account of its choices; untrusted, so only declared dims and options survive."""
    raw = _read_json(cl.output / TRACE_FILE)
    out = []
    for entry in (raw or {}).get("choices", []) if isinstance(raw, dict) else []:
        if not isinstance(entry, dict):
            continue
        try:
            dim = space.dimension(str(entry.get("dimension")))
        except KeyError:
            continue
        value = entry.get("value")
        if value in dim.options and entry.get("source") in ("harness", "model", "fallback"):
            out.append({"dimension": dim.name, "value": value, "source": entry["source"],
                        "completion": str(entry.get("completion", ""))[:200]})
    return out


def generation_candidates(layout: RunLayout, gen_index: int) -> list[CandidateLayout]:
    return [cl for g, cl in layout.candidates() if g == gen_index]


def generation_complete(layout: RunLayout, gen_index: int, n_candidates: int) -> bool:
    """Every candidate has a verdict and the generation's feedback wrote ``action.json``."""
    cands = generation_candidates(layout, gen_index)
    with_verdict = [cl for cl in cands if cl.verdict.is_file()]
    return len(with_verdict) >= n_candidates and any(cl.action.is_file() for cl in cands)


def history(layout: RunLayout, space: SearchSpace) -> list[HistoryEntry]:
    """Every judged candidate of the run, in order, as agents see it."""
    out = []
    for gen, cl in layout.candidates():
        verdict = read_verdict(cl)
        if verdict is None:
            continue
        action = read_action(cl)
        effective = {c["dimension"]: c["value"] for c in read_trace_choices(cl, space)}
        out.append(HistoryEntry(
            gen_index=gen, candidate_id=cl.root.name, harness=read_harness(cl), effective_choices=effective,
            verdict=verdict.verdict, score=verdict.score, perturbed_score=verdict.perturbed_score,
            lever_after=action.lever if action else None,
        ))
    return out


def agent_errors(layout: RunLayout) -> dict[int, str]:
    """gen_index -> error of meta-agent failures recorded in the audit log (generations left without a candidate)."""
    if not layout.audit_log.is_file():
        return {}
    out: dict[int, str] = {}
    for ev in iter_events(layout.audit_log):
        if ev.event == "agent.failed" and ev.data.get("role") == "meta":
            out[int(ev.data.get("gen_index", -1))] = str(ev.data.get("error", ""))
    return out


def build_summary(layout: RunLayout, *, task: str, status: RunStatus, direction: str, wall_s: float,
                  usage: tuple[int, int] = (0, 0), report_path: str | None = None) -> RunSummary:
    """Rebuild ``summary.json`` from the run directory."""
    rows: dict[int, GenerationRecord] = {}
    best: Verdict | None = None
    first: float | None = None
    for gen, cl in layout.candidates():
        verdict = read_verdict(cl)
        if verdict is None:
            continue
        action = read_action(cl)
        row = GenerationRecord(
            gen_index=gen, candidate_id=cl.root.name, verdict=verdict.verdict, score=verdict.score,
            perturbed_score=verdict.perturbed_score, drift=verdict.drift,
            lever=action.lever if action else None, algorithm=action.algorithm if action else None,
            adapter_version=action.adapter_version if action else None,
            notes=((action.weights_skipped or action.agent_error or "") if action else "")
            or str((_read_json(cl.candidate_meta) or {}).get("notes", ""))[:300],
        )
        prev = rows.get(gen)
        if prev is None or (action is not None and prev.lever is None):
            rows[gen] = row
        if verdict.verdict == "verified" and verdict.score is not None:
            if first is None:
                first = verdict.score
            if best is None or (verdict.score > (best.score or 0.0) if direction == "maximize"
                                else verdict.score < (best.score or 0.0)):
                best = verdict
    for gen, err in agent_errors(layout).items():
        rows.setdefault(gen, GenerationRecord(gen_index=gen, candidate_id=None, verdict=None, agent_error=True,
                                              notes=err[:200]))
    adapters = sorted(int(p.name) for p in layout.adapters.iterdir() if p.name.isdigit()) \
        if layout.adapters.is_dir() else []
    return RunSummary(
        run_id=layout.run_id, task=task, status=status, direction=direction,  # type: ignore[arg-type]
        generations=[rows[g] for g in sorted(rows)],
        best_candidate_id=best.candidate_id if best else None, best_score=best.score if best else None,
        best_perturbed_score=best.perturbed_score if best else None, first_verified_score=first,
        adapters=adapters, model_calls=usage[0], model_tokens=usage[1], wall_s=round(wall_s, 3),
        report_path=report_path,
    )
