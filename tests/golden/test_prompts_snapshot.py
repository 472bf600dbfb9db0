"""Golden snapshots of every agent prompt template, rendered with fixed values.

A prompt change must show up in review as a snapshot diff. Regenerate with
``SIA_UPDATE_GOLDEN=1 pytest tests/golden``.
"""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest

from sia_sandbox.agents.prompts import PROMPTS_DIR, render_prompt
from sia_sandbox.errors import ConfigError

SNAPSHOTS = Path(__file__).parent / "snapshots"
TEMPLATES = sorted(p.stem for p in PROMPTS_DIR.glob("*.md"))


def _placeholders(name: str) -> list[str]:
    text = (PROMPTS_DIR / f"{name}.md").read_text(encoding="utf-8")
    return sorted({m.group("named") or m.group("braced") for m in string.Template.pattern.finditer(text)
                   if m.group("named") or m.group("braced")})


def test_every_expected_template_exists():
    assert {"claude_meta_system", "claude_meta_user", "claude_feedback_system", "claude_feedback_user",
            "offline_feedback", "scaffold_choose_option"} <= set(TEMPLATES)


@pytest.mark.parametrize("name", TEMPLATES)
def test_prompt_matches_snapshot(name):
    rendered = render_prompt(name, **{k: f"<{k}>" for k in _placeholders(name)})
    snap = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("SIA_UPDATE_GOLDEN") == "1":
        snap.write_text(rendered, encoding="utf-8")
    assert snap.exists(), f"no snapshot for prompt {name}; create it with SIA_UPDATE_GOLDEN=1"
    assert rendered == snap.read_text(encoding="utf-8"), f"prompt {name} changed; update {snap} if intended"


def test_a_missing_value_is_an_error_not_a_blank():
    with pytest.raises(ConfigError) as e:
        render_prompt("offline_feedback")
    assert "$" in e.value.message


def test_unknown_template_lists_known_ones():
    with pytest.raises(ConfigError) as e:
        render_prompt("no_such_prompt")
    assert "offline_feedback" in (e.value.hint or "")
