"""Modal backend: one ``modal.Sandbox`` per spec (CPU, or an H100 with ``spec.gpu``); the scale-out engine.

How each part of the spec is enforced on Modal:

- image: ``images/<name>/Dockerfile`` built by Modal (``Image.from_dockerfile``, ``BASE`` =
  ``debian:bookworm-slim``, the torch wheel from download.pytorch.org), or any registry reference.
- ro mounts: baked into an image layer (``add_local_dir``/``add_local_file`` with ``copy=True``),
  owned by root, so the unprivileged command can read but not change them.
- rw mounts: created in the sandbox (with their current host content as a layer), read back after the
  command with ``sb.filesystem`` (symlinks recorded, never followed; more than ``output_limit_mb`` in
  total is refused with reason ``output_limit``), written to the host dir, then listed by
  ``manifest.build_manifest``.
- network: ``block_network=True`` always. ``network="gateway"`` needs a gateway reachable over the
  internet: set ``SIA_MODAL_GATEWAY_URL`` and ``SIA_MODAL_GATEWAY_CIDR``; the sandbox then gets
  ``outbound_cidr_allowlist=[that CIDR]`` and ``SIA_GATEWAY_URL`` instead of the socket. Otherwise
  the spec is refused (LimitNotEnforceableError).
- limits: ``timeout`` (sandbox lifetime, plus our own watchdog that terminates it), ``cpu`` and
  ``memory`` as (request, limit) pairs, ``gpu="H100!"`` (the ``!`` forbids Modal from substituting
  another card). Modal has no pids limit: the command runs under an in-sandbox wrapper,
  ``ulimit -u <pids>`` then ``setpriv`` to uid 10001 with no capabilities and ``no_new_privs`` (the
  limit counts processes of that uid, and root would bypass it). The environment is exactly
  ``spec.env`` (``env -i``), so Modal's own variables do not reach the command.
- exit codes: Modal reports a timeout as returncode -1 or 137, not an exception; 137 before our
  deadline is reported as ``oom`` (Modal SIGKILLs at the memory limit and does not say so).

Not protected against: anything Modal's own isolation (gVisor) does not stop; ``spec.seccomp`` is
satisfied by gVisor's syscall interception, not by our filter. Tested against a fake ``modal`` module
only (tests/unit/test_modal_backend.py); not exercised against the real service from this repo's CI.
"""

from __future__ import annotations

import math
import os
import shlex
import shutil
import stat
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import structlog

from sia_sandbox.errors import BackendUnavailableError, LimitNotEnforceableError, SandboxError, SandboxSpecError
from sia_sandbox.sandbox import images
from sia_sandbox.sandbox.images import CONTAINER_ENV, CONTAINER_UID
from sia_sandbox.sandbox.base import BackendStatus, Capabilities, SandboxBackend
from sia_sandbox.sandbox.capture import StreamCapture
from sia_sandbox.sandbox.manifest import build_manifest
from sia_sandbox.sandbox.paths import check_destination, check_host_source
from sia_sandbox.sandbox.registry import register_backend
from sia_sandbox.sandbox.types import OutputFile, Reason, SandboxResult, SandboxSpec

log = structlog.get_logger(__name__)

APP_NAME = os.environ.get("SIA_MODAL_APP", "sia-sandbox")
GPU = "H100!"
MODAL_BASE = "debian:bookworm-slim"
_GRACE_S = 30
"""Sandbox lifetime beyond ``timeout_s``: room to read the outputs back before Modal reaps it."""
_MiB = 1 << 20


def _modal() -> Any:
    try:
        import modal
    except ModuleNotFoundError as e:
        raise BackendUnavailableError("the modal SDK is not installed", hint="pip install 'sia_sandbox[modal]'") from e
    return modal


def _token_present() -> bool:
    return bool(os.environ.get("MODAL_TOKEN_ID")) or (Path.home() / ".modal.toml").is_file()


def wrapper_argv(spec: SandboxSpec) -> list[str]:
    """The in-sandbox command: prepare rw dirs, cap processes, drop to uid 10001, run with exactly spec.env."""
    env = {**{k: v for k, v in CONTAINER_ENV.items() if k not in spec.env}, **spec.env}
    gw = os.environ.get("SIA_MODAL_GATEWAY_URL")
    if spec.network == "gateway" and gw:
        env.setdefault("SIA_GATEWAY_URL", gw)
    rw = " ".join(shlex.quote(str(m.sandbox)) for m in spec.rw_mounts)
    prep = f"mkdir -p {rw} && chown -R {CONTAINER_UID}:{CONTAINER_UID} {rw} && " if rw else ""
    script = (
        f"{prep}ulimit -u {spec.limits.pids} && exec setpriv --reuid={CONTAINER_UID} --regid={CONTAINER_UID} "
        '--clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- /usr/bin/env -i "$@"'
    )
    return ["/bin/sh", "-c", script, "sia-wrapper", *(f"{k}={v}" for k, v in env.items()), *spec.command]


def _reason(code: int | None, forced: str | None, deadline_passed: bool, out_over: bool, stderr: str) -> tuple[Reason, str]:
    if forced == "cancelled":
        return "killed", "cancelled by cancel_all()"
    if forced == "output_limit" or out_over:
        return "output_limit", "a stream or the rw mounts passed output_limit_mb"
    if forced == "timeout" or (code in (-1, 137) and deadline_passed):
        return "timeout", "Modal or the watchdog stopped the sandbox at the deadline"
    if code is None:
        return "error", "the command did not start"
    if code == 0:
        return "ok", ""
    if code in (-1, 137):
        return "oom", "SIGKILL before the deadline: Modal's memory limit (Modal does not report OOM kills)"
    if "Resource temporarily unavailable" in stderr or "BlockingIOError: [Errno 11]" in stderr:
        return "pids_limit", "fork failed with EAGAIN under ulimit -u"
    if code < 0 or 128 < code <= 192:
        return "killed", f"killed by signal {-code if code < 0 else code - 128}"
    return "nonzero_exit", ""


@register_backend("modal")
class ModalBackend(SandboxBackend):
    """Runs each spec in a fresh ``modal.Sandbox`` (see the module docstring)."""

    max_concurrency: ClassVar[int] = 32

    def __init__(self) -> None:
        self._live: dict[int, Any] = {}
        self._cancelled: set[int] = set()
        self._lock = threading.Lock()

    def capabilities(self) -> Capabilities:
        gateway = bool(os.environ.get("SIA_MODAL_GATEWAY_URL") and os.environ.get("SIA_MODAL_GATEWAY_CIDR"))
        return Capabilities(network_none=True, network_gateway=gateway, gpu=True, seccomp=True,
                            memory_limit=True, pids_limit=True, cpu_limit=True, output_limit=True)

    def status(self) -> BackendStatus:
        try:
            modal = _modal()
        except BackendUnavailableError as e:
            return BackendStatus(backend="modal", usable=False, detail=e.message, fix=e.hint)
        if not _token_present():
            return BackendStatus(backend="modal", usable=False,
                                 detail=f"modal SDK {getattr(modal, '__version__', '?')} installed, no token",
                                 fix="run `modal token new` or set MODAL_TOKEN_ID/MODAL_TOKEN_SECRET")
        return BackendStatus(backend="modal", usable=True,
                             detail=f"modal SDK {getattr(modal, '__version__', '?')}, token present (not contacted)")

    def check(self, spec: SandboxSpec) -> None:
        _modal()
        if not _token_present():
            raise BackendUnavailableError("no Modal token", hint="run `modal token new` or set MODAL_TOKEN_ID")
        if spec.network == "gateway" and not self.capabilities().network_gateway:
            raise LimitNotEnforceableError(
                "modal sandboxes cannot reach the local gateway socket",
                hint="expose the gateway and set SIA_MODAL_GATEWAY_URL and SIA_MODAL_GATEWAY_CIDR, or use network='none'")
        for m in spec.ro_mounts:
            check_destination(m.sandbox)
            if not os.path.exists(m.host):
                raise SandboxSpecError(f"ro mount source {m.host} does not exist", hint="create it or fix the path")
            check_host_source(m.host, writable=False)
        for m in spec.rw_mounts:
            check_destination(m.sandbox)
            if os.path.exists(m.host) and not os.path.isdir(m.host):
                raise SandboxSpecError(f"rw mount source {m.host} is not a directory", hint="rw mounts are directories")
            check_host_source(m.host, writable=True)

    # ---------------------------------------------------------------- image
    def image(self, spec: SandboxSpec) -> Any:
        """The ``modal.Image`` for ``spec``: a project Dockerfile or a registry ref, plus the mount layers."""
        modal = _modal()
        name = spec.image or ("trimul-cuda" if spec.gpu else "scaffold")
        ctx = images.IMAGES_DIR / name
        if (ctx / "Dockerfile").is_file():
            base = os.environ.get("SIA_MODAL_BASE", MODAL_BASE)
            if name == "verifier":
                raise LimitNotEnforceableError("the verifier image builds on a local scaffold tag; not available on Modal",
                                               hint="run verifiers on the local or docker backend")
            img = modal.Image.from_dockerfile(str(ctx / "Dockerfile"), context_dir=str(ctx),
                                              build_args={"BASE": base, "BUILD_FILES_URL": ""})
        else:
            img = modal.Image.from_registry(name)
        for m in [*spec.ro_mounts, *(m for m in spec.rw_mounts if os.path.isdir(m.host) and os.listdir(m.host))]:
            host = os.path.realpath(m.host)
            if os.path.isdir(host):
                img = img.add_local_dir(host, remote_path=str(m.sandbox), copy=True)
            else:
                img = img.add_local_file(host, remote_path=str(m.sandbox), copy=True)
        return img

    # ---------------------------------------------------------------- run
    def run(self, spec: SandboxSpec, *, sandbox_id: str | None = None) -> SandboxResult:
        """Run ``spec`` in a fresh Modal sandbox; the sandbox is terminated whatever happens.

        Raises:
            SandboxSpecError / LimitNotEnforceableError / BackendUnavailableError: as ``check``.
            SandboxError: Modal failed to create the sandbox or to return its outputs.
        """
        self.check(spec)
        modal = _modal()
        sid = sandbox_id or f"sb-{os.urandom(6).hex()}"
        lim = spec.limits
        limit = int(lim.output_limit_mb * _MiB)
        caps = [StreamCapture(lim.stream_cap_bytes, limit) for _ in range(2)]
        kwargs: dict[str, Any] = dict(
            app=modal.App.lookup(APP_NAME, create_if_missing=True), image=self.image(spec),
            timeout=int(math.ceil(lim.timeout_s)) + _GRACE_S, workdir=str(spec.workdir),
            cpu=(lim.cpus, lim.cpus), memory=(lim.memory_mb, lim.memory_mb), block_network=True,
            gpu=GPU if spec.gpu else None, tags={"sia_sandbox": "1", "sandbox_id": sid},
        )
        if spec.network == "gateway":
            kwargs["block_network"] = False
            kwargs["outbound_cidr_allowlist"] = [os.environ["SIA_MODAL_GATEWAY_CIDR"]]
        t0 = time.monotonic()
        try:
            sb = modal.Sandbox.create("sleep", "infinity", **kwargs)
        except modal.exception.Error as e:
            raise SandboxError(f"modal backend could not create sandbox {sid}: {e}", hint="see the Modal dashboard") from e
        with self._lock:
            self._live[id(sb)] = sb
        outputs: list[OutputFile] = []
        try:
            code, forced, deadline_passed = self._exec(sb, spec, caps, t0 + lim.timeout_s)
            out_over = False
            with self._lock:
                gone = id(sb) in self._cancelled
            if code is not None and forced is None and not gone:
                outputs, out_over = self._read_back(sb, spec, limit)
        finally:
            with self._lock:
                self._live.pop(id(sb), None)
                cancelled = id(sb) in self._cancelled
            sb.terminate()
        if cancelled:
            forced = "cancelled"
        out, err = caps
        reason, detail = _reason(code, forced, deadline_passed, out_over or out.over_limit or err.over_limit, err.text())
        wall = time.monotonic() - t0
        log.info("exec.finished", sandbox_id=sid, backend="modal", reason=reason, exit_code=code, wall_s=round(wall, 3))
        return SandboxResult(
            sandbox_id=sid, backend="modal", exit_code=code, reason=reason, wall_s=wall,
            stdout=out.text(), stderr=err.text(), stdout_truncated=out.truncated, stderr_truncated=err.truncated,
            stdout_bytes=out.total, stderr_bytes=err.total, stdout_sha256=out.sha256, stderr_sha256=err.sha256,
            outputs=outputs, root=str(getattr(kwargs["image"], "object_id", None) or spec.image or "scaffold"),
            enforcement={
                "network": "modal block_network=True" if spec.network == "none" else "modal outbound_cidr_allowlist",
                "memory_mb": f"modal memory=({lim.memory_mb}, {lim.memory_mb}) MiB",
                "cpus": f"modal cpu=({lim.cpus}, {lim.cpus})",
                "pids": f"in-sandbox ulimit -u {lim.pids} for uid {CONTAINER_UID}",
                "timeout_s": f"modal timeout + watchdog terminate at {lim.timeout_s} s",
                "output_limit_mb": "stream caps (terminate) + size check before read-back",
                "seccomp": "modal gVisor syscall interception",
                "gpu": GPU if spec.gpu else "none",
            },
            detail=detail,
        )

    def _exec(self, sb: Any, spec: SandboxSpec, caps: list[StreamCapture], deadline: float) -> tuple[int | None, str | None, bool]:
        """Start the command, pump its streams in two threads, enforce deadline and caps."""
        proc = sb.exec(*wrapper_argv(spec), timeout=int(math.ceil(spec.limits.timeout_s)),
                       workdir=str(spec.workdir), text=False)
        if spec.stdin is not None:
            proc.stdin.write(spec.stdin)
            proc.stdin.write_eof()
            proc.stdin.drain()
        over = threading.Event()

        def pump(stream: Iterable[bytes], cap: StreamCapture) -> None:
            for chunk in stream:
                cap.feed(chunk if isinstance(chunk, bytes) else chunk.encode())
                if cap.over_limit:
                    over.set()
                    return

        threads = [threading.Thread(target=pump, args=(s, c), daemon=True) for s, c in zip((proc.stdout, proc.stderr), caps)]
        for t in threads:
            t.start()
        forced: str | None = None
        while (code := proc.poll()) is None:
            if over.is_set():
                forced = "output_limit"
                break
            if time.monotonic() >= deadline:
                forced = "timeout"
                break
            time.sleep(0.05)
        if forced is None:
            for t in threads:
                t.join(timeout=max(0.0, deadline - time.monotonic()) + 5)
        else:
            sb.terminate()
            code = proc.poll()
        return code, forced, time.monotonic() >= deadline

    def _read_back(self, sb: Any, spec: SandboxSpec, limit: int) -> tuple[list[OutputFile], bool]:
        """Copy each rw mount's tree to the host (no symlink followed); True when over the limit."""
        fs = sb.filesystem
        outputs: list[OutputFile] = []
        budget = limit
        for m in spec.rw_mounts:
            host = check_host_source(m.host, writable=True)
            os.makedirs(host, exist_ok=True)
            for entry in os.scandir(host):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
            stack = [(str(m.sandbox), host)]
            while stack:
                remote, local = stack.pop()
                for info in fs.list_files(remote):
                    dst = os.path.join(local, info.name)
                    if info.is_symlink():
                        os.symlink(info.symlink_target or "", dst)
                    elif info.is_dir():
                        os.mkdir(dst, 0o755)
                        stack.append((info.path, dst))
                    elif info.is_file():
                        budget -= info.size
                        if budget < 0:
                            return outputs + build_manifest(host, m.sandbox), True
                        with open(dst, "xb") as f:
                            f.write(fs.read_bytes(info.path))
                        os.chmod(dst, stat.S_IMODE(info.mode) & 0o755 if info.mode else 0o644)
            outputs += build_manifest(host, m.sandbox)
        return outputs, False

    def cancel_all(self) -> int:
        """Terminate every sandbox this backend instance is running; their ``run`` returns ``killed``."""
        with self._lock:
            live = list(self._live.items())
            self._cancelled.update(k for k, _ in live)
        for _, sb in live:
            try:
                sb.terminate()
            except Exception as e:  # the SDK raises its own error types on a sandbox that already ended
                log.warning("sandbox.terminate_failed", backend="modal", error=str(e))
        return len(live)


__all__ = ["GPU", "ModalBackend", "wrapper_argv"]
