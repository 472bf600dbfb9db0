"""The local backend: bubblewrap namespaces + cgroups (or rlimits) + seccomp + a parent-side watchdog.

One run: a per-sandbox host uid (61000+slot when we are root), child cgroups joined by the launcher
before it execs anything (``/bin/sh`` writes its pid to every ``cgroup.procs``, then execs ``setpriv``
which drops to that uid, then ``bwrap``), mount sources passed as O_PATH fds (no path lookups by the
unprivileged side, no symlink-swap window), rw mounts staged on a size-limited tmpfs and copied back
without following symlinks, stdout/stderr pumped in the calling thread with a cap and a hash, and a
deadline after which the whole cgroup is killed. Nothing outlives the run: the command is pid 1's
child in a fresh pid namespace, and the cgroup is killed and waited empty before it is removed.

Not protected against: kernel exploits through allowed syscalls, CPU side channels, and a caller that
mounts its own secrets on purpose.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import structlog

from sia_sandbox.errors import BackendUnavailableError, LimitNotEnforceableError, SandboxError
from sia_sandbox.sandbox import cgroups, local_launch
from sia_sandbox.sandbox.base import BackendStatus, Capabilities, SandboxBackend
from sia_sandbox.sandbox.capture import Pump, PumpEvent, StreamCapture
from sia_sandbox.sandbox.local_launch import MountPlan
from sia_sandbox.sandbox.local_staging import Staging
from sia_sandbox.sandbox.registry import register_backend
from sia_sandbox.sandbox.rootfs import root_layout
from sia_sandbox.sandbox.seccomp_filter import SeccompUnavailable, filter_bpf, filter_fd
from sia_sandbox.sandbox.types import Limits, OutputFile, Reason, SandboxResult, SandboxSpec

log = structlog.get_logger(__name__)

_INSTALL_HINT = "install bubblewrap (`apt-get install -y bubblewrap`) and allow user namespaces " \
    "(sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces>0)"


@dataclass
class _Outcome:
    """Mutable bookkeeping of one run, turned into a ``SandboxResult`` at the end."""

    forced: Reason | None = None
    status: int | None = None
    rusage_cpu: float | None = None
    status_fd: int | None = None
    """Read end of bwrap's --json-status-fd pipe (owned by ``_launch``)."""
    status_data: bytes = b""
    bwrap_status: list[dict[str, int]] = field(default_factory=list)

    def poll_status(self) -> None:
        """Read what bwrap wrote to its status pipe so far (non-blocking)."""
        if self.status_fd is None:
            return
        os.set_blocking(self.status_fd, False)
        try:
            while chunk := os.read(self.status_fd, 65536):
                self.status_data += chunk
        except BlockingIOError:
            pass
        self.bwrap_status = _parse_status(self.status_data)


_warm_lock = threading.Lock()


@functools.cache
def _probe_bwrap() -> tuple[bool, str]:
    """Run a trivial sandbox the way ``run`` does (own uid, user namespace), once per process."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False, "bwrap not found on PATH"
    argv = [bwrap, "--unshare-user", "--disable-userns", "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
            "--", "/usr/bin/true"]
    if os.geteuid() == 0:
        argv = [local_launch.SETPRIV, f"--reuid={local_launch.UID_BASE}", f"--regid={local_launch.UID_BASE}",
                "--clear-groups", "--", *argv]
    try:
        p = subprocess.run(argv, capture_output=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"bwrap probe failed: {e}"
    if p.returncode != 0:
        return False, f"bwrap cannot create a user namespace: {p.stderr.decode(errors='replace').strip()[:200]}"
    return True, f"bwrap {bwrap} works (user namespaces, --disable-userns)"


@register_backend("local")
class LocalBackend(SandboxBackend):
    """Bubblewrap sandbox on this machine. Thread-safe: ``run`` may be called from many threads."""

    max_concurrency = 8

    def __init__(self) -> None:
        self._live: dict[int, tuple[Any, ...]] = {}
        self._live_lock = threading.Lock()
        # Fill the per-process caches (root layout, cgroup probe, seccomp BPF, bwrap probe) once, here,
        # rather than racing to build them in the first parallel runs.
        with _warm_lock:
            try:
                root_layout()
                local_launch.root_fds()
            except SandboxError:
                pass  # status()/check() report it
            cgroups.detect()
            _probe_bwrap()
            try:
                filter_bpf()
            except SeccompUnavailable:
                pass

    def capabilities(self) -> Capabilities:
        """What this machine enforces (see ``status`` for the details)."""
        cg = cgroups.detect()
        root = os.geteuid() == 0
        try:
            filter_bpf()
            seccomp = True
        except SeccompUnavailable:
            seccomp = False
        return Capabilities(
            network_none=True,
            network_gateway=True,
            gpu=False,
            seccomp=seccomp,
            memory_limit=True,
            pids_limit=bool(cg.pids) or root,
            cpu_limit=bool(cg.cpu) or (os.cpu_count() or 1) <= 1,
            output_limit=root,
        )

    def status(self) -> BackendStatus:
        """Whether bubblewrap works here, the cgroup mode, seccomp and the runtime. Never raises."""
        try:
            ok, bw = _probe_bwrap()
            layout = root_layout()
            try:
                filter_bpf()
                sc = "seccomp ok"
            except SeccompUnavailable as e:
                sc = f"seccomp unavailable ({e})"
            detail = f"{bw}; {cgroups.detect().describe()}; {sc}; runtime: {layout.runtime_detail}"
            return BackendStatus(backend="local", usable=ok, detail=detail, fix=None if ok else _INSTALL_HINT)
        except Exception as e:  # noqa: BLE001 - status() reports, it never raises
            return BackendStatus(backend="local", usable=False, detail=f"status check failed: {e}", fix=_INSTALL_HINT)

    def check(self, spec: SandboxSpec) -> None:
        """Validate ``spec`` without running it.

        Raises:
            SandboxSpecError: a mount source is missing or forbidden, a destination is reserved, the
                workdir or the command does not exist inside the sandbox.
            LimitNotEnforceableError: gpu, seccomp, output or a resource limit cannot be enforced here.
            BackendUnavailableError: bubblewrap or user namespaces are missing.
        """
        self._plan(spec)

    def _plan(self, spec: SandboxSpec) -> tuple[MountPlan, dict[str, str], str]:
        ok, why = _probe_bwrap()
        if not ok:
            raise BackendUnavailableError(f"local backend unavailable: {why}", hint=_INSTALL_HINT)
        if spec.gpu:
            raise LimitNotEnforceableError(
                "local backend has no GPU to give (gpu=True)", hint="use the modal backend for GPU runs"
            )
        if spec.seccomp:
            try:
                filter_bpf()
            except SeccompUnavailable as e:
                raise LimitNotEnforceableError(
                    f"seccomp requested but unavailable: {e}", hint="apt-get install -y libseccomp2; pip install pyseccomp"
                ) from e
        plan = MountPlan.build(spec)
        enforcement, script = local_launch.limit_plan(spec.limits, cgroups.detect(), bool(spec.rw_mounts))
        plan.resolve_command(spec)
        return plan, enforcement, script

    def run(self, spec: SandboxSpec, *, sandbox_id: str | None = None) -> SandboxResult:
        """Run ``spec`` to completion in a fresh sandbox; always cleans up.

        Raises:
            SandboxSpecError / LimitNotEnforceableError / BackendUnavailableError: as ``check``.
            SandboxError: the sandbox could not be set up (cgroups, staging mounts).
        """
        sandbox_id = sandbox_id or f"sbx-{uuid.uuid4().hex[:12]}"
        plan, enforcement, rlimit_script = self._plan(spec)
        started = time.monotonic()
        with local_launch.sandbox_uid() as uid:
            cg = cgroups.SandboxCgroup(cgroups.detect(), f"sia-{sandbox_id}")
            staging: Staging | None = None
            try:
                try:
                    enforcement |= cg.create(
                        memory_mb=spec.limits.memory_mb, pids=spec.limits.pids, cpus=spec.limits.cpus
                    )
                    if uid is not None and (plan.ro or plan.rw or plan.gateway):
                        staging = Staging.create(plan, spec.limits.output_limit_mb, uid)
                except OSError as e:
                    raise SandboxError(
                        f"local backend could not set up sandbox {sandbox_id}: {e}",
                        hint="run `sia doctor`; cgroups and the output tmpfs need root",
                    ) from e
                caps, outcome = self._launch(spec, plan, staging, cg, uid, rlimit_script)
                stats = cg.stats()
            finally:
                cg.remove()
            outputs: list[OutputFile] = []
            out_full = False
            if staging is not None:
                try:
                    out_full = staging.full()
                    outputs = staging.copy_out()
                finally:
                    staging.remove()
        wall = time.monotonic() - started
        return self._result(spec, sandbox_id, caps, outcome, stats, outputs, out_full, enforcement, wall, plan)

    def _launch(
        self,
        spec: SandboxSpec,
        plan: MountPlan,
        staging: Staging | None,
        cg: cgroups.SandboxCgroup,
        uid: int | None,
        rlimit_script: str,
    ) -> tuple[tuple[StreamCapture, StreamCapture], _Outcome]:
        lim = spec.limits
        limit_bytes = int(lim.output_limit_mb * (1 << 20))
        out_cap = StreamCapture(lim.stream_cap_bytes, limit_bytes)
        err_cap = StreamCapture(lim.stream_cap_bytes, limit_bytes)
        outcome = _Outcome()
        fds: list[int] = []
        try:
            mount_fds = {} if staging is not None else plan.open_fds()
            fds.extend(mount_fds.values())
            seccomp_fd = filter_fd() if spec.seccomp else None
            if seccomp_fd is not None:
                fds.append(seccomp_fd)
            status_r, status_w = os.pipe()
            fds += [status_r, status_w]
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            fds += [out_r, out_w, err_r, err_w]
            stdin_r, stdin_w = os.pipe() if spec.stdin is not None else (None, None)
            fds += [x for x in (stdin_r, stdin_w) if x is not None]
            argv = local_launch.argv(spec, plan, staging, mount_fds, seccomp_fd, status_w, cg.procs_files, uid, rlimit_script)
            pass_fds = (*local_launch.root_fds(), *mount_fds.values(), status_w,
                        *((seccomp_fd,) if seccomp_fd is not None else ()))
            proc = subprocess.Popen(
                argv, stdin=stdin_r if stdin_r is not None else subprocess.DEVNULL, stdout=out_w, stderr=err_w,
                pass_fds=pass_fds, close_fds=True, start_new_session=True, env={"PATH": "/usr/bin:/bin"},
            )
            # The parent keeps only its ends of the pipes: an EOF then means every writer is gone.
            for fd in (status_w, out_w, err_w, stdin_r, *mount_fds.values(), seccomp_fd):
                if fd is not None:
                    os.close(fd)
                    fds.remove(fd)
            outcome.status_fd = status_r
            try:
                pidfd = os.pidfd_open(proc.pid)
                fds.append(pidfd)
                streams = {out_r: out_cap, err_r: err_cap}
                fds.remove(out_r)
                fds.remove(err_r)
                if stdin_w is not None:
                    fds.remove(stdin_w)
                pump = Pump(pidfd, streams, stdin_w, spec.stdin or b"")
                with self._live_lock:
                    self._live[proc.pid] = (proc, cg, outcome, uid)
                try:
                    self._watch(proc, pump, cg, lim, outcome, uid)
                finally:
                    with self._live_lock:
                        self._live.pop(proc.pid, None)
                    pump.close()
            except BaseException:
                # Ctrl-C or a bug of ours mid-run: the sandbox must not outlive this call.
                _kill_tree(proc, cg, outcome, uid)
                if proc.returncode is None:
                    proc.wait()
                raise
            outcome.poll_status()
        finally:
            for fd in fds:
                os.close(fd)
        return (out_cap, err_cap), outcome

    def kill_all(self) -> int:
        """SIGKILL every sandbox this backend instance is running (Ctrl-C cleanup for ``SandboxPool``).

        Each interrupted run still returns its result, with reason ``killed``.

        Returns:
            How many sandboxes were killed.
        """
        with self._live_lock:
            live = list(self._live.values())
        for proc, cg, outcome, uid in live:
            _kill_tree(proc, cg, outcome, uid)
        return len(live)

    @staticmethod
    def _watch(proc: subprocess.Popen[bytes], pump: Pump, cg: cgroups.SandboxCgroup, lim: Limits,
               outcome: _Outcome, uid: int | None) -> None:
        deadline = time.monotonic() + lim.timeout_s
        event = pump.run(deadline, until_eof=False)
        if event is not PumpEvent.EXITED:
            outcome.forced = "timeout" if event is PumpEvent.DEADLINE else "output_limit"
            _kill_tree(proc, cg, outcome, uid)
            if pump.run(time.monotonic() + 10, until_eof=False, enforce_limit=False) is not PumpEvent.EXITED:
                raise SandboxError(f"sandbox launcher pid {proc.pid} survived SIGKILL for 10 s")
        # Reap first: a zombie still counts as a member of its cgroup.
        _, status, ru = os.wait4(proc.pid, 0)
        proc.returncode = outcome.status = os.waitstatus_to_exitcode(status)
        outcome.rusage_cpu = ru.ru_utime + ru.ru_stime
        # The main process is gone; kill whatever else is left (nothing should be: the pid namespace
        # died with bwrap's pid 1) so that every pipe writer is gone, then read the pipes to EOF.
        if not cg.empty():
            _kill_tree(proc, cg, outcome, uid)
            cg.wait_empty(5.0)
        pump.run(time.monotonic() + 2, until_eof=True, enforce_limit=False)

    @staticmethod
    def _result(spec: SandboxSpec, sandbox_id: str, caps: tuple[StreamCapture, StreamCapture], o: _Outcome,
                stats: cgroups.CgroupStats, outputs: list[OutputFile], out_full: bool,
                enforcement: dict[str, str], wall: float, plan: MountPlan) -> SandboxResult:
        out, err = caps
        started = any("child-pid" in d for d in o.bwrap_status)
        exit_from_bwrap = next((d["exit-code"] for d in o.bwrap_status if "exit-code" in d), None)
        code = o.status
        if exit_from_bwrap is not None and 128 < exit_from_bwrap <= 128 + 64:
            # bwrap reports a command killed by signal N as exit 128+N, like a shell.
            code = -(exit_from_bwrap - 128)
        detail = ""
        reason: Reason
        if o.forced is not None:
            reason = o.forced
            detail = f"killed by the watchdog: {o.forced}"
        elif code == 0:
            reason = "ok"
        elif not started or out.text() == "" and err.text().startswith("bwrap: "):
            reason = "error"
            code = None if not started else code
            detail = err.text().strip().splitlines()[0][:300] if err.text().strip() else "bwrap failed to start"
        elif stats.oom_killed:
            reason = "oom"
        elif stats.pids_limited:
            reason = "pids_limit"
        elif out_full:
            reason = "output_limit"
        elif code is not None and code < 0:
            reason = "killed"
            detail = f"killed by signal {-code}"
        else:
            reason = "nonzero_exit"
        if o.forced is None and (out.over_limit or err.over_limit):
            # The last bytes arrived after the exit, while draining: the stream still passed its limit.
            reason = "output_limit"
        return SandboxResult(
            sandbox_id=sandbox_id, backend="local", exit_code=code, reason=reason, wall_s=wall,
            cpu_s=stats.cpu_s if stats.cpu_s is not None else o.rusage_cpu,
            peak_memory_mb=stats.peak_memory_mb,
            stdout=out.text(), stderr=err.text(),
            stdout_truncated=out.truncated, stderr_truncated=err.truncated,
            stdout_bytes=out.total, stderr_bytes=err.total,
            stdout_sha256=out.sha256, stderr_sha256=err.sha256,
            outputs=outputs, root=plan.layout.describe(),
            enforcement={**enforcement, "seccomp": "bwrap --seccomp (EPERM list)" if spec.seccomp else "off"},
            detail=detail,
        )


def _kill_tree(proc: subprocess.Popen[bytes], cg: cgroups.SandboxCgroup, outcome: _Outcome,
               uid: int | None) -> None:
    """SIGKILL the sandbox: its cgroup, the launcher's process group, and bwrap's pid 1.

    Killing pid 1 of the sandbox's pid namespace kills every process in it, which is what makes this
    work without cgroups (bwrap's --die-with-parent alone does not reliably take pid 1 down).
    """
    cg.kill()
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    outcome.poll_status()
    child = next((d["child-pid"] for d in outcome.bwrap_status if "child-pid" in d), None)
    if child is not None and _is_sandbox_init(child, uid):
        try:
            os.kill(child, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _is_sandbox_init(pid: int, uid: int | None) -> bool:
    """True when ``pid`` is still a pid-namespace init owned by the sandbox's uid (not a reused pid)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return False
    owner = int(fields.get("Uid", "-1").split()[0])
    return fields.get("NSpid", "").split()[-1:] == ["1"] and owner == (uid if uid is not None else os.geteuid())


def _parse_status(data: bytes) -> list[dict[str, int]]:
    """Parse bwrap's --json-status-fd stream (one JSON object per write)."""
    out: list[dict[str, int]] = []
    dec = json.JSONDecoder()
    text, i = data.decode(errors="replace"), 0
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        try:
            obj, i = dec.raw_decode(text, i)
        except ValueError:
            break
        if isinstance(obj, dict):
            out.append(obj)
    return out
