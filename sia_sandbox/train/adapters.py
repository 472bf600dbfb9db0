"""Versioned LoRA adapters: ``adapters/<NNNN>/`` + a ``CURRENT`` pointer the gateway serves.

Each version holds peft's ``adapter_model.safetensors`` and ``adapter_config.json`` plus ``meta.json``
(which rollouts and verdicts trained it, the metrics, and its parent). A save writes into a temporary
directory and renames it, so a reader never sees half an adapter, then moves ``CURRENT`` to the new
version; ``rollback`` moves ``CURRENT`` back. Versions are never deleted.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict

from sia_sandbox.errors import ConfigError
from sia_sandbox.train.types import StepMetrics

log = structlog.get_logger(__name__)

CURRENT = "CURRENT"
META = "meta.json"
ADAPTER_CONFIG = "adapter_config.json"
SCHEMA_VERSION = 1


class AdapterMeta(BaseModel):
    """``meta.json`` of one adapter version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    version: int
    """Version number (the directory name, zero-padded to 4 digits)."""
    algo: str
    """Algorithm that trained it."""
    algo_reason: str = ""
    """Why that algorithm."""
    base_model: str
    """Model name or path the adapter applies to."""
    created_at: datetime
    """When it was saved (UTC)."""
    rollout_ids: list[str]
    """Rollouts it was trained on."""
    verdict_hashes: list[str]
    """Verdict hashes of those rollouts, same order."""
    metrics: list[StepMetrics]
    """Per-step metrics of the update."""
    parent_version: int | None
    """Adapter the update started from; None = fresh LoRA."""


def version_dir(adapters_dir: Path, version: int) -> Path:
    """``adapters_dir/<NNNN>``."""
    return Path(adapters_dir) / f"{version:04d}"


def list_versions(adapters_dir: Path) -> list[int]:
    """Every complete version (has ``meta.json``), ascending."""
    root = Path(adapters_dir)
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.name.isdigit() and (p / META).exists())


def latest_version(adapters_dir: Path) -> int | None:
    """The highest complete version, or None."""
    versions = list_versions(adapters_dir)
    return versions[-1] if versions else None


def current_version(adapters_dir: Path) -> int | None:
    """The version ``CURRENT`` points to, else the latest; None when there is none.

    Raises:
        ConfigError: ``CURRENT`` names a version that does not exist.
    """
    pointer = Path(adapters_dir) / CURRENT
    if pointer.exists():
        text = pointer.read_text().strip()
        if not text.isdigit() or int(text) not in list_versions(adapters_dir):
            raise ConfigError(
                f"{pointer} points to {text!r}, which is not a saved adapter version",
                hint=f"run rollback to one of {list_versions(adapters_dir)} to repair it",
            )
        return int(text)
    return latest_version(adapters_dir)


def read_meta(adapters_dir: Path, version: int) -> AdapterMeta:
    """Parse ``meta.json`` of ``version``."""
    return AdapterMeta.model_validate_json((version_dir(adapters_dir, version) / META).read_text())


def _write_pointer(adapters_dir: Path, version: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".current-", dir=adapters_dir)
    with os.fdopen(fd, "w") as f:
        f.write(f"{version:04d}\n")
    os.replace(tmp, Path(adapters_dir) / CURRENT)


def save_adapter(
    peft_model: Any, adapters_dir: Path, *, algo: str, base_model: str, rollout_ids: list[str],
    verdict_hashes: list[str], metrics: list[StepMetrics], parent_version: int | None, algo_reason: str = "",
) -> AdapterMeta:
    """Save the adapter weights of ``peft_model`` as the next version and point ``CURRENT`` at it.

    Returns:
        The written meta.
    """
    root = Path(adapters_dir)
    root.mkdir(parents=True, exist_ok=True)
    version = (latest_version(root) or 0) + 1
    meta = AdapterMeta(
        version=version, algo=algo, algo_reason=algo_reason, base_model=base_model,
        created_at=datetime.now(UTC), rollout_ids=rollout_ids, verdict_hashes=verdict_hashes,
        metrics=metrics, parent_version=parent_version,
    )
    tmp = Path(tempfile.mkdtemp(prefix=".adapter-", dir=root))
    try:
        peft_model.save_pretrained(str(tmp), safe_serialization=True)
        (tmp / META).write_text(meta.model_dump_json(indent=2))
        os.rename(tmp, version_dir(root, version))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_pointer(root, version)
    log.info("adapter.saved", version=version, algo=algo, path=str(version_dir(root, version)),
             n_rollouts=len(rollout_ids), parent_version=parent_version)
    return meta


def adapter_path(adapters_dir: Path, version: int | None = None) -> Path:
    """Directory of ``version`` (default: ``CURRENT`` or latest).

    Raises:
        ConfigError: there is no such version.
    """
    v = current_version(adapters_dir) if version is None else version
    if v is None or v not in list_versions(adapters_dir):
        raise ConfigError(
            f"no adapter version {v} under {adapters_dir}",
            hint=f"available versions: {list_versions(adapters_dir) or 'none (train first)'}",
        )
    return version_dir(adapters_dir, v)


def load_adapter_into(model: Any, adapters_dir: Path, version: int | None = None, *,
                      trainable: bool = False) -> Any:
    """Wrap a base ``model`` with the saved adapter ``version`` (default ``CURRENT``/latest).

    Raises:
        ConfigError: there is no such version.
    """
    from peft import PeftModel

    path = adapter_path(adapters_dir, version)
    return PeftModel.from_pretrained(model, str(path), is_trainable=trainable)


def rollback(adapters_dir: Path, version: int) -> None:
    """Point ``CURRENT`` at an existing ``version``; the newer versions stay on disk.

    Raises:
        ConfigError: ``version`` does not exist.
    """
    adapter_path(adapters_dir, version)
    _write_pointer(Path(adapters_dir), version)
    log.info("adapter.rolled_back", version=version, path=str(adapters_dir))


def adapter_config(adapters_dir: Path, version: int) -> dict[str, Any]:
    """The saved peft ``adapter_config.json`` of ``version``."""
    return json.loads((version_dir(adapters_dir, version) / ADAPTER_CONFIG).read_text())
