"""The Claude agent: Meta-Agent and Feedback-Agent on the Anthropic messages API (``anthropic`` SDK).

Answers are structured through forced tool calls (``write_scaffold`` / ``choose_action``) whose JSON
schemas come from the task's search space, so a reply is either a valid value or a retry. Rate limits
(429), overload (529), server errors (5xx) and connection errors are retried with exponential backoff
and, when retries run out, raised as ``AgentCallError``: the loop records ``agent_error`` and never
scores them as a task failure. The API key is read from ``ANTHROPIC_API_KEY`` in the platform's
environment only; it never enters a sandbox or the audit log.
"""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any

import structlog
from pydantic import ValidationError

from sia_sandbox.agents.base import Agent, AgentCallError
from sia_sandbox.agents.prompts import render_prompt
from sia_sandbox.agents.registry import register_agent
from sia_sandbox.agents.task_space import SearchSpace
from sia_sandbox.agents.types import Candidate, FeedbackAction, Harness, HistoryEntry, ProposalContext, TraceView
from sia_sandbox.errors import ConfigError

log = structlog.get_logger(__name__)

DEFAULT_MODEL = "claude-sonnet-4-6"
API_KEY_ENV = "ANTHROPIC_API_KEY"
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
MAX_BACKOFF_S = 60.0
MAX_HISTORY_ROWS = 30


def scaffold_tool(space: SearchSpace) -> dict[str, Any]:
    """``write_scaffold``: declared choices (enums from the search space), optional main.py, notes."""
    names = [d.name for d in space.dimensions]
    return {
        "name": "write_scaffold",
        "description": "Write the next scaffold: a value for each declared dimension, which of them the task "
                       "model should pick at run time, and optionally a full replacement of main.py.",
        "input_schema": {
            "type": "object",
            "properties": {
                "choices": {"type": "object", "additionalProperties": False,
                            "properties": {d.name: {"enum": d.options, "description": d.description}
                                           for d in space.dimensions}},
                "delegate": {"type": "array", "items": {"enum": names}, "uniqueItems": True},
                "main_py": {"type": "string", "description": "Optional: the whole new main.py (stdlib only)."},
                "notes": {"type": "string", "description": "What you changed and why, one paragraph."},
            },
            "required": ["choices", "notes"],
        },
    }


CHOOSE_ACTION_TOOL: dict[str, Any] = {
    "name": "choose_action",
    "description": "Write the improvement note for this candidate and choose the next lever.",
    "input_schema": {
        "type": "object",
        "properties": {
            "lever": {"enum": ["harness", "weights"]},
            "algorithm": {"type": ["string", "null"],
                          "description": "Training algorithm for lever=weights, or null for the reward-shape rule."},
            "reason": {"type": "string"},
            "improvement_md": {"type": "string", "description": "Markdown improvement note."},
        },
        "required": ["lever", "reason", "improvement_md"],
    },
}


def _history_table(history: list[HistoryEntry]) -> str:
    rows = ["| gen | candidate | verdict | score | perturbed | lever after | choices |", "|---|---|---|---|---|---|---|"]
    for h in history[-MAX_HISTORY_ROWS:]:
        rows.append(f"| {h.gen_index} | {h.candidate_id} | {h.verdict or 'agent_error'} | {h.score} | "
                    f"{h.perturbed_score} | {h.lever_after or '-'} | {json.dumps(h.used, sort_keys=True)} |")
    return "\n".join(rows) if history else "(no candidates yet)"


def _dimensions(space: SearchSpace) -> str:
    return "\n".join(f"- `{d.name}` in {json.dumps(d.options)}{' (task model may pick)' if d.model_choice else ''}: "
                     f"{d.description}" for d in space.dimensions)


@register_agent("claude")
class ClaudeAgent(Agent):
    """Meta/Feedback agent on Claude.

    Args:
        space: the task's search space.
        model: Anthropic model id.
        base_url: API root (None = ``ANTHROPIC_BASE_URL`` or the SDK default).
        max_attempts: tries per call on retryable errors and malformed answers.
        backoff_s: first backoff; doubles per attempt (jittered, capped at ``MAX_BACKOFF_S``).
        max_tokens: answer budget per call.

    Raises:
        ConfigError: ``ANTHROPIC_API_KEY`` is not set, or the anthropic SDK is missing.
    """

    def __init__(self, space: SearchSpace, *, plateau_k: int = 2, seed: int = 0, model: str = DEFAULT_MODEL,
                 base_url: str | None = None, max_attempts: int = 4, backoff_s: float = 2.0,
                 max_tokens: int = 8192, timeout_s: float = 300.0) -> None:
        super().__init__(space, plateau_k=plateau_k, seed=seed)
        key = os.environ.get(API_KEY_ENV)
        if not key:
            raise ConfigError(f"the claude agent needs {API_KEY_ENV}", hint="export it, or use --agent offline")
        try:
            import anthropic
        except ModuleNotFoundError as e:
            raise ConfigError("the claude agent needs the anthropic SDK",
                              hint="pip install -e '.[gateway]'") from e
        self._anthropic = anthropic
        self.model = model
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_tokens = max_tokens
        # The SDK's own retries are off: ours count attempts and classify failures as agent errors.
        self.client = anthropic.Anthropic(api_key=key, base_url=base_url, max_retries=0, timeout=timeout_s)
        self._rng = random.Random(seed)

    def _retry_after(self, err: Any, attempt: int) -> float:
        headers = getattr(getattr(err, "response", None), "headers", None) or {}
        for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
            try:
                if headers.get(name) is not None:
                    return min(MAX_BACKOFF_S, float(headers[name]) * scale)
            except ValueError:
                pass
        return min(MAX_BACKOFF_S, self.backoff_s * 2 ** (attempt - 1) * (0.5 + self._rng.random()))

    def _tool_call(self, system: str, user: str, tool: dict[str, Any]) -> dict[str, Any]:
        """One forced tool call, with retries; returns the tool input.

        Raises:
            AgentCallError: retries exhausted, a non-retryable API error, or no valid tool call.
        """
        a = self._anthropic
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                msg = self.client.messages.create(
                    model=self.model, max_tokens=self.max_tokens, system=system,
                    messages=[{"role": "user", "content": user}], tools=[tool],
                    tool_choice={"type": "tool", "name": tool["name"]},
                )
            except (a.RateLimitError, a.InternalServerError, a.APIConnectionError) as e:
                last = f"{type(e).__name__}: {getattr(e, 'status_code', '')}".strip()
                wait = self._retry_after(e, attempt)
            except a.APIStatusError as e:
                if e.status_code not in RETRY_STATUSES:
                    raise AgentCallError(f"Claude API refused the call ({e.status_code} {type(e).__name__})",
                                         hint="check the model name and ANTHROPIC_API_KEY") from e
                last, wait = f"{type(e).__name__}: {e.status_code}", self._retry_after(e, attempt)
            else:
                for block in msg.content:
                    if block.type == "tool_use" and block.name == tool["name"] and isinstance(block.input, dict):
                        return dict(block.input)
                last, wait = f"no {tool['name']} tool call in the answer (stop_reason={msg.stop_reason})", 0.0
            log.warning("agent_call.retried", tool=tool["name"], attempt=attempt, error=last)
            if attempt < self.max_attempts:
                time.sleep(wait)
        raise AgentCallError(f"Claude call {tool['name']} failed after {self.max_attempts} attempts: {last}",
                             hint="rate limits and outages are retried; the generation is recorded as agent_error")

    def propose(self, ctx: ProposalContext) -> Candidate:
        if ctx.hold_harness and ctx.best is not None:
            harness = self.space.validate_harness(ctx.best.harness)
            return Candidate(candidate_id=f"g{ctx.gen_index:04d}-c{ctx.candidate_index}", gen_index=ctx.gen_index,
                             scaffold_files=self.space.scaffold_files(harness), harness=harness,
                             parent_id=ctx.best.candidate_id, notes="weights updated; harness held")
        system = render_prompt("claude_meta_system", task=ctx.task)
        user = render_prompt(
            "claude_meta_user", task=ctx.task, task_doc=ctx.task_doc[:12000], direction=ctx.direction,
            dimensions=_dimensions(self.space), history=_history_table(ctx.history),
            best=f"{ctx.best.candidate_id} {json.dumps(ctx.best.used, sort_keys=True)} score {ctx.best.score}"
            if ctx.best else "none verified yet",
            last_improvement=ctx.last_improvement[:6000] or "(none)",
            template=self.space.template_path.read_text(encoding="utf-8"),
        )
        answer = self._tool_call(system, user, scaffold_tool(self.space))
        try:
            harness = self.space.validate_harness(Harness(choices=answer.get("choices") or {},
                                                          delegate=list(answer.get("delegate") or [])))
        except (ValueError, ValidationError) as e:
            raise AgentCallError(f"Claude's write_scaffold answer is outside the search space: {e}") from e
        main_py = answer.get("main_py") if isinstance(answer.get("main_py"), str) and answer.get("main_py") else None
        return Candidate(
            candidate_id=f"g{ctx.gen_index:04d}-c{ctx.candidate_index}", gen_index=ctx.gen_index,
            scaffold_files=self.space.scaffold_files(harness, main_py=main_py), harness=harness,
            parent_id=ctx.best.candidate_id if ctx.best else None, notes=str(answer.get("notes", ""))[:4000],
        )

    def feedback(self, trace: TraceView, history: list[HistoryEntry]) -> FeedbackAction:
        system = render_prompt("claude_feedback_system", task=trace.task)
        user = render_prompt("claude_feedback_user", trace=trace.model_dump_json(indent=1),
                             history=_history_table(history), plateau_k=self.plateau_k)
        answer = self._tool_call(system, user, CHOOSE_ACTION_TOOL)
        try:
            return FeedbackAction(lever=answer.get("lever"), algorithm=answer.get("algorithm") or None,
                                  reason=str(answer.get("reason", "")),
                                  improvement_md=str(answer.get("improvement_md", "")))
        except ValidationError as e:
            raise AgentCallError(f"Claude's choose_action answer is invalid: {e.errors()[0]['msg']}") from e
