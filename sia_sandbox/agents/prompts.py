"""Prompt templates live in ``agents/prompts/<name>.md`` and are rendered by name (``string.Template``).

``$name`` placeholders are filled from keyword arguments; a missing one is an error, never a silent
blank, and ``$$`` writes a literal dollar. Golden tests (``tests/golden/``) lock the template text.
"""

from __future__ import annotations

import string
from pathlib import Path

from sia_sandbox.errors import ConfigError

PROMPTS_DIR = Path(__file__).parent / "prompts"


def prompt_path(name: str) -> Path:
    """Path of the template ``name`` (without ``.md``).

    Raises:
        ConfigError: no such template; the message lists the known ones.
    """
    path = PROMPTS_DIR / f"{name}.md"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.md")))
        raise ConfigError(f"unknown prompt template {name!r}", hint=f"known templates: {known}")
    return path


def render_prompt(name: str, **values: object) -> str:
    """Render template ``name`` with ``values``.

    Raises:
        ConfigError: unknown template, or a placeholder without a value (named in the message).
    """
    text = prompt_path(name).read_text(encoding="utf-8")
    try:
        return string.Template(text).substitute({k: str(v) for k, v in values.items()})
    except KeyError as e:
        raise ConfigError(
            f"prompt template {name!r} needs a value for ${e.args[0]}", hint="pass it to render_prompt"
        ) from e
