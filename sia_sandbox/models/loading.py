"""``load_causal_lm``: one way to get (model, tokenizer) for a name, offline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from sia_sandbox.errors import ConfigError

log = structlog.get_logger(__name__)


def model_cache_dir() -> Path:
    """``$SIA_CACHE_DIR`` (default ``~/.cache/sia_sandbox``), where converted models live."""
    from sia_sandbox.config import get_settings

    return Path(get_settings().cache_dir).expanduser()


def _tiny_path() -> Path:
    from sia_sandbox.models.tiny import ensure_tiny

    return ensure_tiny(model_cache_dir())


def _gemma_path() -> Path:
    from sia_sandbox.models.gemma import ensure_gemma

    return ensure_gemma(model_cache_dir())


# Named models resolve to a local directory; anything else must already be one.
_NAMED: dict[str, Callable[[], Path]] = {"tiny": _tiny_path, "gemma3-270m": _gemma_path}


def available_models() -> list[str]:
    """The built-in model names (a local directory is accepted too)."""
    return sorted(_NAMED)


def resolve_model_dir(name: str) -> Path:
    """The local directory holding ``name``'s weights, building or converting it on first use.

    Raises:
        ConfigError: ``name`` is neither a built-in name nor an existing directory.
    """
    if name in _NAMED:
        return _NAMED[name]()
    path = Path(name).expanduser()
    if path.is_dir() and (path / "config.json").exists():
        return path
    raise ConfigError(
        f"unknown model {name!r}: not a built-in name and not a directory with config.json",
        hint=f"use one of {', '.join(available_models())} or a local transformers model directory",
    )


def load_causal_lm(
    name: str, *, device: str = "cpu", adapter_dir: Path | None = None
) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer, offline.

    Args:
        name: ``"tiny"``, ``"gemma3-270m"`` or a local model directory.
        device: torch device string.
        adapter_dir: a peft adapter directory to load on top (inference mode); None = base model.

    Returns:
        ``(model, tokenizer)``; the model is in eval mode, float32, on ``device``.

    Raises:
        ConfigError: unknown name, missing GGUF package, or a missing adapter directory.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    # Progress bars would go to the CLI's stderr on every load; our own log line says what loaded.
    hf_logging.disable_progress_bar()
    path = resolve_model_dir(name)
    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, dtype="float32")
    if adapter_dir is not None:
        if not (Path(adapter_dir) / "adapter_config.json").exists():
            raise ConfigError(
                f"adapter directory {adapter_dir} has no adapter_config.json",
                hint="pass a directory written by sia_sandbox.train.adapters.save_adapter",
            )
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
    model.to(device)
    model.eval()
    log.debug("model.loaded", name=name, path=str(path), device=device, adapter=str(adapter_dir))
    return model, tok
