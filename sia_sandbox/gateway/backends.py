"""Model backends of the gateway: the interface and the ``@register_model_backend`` registry.

Built-in backends live in their own modules and are imported only when asked for, so the ``openai``,
``anthropic`` and ``transformers`` SDKs stay optional: ``local`` (a transformers causal LM + LoRA
adapter), ``openai-compatible`` (e.g. vLLM) and ``anthropic``. Plugins register through the
``sia_sandbox.model_backends`` entry-point group.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from sia_sandbox.errors import GatewayError
from sia_sandbox.registry import Registry
from sia_sandbox.gateway.types import Generation, GenerationRequest

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


MODEL_BACKENDS: Registry[ModelBackend] = Registry("model backend", "sia_sandbox.model_backends", {
    "local": "sia_sandbox.gateway.backend_local",
    "openai-compatible": "sia_sandbox.gateway.backend_openai",
    "anthropic": "sia_sandbox.gateway.backend_anthropic",
})


def register_model_backend(name: str) -> Callable[[M], M]:
    """Class decorator that makes a model backend available under ``name``."""
    return MODEL_BACKENDS.register(name)


def available_model_backends() -> list[str]:
    """Names of the built-in and registered model backends."""
    return MODEL_BACKENDS.names()


def get_model_backend(name: str, **kwargs: Any) -> ModelBackend:
    """Instantiate the model backend registered as ``name`` with ``kwargs``.

    Raises:
        ConfigError: no backend has that name (the message lists them), or its SDK is not installed.
    """
    return MODEL_BACKENDS.get(name)(**kwargs)
