"""SandboxPool on the real backends: ordering, failure propagation, Ctrl-C cleanup (no orphans)."""

from __future__ import annotations

import _thread
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path, PurePosixPath

import pytest

from sia_sandbox.errors import SandboxSpecError
from sia_sandbox.sandbox import Limits, Mount, SandboxBackend, SandboxSpec, get_backend
from sia_sandbox.sandbox.pool import SandboxPool, backend_semaphore

LIM = Limits(timeout_s=30, memory_mb=256, pids=64, cpus=1)


def _usable(name: str) -> SandboxBackend:
    be = get_backend(name)
    st = be.status()
    if not st.usable:
        pytest.skip(f"{name} not usable: {st.detail}")
    return be


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def backend(request: pytest.FixtureRequest) -> SandboxBackend:
    return _usable(request.param)


def _alive(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if marker in line and "ps -eo" not in line]


def test_map_keeps_order(backend: SandboxBackend) -> None:
    specs = [SandboxSpec(command=["sh", "-c", f"sleep 0.$((5 - {i})); echo {i}"], limits=LIM) for i in range(5)]
    results = SandboxPool(backend, max_concurrency=3).map(specs)
    assert [r.stdout.strip() for r in results] == [str(i) for i in range(5)]
    assert all(r.reason == "ok" for r in results)


def test_semaphore_is_per_backend(backend: SandboxBackend) -> None:
    assert backend_semaphore(backend) is backend_semaphore(get_backend(backend.name))


def test_first_failure_stops_the_pool(backend: SandboxBackend) -> None:
    bad = SandboxSpec(command=["true"], ro_mounts=[Mount(host=Path("/nonexistent-sia"), sandbox=PurePosixPath("/in"))])
    specs = [SandboxSpec(command=["sleep", "0.2"], limits=LIM), bad, *[SandboxSpec(command=["true"], limits=LIM)] * 3]
    with pytest.raises(SandboxSpecError):
        SandboxPool(backend, max_concurrency=2).map(specs)
    settled = SandboxPool(backend, max_concurrency=2).map_settled(specs[:2])
    assert settled[0].reason == "ok" and isinstance(settled[1], SandboxSpecError)  # type: ignore[union-attr]


def test_ctrl_c_kills_running_sandboxes(backend: SandboxBackend) -> None:
    marker = f"{uuid.uuid4().int % 10**6}.{os.getpid() % 1000}7"
    # Local has no cancel hook yet: keep its timeout short so the pool's reap is quick either way.
    lim = LIM.model_copy(update={"timeout_s": 4})
    specs = [SandboxSpec(command=["sleep", marker], limits=lim) for _ in range(3)]

    def interrupt_when_running() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(_alive(marker)) < 2:
            time.sleep(0.05)
        _thread.interrupt_main()

    threading.Thread(target=interrupt_when_running, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        SandboxPool(backend, max_concurrency=2).map(specs)
    assert _alive(marker) == []
    if backend.name == "docker":
        client = backend.client()  # type: ignore[attr-defined]
        mine = {"label": f"sia_sandbox.owner_pid={os.getpid()}"}
        assert [c.name for c in client.containers.list(all=True, filters=mine)] == []
