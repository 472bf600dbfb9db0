"""Trusted side of the kernel runner protocol: a long-lived candidate sandbox driven over FIFOs.

The verifier owns the clock. For each call it starts ``time.perf_counter_ns()``, streams a fresh
input into the command FIFO with a random nonce, and stops the clock when the last byte of the
matching ``done`` payload (the output as raw float32) has arrived. Those bytes are the snapshot
that gets checked: the sandbox never sees an input before the clock starts, never sees expected
outputs, and nothing it does after ``done`` reaches the verifier. See ``runner_kernel.py``.

The FIFOs live in a read-only mount (FIFOs stay writable there), because the local backend stages
read-write mounts on a tmpfs and copies them back only after the run.

Not protected against: a candidate that slows down the verifier's own process (shared CPU); the
calibrated overhead is the minimum over no-op calls made before candidate code is imported, so such
slowdowns only make the candidate look slower.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import threading
import time
from typing import Any

import numpy as np
import structlog
from pydantic import BaseModel, ConfigDict

from sia_sandbox.errors import SandboxError, VerifierError
from sia_sandbox.sandbox.types import Limits, Mount, SandboxResult
from sia_sandbox.verify.harness import CODE_DIR, IO_DIR, SuiteDirs, make_spec, run_spec

log = structlog.get_logger(__name__)

_MAX_HEADER = 1 << 16


class CallResult(BaseModel):
    """One call as the verifier observed it."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    ok: bool
    """The runner answered ``done`` with the right nonce and size in time."""
    wall_ns: int = 0
    """Verifier-measured round trip (input transfer + call + output transfer)."""
    event_ms: float | None = None
    """CUDA-event time the runner reported (untrusted; compared with ``wall_ns``)."""
    output: Any = None
    """The output bytes as received when the clock stopped (float32 ndarray of the output shape)."""
    detail: str = ""
    """Why the call failed."""
    fatal: bool = False
    """The runner is gone, hung or broke the protocol; the session cannot continue."""


class _Gone(Exception):
    """The runner stopped answering (dead, hung past the deadline, or protocol garbage)."""


class KernelSession:
    """One sandbox running ``runner_kernel.py`` on one candidate; use as a context manager.

    Raises (from ``close``/``__exit__``):
        SandboxError and friends: the backend refused or failed (propagated from the sandbox thread).
    """

    def __init__(self, dirs: SuiteDirs, *, limits: Limits, backend: str, audit: Any, device: str,
                 entry: str, candidate_name: str, call_timeout_s: float,
                 labels: dict[str, str] | None = None) -> None:
        self.dirs = dirs
        self.io = dirs.root / "io"
        self.limits = limits
        self.backend = backend
        self.audit = audit
        self.device = device
        self.call_timeout_s = call_timeout_s
        self._argv = [str(CODE_DIR / "runner_kernel.py"), str(CODE_DIR / candidate_name), entry, device,
                      str(max(1, int(limits.cpus)))]
        self._labels = labels or {}
        self.result: SandboxResult | None = None
        self.sandbox_wall_s = 0.0
        self._error: BaseException | None = None
        self._buf = bytearray()
        self.dead = False
        self.death = ""

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> "KernelSession":
        self.io.mkdir(mode=0o755)
        for name in ("v2r", "r2v"):
            os.mkfifo(self.io / name, 0o666)
            (self.io / name).chmod(0o666)
        # O_RDWR on a FIFO never blocks on Linux and keeps both ends open, so a dead runner shows up
        # as silence (handled by deadlines and the sandbox thread's liveness), never as a hang.
        self.rfd = os.open(self.io / "r2v", os.O_RDWR | os.O_NONBLOCK)
        self.wfd = os.open(self.io / "v2r", os.O_RDWR | os.O_NONBLOCK)
        spec = make_spec(self.dirs, self._argv, self.limits, gpu=self.device == "cuda",
                         writable_out=False, extra_ro=[Mount(host=self.io, sandbox=IO_DIR)], labels=self._labels)
        self._thread = threading.Thread(target=self._run, args=(spec,), daemon=True)
        self._thread.start()
        try:
            hello, _ = self._read_event(time.monotonic() + self.limits.timeout_s, 0)
            if hello.get("ev") != "hello":
                raise _Gone(f"first event was {str(hello)[:100]}, not hello")
        except _Gone as e:
            self._mark_dead(str(e))
            self._raise_if_infrastructure()
        return self

    def _raise_if_infrastructure(self) -> None:
        """A sandbox that never started the runner is our failure, not the candidate's."""
        self._thread.join(5)
        if self._error is not None:
            raise self._error
        r = self.result
        if r is not None and r.reason == "error":
            raise SandboxError(f"sandbox backend {self.backend!r} could not start the kernel runner: "
                               f"{r.stderr[-300:].strip() or r.detail}",
                               hint=f"see {self.dirs.evidence / 'sandbox_result.json'}; run `sia doctor`")

    def _run(self, spec: Any) -> None:
        try:
            self.result, self.sandbox_wall_s = run_spec(spec, backend=self.backend, audit=self.audit,
                                                        evidence_dir=self.dirs.evidence)
        except BaseException as e:  # noqa: BLE001 - re-raised in the verifier thread by close()
            self._error = e

    def close(self) -> SandboxResult | None:
        """Ask the runner to quit, wait for the sandbox, re-raise infrastructure errors.

        Raises:
            SandboxError and friends: the backend failed.
            VerifierError: the sandbox outlived its own watchdog.
        """
        try:
            os.write(self.wfd, b'{"op":"quit"}\n')
        except OSError:
            pass
        self._thread.join(self.limits.timeout_s + 30)
        for fd in (self.rfd, self.wfd):
            os.close(fd)
        if self._error is not None:
            raise self._error
        if self._thread.is_alive():
            raise VerifierError(f"kernel sandbox in {self.dirs.root} did not finish after quit",
                                hint="the backend's watchdog failed; check sandbox_result.json")
        return self.result

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _mark_dead(self, why: str) -> None:
        self.dead = True
        self.death = why

    def death_detail(self) -> str:
        """Why the runner is gone, with the sandbox's end state when known."""
        if self._thread.is_alive():
            return f"{self.death} (runner still running)"
        r = self.result
        if r is None:
            return f"{self.death}; sandbox failed: {self._error!r}"
        return (f"{self.death}; sandbox ended: reason={r.reason} exit={r.exit_code} "
                f"stderr={r.stderr[-300:]!r}")

    # -- transport -------------------------------------------------------------------------------
    def _write_all(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Gone("runner stopped reading its input (deadline)")
            _, ready, _ = select.select([], [self.wfd], [], min(left, 0.05))
            if not ready:
                if not self._thread.is_alive():
                    raise _Gone("runner exited while receiving input")
                continue
            try:
                n = os.write(self.wfd, view[:1 << 20])
            except BlockingIOError:
                continue
            view = view[n:]

    def _fill(self, want: int, deadline: float) -> None:
        while len(self._buf) < want:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Gone("no answer before the deadline")
            ready, _, _ = select.select([self.rfd], [], [], min(left, 0.05))
            if ready:
                try:
                    self._buf += os.read(self.rfd, max(want - len(self._buf), 1 << 16))
                except BlockingIOError:
                    pass
            elif not self._thread.is_alive():
                raise _Gone("runner exited")

    def _read_event(self, deadline: float, max_payload: int) -> tuple[dict[str, Any], bytes]:
        while b"\n" not in self._buf:
            if len(self._buf) > _MAX_HEADER:
                raise _Gone("protocol violation: header over 64 KiB")
            self._fill(len(self._buf) + 1, deadline)
        i = self._buf.index(b"\n")
        line = bytes(self._buf[:i])
        del self._buf[:i + 1]
        try:
            msg = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise _Gone(f"protocol violation: unparseable event {line[:80]!r}") from e
        if not isinstance(msg, dict):
            raise _Gone("protocol violation: event is not an object")
        n = msg.get("nbytes", 0)
        if not isinstance(n, int) or n < 0 or n > max_payload:
            raise _Gone(f"protocol violation: payload of {n!r} bytes (expected at most {max_payload})")
        self._fill(n, deadline)
        payload = bytes(self._buf[:n])
        del self._buf[:n]
        return msg, payload

    # -- protocol --------------------------------------------------------------------------------
    def load(self) -> tuple[bool, str]:
        """Import the candidate inside the sandbox. Returns (ok, detail)."""
        if self.dead:
            return False, self.death_detail()
        try:
            self._write_all(b'{"op":"load"}\n', time.monotonic() + 10)
            ev, _ = self._read_event(time.monotonic() + self.limits.timeout_s, 0)
        except _Gone as e:
            self._mark_dead(str(e))
            return False, "candidate import: " + self.death_detail()
        if ev.get("ev") != "loaded":
            return False, f"candidate import failed: {str(ev.get('detail'))[:400]}"
        return True, ""

    def call(self, inputs: list[tuple[str, np.ndarray]], config: dict[str, Any],
             out_shape: tuple[int, ...], *, noop: bool = False) -> CallResult:
        """Send one fresh input, time the call from outside, return the received output.

        Raises:
            VerifierError: an input dtype the protocol does not carry (a verifier bug).
        """
        if self.dead:
            return CallResult(ok=False, detail=self.death_detail(), fatal=True)
        layout, off, chunks = [], 0, []
        for name, arr in inputs:
            if str(arr.dtype) not in ("float32", "int64"):
                raise VerifierError(f"kernel input {name} has dtype {arr.dtype}; only float32/int64 travel")
            raw = np.ascontiguousarray(arr).tobytes()
            layout.append((name, str(arr.dtype), list(arr.shape), off, len(raw)))
            chunks.append(raw)
            off += len(raw)
        out_bytes = 4 * int(np.prod(out_shape))
        nonce = secrets.token_hex(8)
        head = json.dumps({"op": "call", "nonce": nonce, "nonce_int": int(nonce[:4], 16), "inputs": layout,
                           "config": config, "out_shape": list(out_shape), "noop": noop, "nbytes": off})
        message = head.encode() + b"\n" + b"".join(chunks)
        t0 = time.perf_counter_ns()
        deadline = time.monotonic() + self.call_timeout_s
        try:
            self._write_all(message, deadline)
            ev, payload = self._read_event(deadline, out_bytes)
            t1 = time.perf_counter_ns()
        except _Gone as e:
            self._mark_dead(str(e))
            return CallResult(ok=False, detail=self.death_detail(), fatal=True)
        if ev.get("nonce") != nonce:
            self._mark_dead(f"protocol violation: event {str(ev)[:120]} does not answer this call")
            return CallResult(ok=False, fatal=True, detail=self.death)
        if ev.get("ev") != "done":
            return CallResult(ok=False, detail=str(ev.get("detail"))[:400])
        if len(payload) != out_bytes:
            return CallResult(ok=False, detail=f"output has {len(payload)} bytes, expected {out_bytes}")
        em = ev.get("event_ms")
        event_ms = float(em) if isinstance(em, (int, float)) and not isinstance(em, bool) else None
        out = np.frombuffer(payload, dtype=np.float32).reshape(out_shape).copy()
        return CallResult(ok=True, wall_ns=t1 - t0, event_ms=event_ms, output=out)
