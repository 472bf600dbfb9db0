"""The offline agent: no LLM, a bandit over the task's declared edits, and a plateau rule for weights.

Meta-Agent: start from the task's ``start`` harness; afterwards edit one dimension of the best
*verified* harness, choosing the (dimension, value) arm by UCB1. Arms learn only from verified
verdicts: a rejected or suspicious candidate counts as a pull with no reward, so a candidate that
games the nominal suite (and is marked suspicious) never raises the value of what it did. Among
arms UCB cannot separate (untried ones), the task's declared ``priority`` (expected effect) and
option order decide, so a short run spends its first generations where the effects are large. Only
dimensions whose ``when`` holds for the parent are edited, and a harness equivalent to one already
run (same choices on every dimension that matters) is never proposed again, except when the
weight lever asks to hold the harness.

Feedback-Agent: after ``plateau_k`` generations without a relative improvement of the best verified
score (and at least ``plateau_k`` generations since the last weight update), choose ``lever=weights``
and leave the algorithm to the reward-shape rule; otherwise ``lever=harness``.

The agent keeps no state of its own: everything is recomputed from the run history, so a resumed
run makes the same decisions it would have made without the interruption.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

from sia_sandbox.agents.base import Agent
from sia_sandbox.agents.prompts import render_prompt
from sia_sandbox.agents.registry import register_agent
from sia_sandbox.agents.task_space import SearchSpace
from sia_sandbox.agents.types import Candidate, FeedbackAction, Harness, HistoryEntry, ProposalContext, TraceView

UCB_C = 0.5
"""Exploration weight of UCB1 (rewards are normalised to [0.1, 1])."""
IMPROVEMENT_TOL = 0.02
"""Relative gain of the best verified score that counts as progress (CPU timing noise is ~1-2%)."""
REWARD_FLOOR = 0.1
"""Normalised reward of the worst verified candidate; an arm without verified data has mean 0."""


def _key(choices: dict[str, Any]) -> str:
    return json.dumps(choices, sort_keys=True, default=str)


def _better(a: float, b: float, direction: str, tol: float = 0.0) -> bool:
    """Whether score ``a`` beats ``b`` by more than ``tol`` (relative)."""
    gap = (a - b) if direction == "maximize" else (b - a)
    return gap > tol * max(abs(b), 1e-12)


def best_verified(history: list[HistoryEntry], direction: str) -> HistoryEntry | None:
    """The verified entry with the best nominal score (earliest on ties)."""
    best = None
    for h in history:
        if h.verdict == "verified" and h.score is not None:
            if best is None or _better(h.score, best.score or 0.0, direction):
                best = h
    return best


def normalised_rewards(history: list[HistoryEntry], direction: str) -> dict[str, float]:
    """candidate_id -> reward in [REWARD_FLOOR, 1] for verified entries only."""
    scores = {h.candidate_id: h.score for h in history if h.verdict == "verified" and h.score is not None}
    if not scores:
        return {}
    vals = [s for s in scores.values() if s is not None]
    lo, hi = min(vals), max(vals)
    out = {}
    for cid, s in scores.items():
        assert s is not None
        frac = 1.0 if hi - lo < 1e-12 else (s - lo) / (hi - lo)
        out[cid] = REWARD_FLOOR + (1 - REWARD_FLOOR) * (frac if direction == "maximize" else 1 - frac)
    return out


def arm_stats(history: list[HistoryEntry], direction: str,
              space: SearchSpace | None = None) -> dict[tuple[str, str], tuple[int, float]]:
    """(dimension, value key) -> (pulls, summed verified reward). Agent errors are not pulls.

    With ``space``, a dimension inactive in a candidate (its ``when`` fails) earns nothing from it:
    the candidate's score says nothing about a value its submission never used.
    """
    rewards = normalised_rewards(history, direction)
    stats: dict[tuple[str, str], tuple[int, float]] = {}
    for h in history:
        if h.agent_error or h.verdict is None:
            continue
        used = h.used
        for dim, value in used.items():
            if space is not None and not _active(space, dim, used):
                continue
            n, s = stats.get((dim, _key(value)), (0, 0.0))
            stats[(dim, _key(value))] = (n + 1, s + rewards.get(h.candidate_id, 0.0))
    return stats


def expected_effect(priority: float, index: int) -> float:
    """Expected effect of a dimension's ``index``-th declared option: its priority / (index + 1).

    Options are declared best-first, so a dimension's later options promise less than the first
    option of the next dimension: after the top layout wins, the search tries the other top-ranked
    edits before the layout's runners-up.
    """
    return priority / (index + 1)


def _active(space: SearchSpace, name: str, choices: dict[str, Any]) -> bool:
    try:
        return space.dimension(name).active(choices)
    except KeyError:
        return True


def stall_length(history: list[HistoryEntry], direction: str) -> int:
    """Generations since the best verified score last improved or the weights were last updated."""
    best: float | None = None
    since = 0
    for h in history:
        if h.agent_error:
            continue
        since += 1
        if h.verdict == "verified" and h.score is not None and (
            best is None or _better(h.score, best, direction, IMPROVEMENT_TOL)
        ):
            best, since = h.score, 0
        if h.lever_after == "weights":
            since = 0
    return since


@register_agent("offline")
class OfflineAgent(Agent):
    """UCB1 over declared edits (verified rewards only) + a plateau rule for the weight lever."""

    def propose(self, ctx: ProposalContext) -> Candidate:
        history = [h for h in ctx.history if not h.agent_error]
        best = best_verified(history, ctx.direction)
        parent_id = best.candidate_id if best else None
        if ctx.hold_harness and best is not None:
            harness = best.harness
            notes = f"weights were updated; harness of {best.candidate_id} held unchanged"
        elif not history:
            harness, notes = self.space.start_harness(), "start harness declared by the task"
        else:
            harness, notes = self._edit(ctx, history, best)
        harness = self.space.validate_harness(harness)
        return Candidate(
            candidate_id=f"g{ctx.gen_index:04d}-c{ctx.candidate_index}", gen_index=ctx.gen_index,
            scaffold_files=self.space.scaffold_files(harness), harness=harness, parent_id=parent_id, notes=notes,
        )

    def _edit(self, ctx: ProposalContext, history: list[HistoryEntry],
              best: HistoryEntry | None) -> tuple[Harness, str]:
        rng = random.Random(self.seed * 1_000_003 + ctx.gen_index * 101 + ctx.candidate_index)
        parent = best.harness if best else self.space.start_harness()
        tried = {self.space.canonical_key(h.harness) for h in history}
        stats = arm_stats(history, ctx.direction, self.space)
        total = sum(n for n, _ in stats.values()) or 1
        scored: list[tuple[Any, ...]] = []
        for dim in self.space.dimensions:
            # An edit of a dimension the parent's other choices make irrelevant renders the same
            # submission: it would spend a generation measuring noise.
            if not dim.active(parent.choices):
                continue
            for index, value in enumerate(dim.options):
                if value == parent.choices.get(dim.name):
                    continue
                harness = Harness(choices={**parent.choices, dim.name: value}, delegate=parent.delegate)
                if self.space.canonical_key(harness) in tried:
                    continue
                n, s = stats.get((dim.name, _key(value)), (0, 0.0))
                ucb = math.inf if n == 0 else s / n + UCB_C * math.sqrt(2 * math.log(total + 1) / n)
                # Order: harness-decided dimensions before delegated ones (the task model overrides a
                # delegated value; the harness only holds its fallback), then UCB, then the expected
                # effect, then a seeded tie-break.
                owned = dim.name not in parent.delegate
                scored.append((owned, ucb, expected_effect(dim.priority, index), rng.random(), dim.name, value))
        if scored:
            _, ucb, _, _, name, value = max(scored)
            shown = "untried" if math.isinf(ucb) else f"{ucb:.3f}"
            return (Harness(choices={**parent.choices, name: value}, delegate=parent.delegate),
                    f"edit {name}={value!r} of {best.candidate_id if best else 'the start harness'} (UCB {shown})")
        for _ in range(200):
            choices = {d.name: rng.choice(d.options) for d in self.space.dimensions}
            harness = Harness(choices=choices, delegate=parent.delegate)
            if self.space.canonical_key(harness) not in tried:
                return harness, "every single edit tried; random restart"
        return parent, "search space exhausted; re-running the best harness"

    def feedback(self, trace: TraceView, history: list[HistoryEntry]) -> FeedbackAction:
        direction = trace.verdict.direction if trace.verdict else "maximize"
        best = best_verified(history, direction)
        stall = stall_length(history, direction)
        # Training needs rollouts: some verified candidate must have asked the task model something.
        has_model_data = any(h.verdict == "verified" and h.harness.delegate for h in history)
        if stall >= self.plateau_k and has_model_data:
            lever, reason = "weights", (
                f"best verified score has not improved by {IMPROVEMENT_TOL:.0%} for {stall} generations "
                f"(plateau_k={self.plateau_k}): update the task model on verified rollouts, harness held"
            )
        else:
            lever, reason = "harness", (
                f"{stall} generation(s) without improvement (plateau_k={self.plateau_k}): keep searching edits"
            )
        v = trace.verdict
        failed = [c for c in (v.checks if v else []) if not c.get("passed")]
        note = render_prompt(
            "offline_feedback",
            candidate_id=trace.candidate_id, gen_index=trace.gen_index,
            verdict=v.verdict if v else "none (no artifact)",
            score=_fmt(v.score if v else None), perturbed_score=_fmt(v.perturbed_score if v else None),
            drift=_fmt(v.drift if v else None),
            suspicious_note=("The verifier marked this candidate SUSPICIOUS (likely gaming the nominal suite); "
                             "its score earns no reward." if v and (v.suspicious or v.verdict == "suspicious")
                             else "No gaming signal."),
            failed_checks="\n".join(f"- {c['name']}: {c.get('detail', '')}" for c in failed[:10]) or "- none",
            choices="\n".join(f"- {c.dimension} = {c.value!r} ({c.source})" for c in trace.model_choices) or "- n/a",
            best=f"{best.candidate_id} ({_fmt(best.score)})" if best else "none verified yet",
            lever=lever, reason=reason,
        )
        return FeedbackAction(lever=lever, algorithm=None, reason=reason, improvement_md=note)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.6g}"
