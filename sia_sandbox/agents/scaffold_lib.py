"""Helpers of every scaffold, copied next to its ``main.py``. Standard library only: runs in the sandbox.

A scaffold reads ``harness.json`` (the declared choices), asks the task model through the gateway for
the delegated ones, rewrites the matching module-level constants of ``base_submission.py`` and writes
``/out/submission.py`` plus ``/out/scaffold_trace.json`` (where each value came from). This file is
untrusted like the rest of the scaffold: nothing it writes is believed without the verifier.
"""

from __future__ import annotations

import json
import os
import re
import string
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = Path(os.environ.get("SIA_OUT_DIR", "/out"))
LETTERS = "ABCDEFGH"
MAX_COMPLETION_CHARS = 200


def load_harness() -> dict[str, Any]:
    """The scaffold's ``harness.json``."""
    return json.loads((HERE / "harness.json").read_text(encoding="utf-8"))


def _literal(value: Any) -> str:
    # TOML has no tuples; constants such as NGRAM_RANGE must stay tuples in the submission.
    return repr(tuple(value)) if isinstance(value, list) else repr(value)


def rewrite_constants(source: str, choices: dict[str, Any]) -> str:
    """Replace each top-level ``NAME = ...`` line of ``source`` with the chosen value.

    Raises:
        ValueError: a constant is not defined at the top level of ``source``.
    """
    for name, value in choices.items():
        pattern = re.compile(rf"^{re.escape(name)}\s*(:[^=]*)?=.*$", re.M)
        if not pattern.search(source):
            raise ValueError(f"base submission defines no top-level constant {name}")
        line = f"{name} = {_literal(value)}"
        source = pattern.sub(lambda _m, line=line: line, source, count=1)
    return source


def render_prompt(summary: str, dim: dict[str, Any]) -> str:
    """The question asked to the task model for one dimension (``choose_option.md``)."""
    template = string.Template((HERE / "choose_option.md").read_text(encoding="utf-8"))
    options = " ".join(f"{LETTERS[i]}) {v}" for i, v in enumerate(dim["options"][: len(LETTERS)]))
    return template.substitute(summary=summary, dimension=dim["name"], description=dim.get("description", ""),
                               options=options, letters=LETTERS[: min(len(dim["options"]), len(LETTERS))])


def parse_choice(completion: str, options: list[Any]) -> Any | None:
    """The option whose letter appears first in ``completion`` (either case), or None.

    Lenient on purpose: small task models rarely answer with a bare letter, and a choice that is
    noisy but really the model's gives the weight lever something to learn from.
    """
    letters = LETTERS[: min(len(options), len(LETTERS))]
    for ch in completion:
        idx = letters.find(ch.upper())
        if idx >= 0:
            return options[idx]
    return None


def ask_model(summary: str, dim: dict[str, Any], fallback: Any) -> dict[str, Any]:
    """Ask the task model (through the gateway) to pick one of ``dim``'s options; record where it came from."""
    try:
        import sia_client

        completion = sia_client.chat([{"role": "user", "content": render_prompt(summary, dim)}],
                                     max_tokens=8, temperature=1.0)
    except Exception as e:  # noqa: BLE001 - an unreachable gateway or a spent budget means: use the harness value
        return {"dimension": dim["name"], "value": fallback, "source": "fallback",
                "completion": f"<{type(e).__name__}: {str(e)[:120]}>"}
    value = parse_choice(completion, dim["options"])
    source = "model" if value is not None else "fallback"
    return {"dimension": dim["name"], "value": fallback if value is None else value, "source": source,
            "completion": completion[:MAX_COMPLETION_CHARS]}


def decide(harness: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Final value of every dimension and the trace of how each was decided."""
    choices = dict(harness["choices"])
    trace = []
    for dim in harness["dimensions"]:
        name = dim["name"]
        if name in harness.get("delegate", []):
            entry = ask_model(harness.get("summary", ""), dim, choices[name])
            choices[name] = entry["value"]
        else:
            entry = {"dimension": name, "value": choices[name], "source": "harness", "completion": ""}
        trace.append(entry)
    return choices, trace


def write_outputs(source: str, trace: list[dict[str, Any]]) -> None:
    """Write ``/out/submission.py`` and ``/out/scaffold_trace.json``."""
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "submission.py").write_text(source, encoding="utf-8")
    (OUT / "scaffold_trace.json").write_text(json.dumps({"choices": trace}, indent=2) + "\n", encoding="utf-8")


def render_and_write(source: str, check: Callable[[str], object] | None = None) -> int:
    """The scaffold's whole job: decide every dimension, render ``source``, check it, write ``/out``.

    ``check`` runs on the rendered source before anything is written (a syntax check, a smoke test on toy
    inputs), so a broken edit fails in the scaffold instead of costing a verifier run.
    """
    choices, trace = decide(load_harness())
    rendered = rewrite_constants(source, choices)
    if check is not None:
        check(rendered)
    write_outputs(rendered, trace)
    for entry in trace:
        print(f"{entry['dimension']} = {entry['value']!r} ({entry['source']})", file=sys.stderr)
    return 0


def main() -> int:
    """The default program of a task's scaffold template: render ``base_submission.py``."""
    return render_and_write((HERE / "base_submission.py").read_text(encoding="utf-8"))
