"""Model gateway: the only way a sandbox reaches a model (a Unix socket per sandbox run), recording every call.

Quick use (platform side)::

    store = RolloutStore(run_dir / "rollouts.db")
    backend = get_model_backend("local", model="tiny", adapters_dir=run_dir / "adapters")
    with Gateway(store, backend, run_id, GatewayBudgets(max_calls=200)) as gw:
        gw.start(Path("/tmp/sia-run/gateway.sock"))
        store.record_sandbox_run(sbx_id, run_id, gen_index, candidate_id, "scaffold")
        sock = gw.open_session(sbx_id)          # -> SandboxSpec(network="gateway", gateway_socket=sock)
        ...run the sandbox...
        gw.close_session(sbx_id)
        gw.raise_if_budget_exceeded()

Inside the sandbox, ``sia_client.chat(messages)`` (``gateway/client/sia_client.py``, stdlib only) or the
openai SDK over the socket (see ``sia_client.openai_client``).
"""

from __future__ import annotations

from pathlib import Path

from sia_sandbox.gateway.backends import (
    BackendRequestError,
    ModelBackend,
    UpstreamError,
    available_model_backends,
    get_model_backend,
    register_model_backend,
)
from sia_sandbox.gateway.server import Gateway
from sia_sandbox.gateway.types import GatewayBudgets, Generation, GenerationRequest, render_messages

CLIENT_DIR = Path(__file__).parent / "client"
"""Host directory holding ``sia_client.py``; mount it read-only at ``/opt/sia/client`` in a sandbox."""

__all__ = [
    "CLIENT_DIR",
    "BackendRequestError",
    "Gateway",
    "GatewayBudgets",
    "Generation",
    "GenerationRequest",
    "ModelBackend",
    "UpstreamError",
    "available_model_backends",
    "get_model_backend",
    "register_model_backend",
    "render_messages",
]
