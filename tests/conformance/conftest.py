"""Backends the conformance suite runs on: every registered backend that is usable on this machine.

``local`` runs when its status is usable; ``docker`` when the engine answers and the current scaffold
image exists (``scripts/start_dockerd.sh && make images``); ``modal`` never here (it needs the real
service; see tests/unit/test_modal_backend.py). Unusable backends are skipped with the reason.
"""

from __future__ import annotations

import functools
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sia_sandbox.sandbox import SandboxBackend, get_backend

CONFORMANCE_BACKENDS = ("local", "docker")


@functools.cache
def _backend_or_reason(name: str) -> tuple[SandboxBackend | None, str]:
    try:
        be = get_backend(name)
    except Exception as e:  # an unregistered or broken backend module: skip with the error
        return None, f"{name} backend unavailable: {e}"
    st = be.status()
    if not st.usable:
        return None, f"{name} backend not usable here: {st.detail} (fix: {st.fix})"
    return be, ""


@pytest.fixture(params=[pytest.param(n, marks=[pytest.mark.docker] if n == "docker" else []) for n in CONFORMANCE_BACKENDS],
                scope="module")
def backend(request: pytest.FixtureRequest) -> SandboxBackend:
    be, reason = _backend_or_reason(request.param)
    if be is None:
        pytest.skip(reason)
    return be


@pytest.fixture(scope="module")
def loopback_listener() -> Iterator[int]:
    """A TCP listener on the host (all interfaces) that answers b"HOST"; yields its port."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"HOST")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(2)
    srv.close()


@pytest.fixture
def host_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A fresh host directory that a sandbox uid can traverse (pytest's tmp_path parents are 0700)."""
    d = Path(tempfile.mkdtemp(prefix="sia-conf-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)
