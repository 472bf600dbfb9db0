"""Run many sandbox specs concurrently on one backend, with clean cancellation.

Threads do the waiting (every backend's ``run`` blocks on a child, a container or a remote sandbox).
A semaphore per backend name caps how many sandboxes of that backend run at once in this process,
whatever the number of pools (default ``SandboxBackend.max_concurrency``); each pool also caps its own
threads.

Cleanup: on Ctrl-C (KeyboardInterrupt in the caller's thread) or when a run raises, the pool stops
submitting, cancels what has not started and asks the backend to kill what is running through its
``cancel_all()`` (docker, modal) or ``kill_all()`` (local) hook, then waits for those runs to return
before re-raising, so no sandbox outlives the call.

Not protected against: a backend without either hook (its running sandboxes finish on their own
timeout before the pool returns) and SIGKILL of this process (use ``DockerBackend.cleanup_leaked``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ALL_COMPLETED, FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import cast

import structlog

from sia_sandbox.audit import AuditLog
from sia_sandbox.errors import SandboxError
from sia_sandbox.sandbox.base import SandboxBackend
from sia_sandbox.sandbox.runner import new_sandbox_id, run_sandbox
from sia_sandbox.sandbox.types import SandboxResult, SandboxSpec

log = structlog.get_logger(__name__)

_SEMAPHORES: dict[str, threading.BoundedSemaphore] = {}
_SEM_LOCK = threading.Lock()


def backend_semaphore(backend: SandboxBackend) -> threading.BoundedSemaphore:
    """The process-wide semaphore of ``backend``'s name (created with its ``max_concurrency``)."""
    with _SEM_LOCK:
        sem = _SEMAPHORES.get(backend.name)
        if sem is None:
            sem = _SEMAPHORES[backend.name] = threading.BoundedSemaphore(max(1, backend.max_concurrency))
        return sem


class PoolCancelled(SandboxError):
    """A spec was not run because the pool was stopping (Ctrl-C or another run failed)."""


class SandboxPool:
    """Run specs concurrently on one backend.

    Args:
        backend: the backend every spec runs on.
        max_concurrency: most runs of this pool at once (default ``backend.max_concurrency``).
        audit: when given, each run is recorded through ``runner.run_sandbox``.
    """

    def __init__(self, backend: SandboxBackend, max_concurrency: int | None = None,
                 audit: AuditLog | None = None) -> None:
        self.backend = backend
        self.max_concurrency = max(1, max_concurrency or backend.max_concurrency)
        self.audit = audit
        self._stopping = threading.Event()
        self._sem = backend_semaphore(backend)

    def _run_one(self, spec: SandboxSpec, sandbox_id: str) -> SandboxResult:
        with self._sem:
            if self._stopping.is_set():
                raise PoolCancelled(f"sandbox {sandbox_id} not started: the pool is stopping")
            return run_sandbox(spec, backend=self.backend, audit=self.audit, sandbox_id=sandbox_id)

    def _cancel_running(self) -> int:
        hook: Callable[[], int] | None = getattr(self.backend, "cancel_all", None) or getattr(
            self.backend, "kill_all", None)
        if hook is None:
            log.warning("pool.no_cancel_hook", backend=self.backend.name)
            return 0
        return int(hook() or 0)

    def map(self, specs: Sequence[SandboxSpec]) -> list[SandboxResult]:
        """Run every spec; results come back in the order of ``specs``.

        A command that misbehaves is a result, never an exception. An exception is a failure of the
        platform (bad spec, backend down): the first one stops the pool (pending specs are cancelled,
        running sandboxes killed) and is re-raised. Use ``map_settled`` to keep going instead.

        Raises:
            KeyboardInterrupt: after every running sandbox was killed and reaped.
            SiaError: the first run that raised.
        """
        out: list[SandboxResult] = []
        for r in self._map(specs, settle=False):
            assert isinstance(r, SandboxResult)
            out.append(r)
        return out

    def map_settled(self, specs: Sequence[SandboxSpec]) -> list[SandboxResult | BaseException]:
        """Like ``map`` but every spec runs; a run that raised gives its exception in its place.

        Raises:
            KeyboardInterrupt: after every running sandbox was killed and reaped.
        """
        return self._map(specs, settle=True)

    def _map(self, specs: Sequence[SandboxSpec], *, settle: bool) -> list[SandboxResult | BaseException]:
        self._stopping.clear()
        ids = [new_sandbox_id() for _ in specs]
        with ThreadPoolExecutor(self.max_concurrency, thread_name_prefix=f"sia-{self.backend.name}") as ex:
            futures = [ex.submit(self._run_one, s, i) for s, i in zip(specs, ids, strict=True)]
            try:
                wait(futures, return_when=ALL_COMPLETED if settle else FIRST_EXCEPTION)
                failed = next((f for f in futures if f.done() and f.exception() is not None), None)
                if failed is not None and not settle:
                    self._stop(futures)
                    raise cast(BaseException, failed.exception())
            except BaseException:
                # Ctrl-C lands here in the caller's thread; the workers keep running until killed.
                self._stop(futures)
                raise
        return [f.exception() or f.result() for f in futures]

    def _stop(self, futures: list[Future[SandboxResult]]) -> None:
        """Stop submitting, cancel pending runs, kill running sandboxes and wait for their threads."""
        if self._stopping.is_set() and all(f.done() for f in futures):
            return
        self._stopping.set()
        pending = sum(f.cancel() for f in futures)
        killed = self._cancel_running()
        # Kill again until every worker has returned: a run may have created its sandbox just after
        # the previous sweep.
        while True:
            _, running = wait(futures, timeout=0.5)
            if not running:
                break
            killed += self._cancel_running()
        log.warning("pool.stopped", backend=self.backend.name, cancelled=pending, killed=killed)
