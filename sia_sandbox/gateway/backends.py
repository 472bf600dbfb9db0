"""Model backends of the gateway: the interface and the ``@register_model_backend`` registry.

Built-in backends live in their own modules and are imported only when asked for, so the ``openai``,
``anthropic`` and ``transformers`` SDKs stay optional: ``local`` (a transformers causal LM + LoRA
adapter), ``openai-compatible`` (e.g. vLLM) and ``anthropic``. Plugins register through the
``sia_sandbox.model_backends`` entry-point group.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, ClassVar, TypeVar

from sia_sandbox.errors import ConfigError, GatewayError
from sia_sandbox.gateway.types import Generation, GenerationRequest

_BACKENDS: dict[str, type[ModelBackend]] = {}
_BUILTIN: dict[str, str] = {
    "local": "sia_sandbox.gateway.backend_local",
    "openai-compatible": "sia_sandbox.gateway.backend_openai",
    "anthropic": "sia_sandbox.gateway.backend_anthropic",
}
_plugins_loaded = False

M = TypeVar("M", bound="type[ModelBackend]")


class BackendRequestError(GatewayError):
    """The request cannot be served by this backend as written (the client's fault: HTTP 400)."""


class UpstreamError(GatewayError):
    """The remote model API failed after the SDK's retries (HTTP 502 to the client).

    The message names the status and error class only, never the upstream body, which may echo
    credentials or internal URLs.
    """


class ModelBackend(abc.ABC):
    """Generates one completion per request. Implementations must be safe to call from many threads."""

    name: ClassVar[str]

    @property
    @abc.abstractmethod
    def model_name(self) -> str:
        """The model id served (``/v1/models``, ``ModelCall.model``)."""

    @abc.abstractmethod
    def generate(self, request: GenerationRequest) -> Generation:
        """Generate one completion.

        Raises:
            BackendRequestError: the request is invalid for this backend (e.g. an unsupported role).
            UpstreamError: a remote API failed after retries.
        """

    def secrets(self) -> list[str]:
        """Credentials this backend holds; the gateway scrubs them from everything it serves."""
        return []

    def close(self) -> None:
        """Release clients, models and threads."""


def register_model_backend(name: str) -> Callable[[M], M]:
    """Class decorator that makes a model backend available under ``name``."""

    def deco(cls: M) -> M:
        cls.name = name
        _BACKENDS[name] = cls
        return cls

    return deco


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group="sia_sandbox.model_backends"):
        ep.load()


def available_model_backends() -> list[str]:
    """Names of the built-in and registered model backends."""
    _load_plugins()
    return sorted({*_BACKENDS, *_BUILTIN})


def get_model_backend(name: str, **kwargs: Any) -> ModelBackend:
    """Instantiate the model backend registered as ``name`` with ``kwargs``.

    Raises:
        ConfigError: no backend has that name (the message lists them), or its SDK is not installed.
    """
    if name not in _BACKENDS and name in _BUILTIN:
        try:
            importlib.import_module(_BUILTIN[name])
        except ModuleNotFoundError as e:
            raise ConfigError(
                f"model backend {name!r} needs the {e.name!r} package, which is not installed",
                hint=f"run `pip install {e.name}`",
            ) from e
    if name not in _BACKENDS:
        _load_plugins()
    try:
        cls = _BACKENDS[name]
    except KeyError:
        raise ConfigError(
            f"unknown model backend {name!r}", hint=f"choose one of: {', '.join(available_model_backends())}"
        ) from None
    return cls(**kwargs)
