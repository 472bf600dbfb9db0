"""Docker backend: one locked-down container per spec, on the docker Python SDK.

Every container runs with no network (``network_mode="none"``; ``network="gateway"`` adds only a bind
of the gateway's Unix socket at ``/run/sia/gateway.sock``), a read-only root, a size-bounded tmpfs
``/tmp``, every capability dropped, ``no-new-privileges``, docker's default seccomp profile, an
unprivileged uid (10001), memory+swap, pids and CPU limits, the ``docker-init`` reaper as pid 1, no log
driver (output is only streamed to us, so a flood never reaches ``/var/lib/docker``), and an
environment of exactly ``spec.env`` (the command runs under ``env -i``, so the image's ``ENV`` lines do
not leak in either).

rw mounts: docker cannot size-limit a bind mount, and a container tmpfs vanishes when the container
stops. Each sandbox therefore gets its own host tmpfs (``size=output_limit_mb``, the ``staging``
directory) with one subdirectory per rw mount; the container binds those, and after the run the tree
is copied into the caller's host directory with ``manifest.copy_tree`` (symlinks recorded, never
followed). Filling the output fills only that tmpfs (ENOSPC), never the host disk. Mounting it needs
root, as does talking to dockerd in practice.

Not protected against: kernel exploits (containers share the host kernel; use the modal backend or a
VM for that), a compromised docker daemon, side channels (CPU timing, cache) between containers, and a
ro mount source swapped for a symlink between ``check`` and container creation (dockerd resolves the
bind path itself; the local backend closes that window with O_PATH fds). Exit codes 129-192 read as
"killed by signal N" (docker-init reports a signal death as 128+N, like a shell).
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import PurePosixPath
from typing import Any, ClassVar, cast

import structlog

from sia_sandbox.errors import BackendUnavailableError, LimitNotEnforceableError, SandboxError, SandboxSpecError
from sia_sandbox.sandbox import images
from sia_sandbox.sandbox.images import CONTAINER_ENV, CONTAINER_UID
from sia_sandbox.sandbox.base import BackendStatus, Capabilities, SandboxBackend
from sia_sandbox.sandbox.capture import StreamCapture
from sia_sandbox.sandbox.cgroups import CgroupHost, CgroupStats, SandboxCgroup
from sia_sandbox.sandbox.manifest import copy_tree, fs_full, replace_with_staged
from sia_sandbox.sandbox.paths import check_destination, check_host_source, is_socket
from sia_sandbox.sandbox.registry import register_backend
from sia_sandbox.sandbox.types import GATEWAY_SOCKET_PATH, OutputFile, Reason, SandboxResult, SandboxSpec

log = structlog.get_logger(__name__)

LABEL = "sia_sandbox"
"""Every container we create carries ``sia_sandbox=1`` (plus the owner pid) so a sweeper can find it."""
_POLL_S = 0.05
_MiB = 1 << 20


def _docker() -> Any:
    try:
        import docker
    except ModuleNotFoundError as e:
        raise BackendUnavailableError("the docker Python SDK is not installed",
                                      hint="pip install 'sia_sandbox[docker]'") from e
    return docker


def _exit_code(status: int) -> int:
    # docker-init (tini) exits 128+N when its child died of signal N; the result contract says a
    # negative exit code is "killed by that signal". A command that itself exits 129..192 reads the same.
    return -(status - 128) if 128 < status <= 128 + 64 else status


class _Staging:
    """A private host tmpfs of ``output_limit_mb`` with one directory per rw mount (module docstring).

    Same scheme as the local backend's ``local_launch.Staging``; that class is built around bwrap's
    MountPlan, so this is the docker-shaped twin that shares ``manifest.copy_tree`` for both copies.
    """

    def __init__(self, spec: SandboxSpec) -> None:
        self.root = tempfile.mkdtemp(prefix="sia-docker-out-")
        self.rw: list[tuple[str, PurePosixPath, str]] = []  # (checked host dir, sandbox path, staged dir)
        size = max(4096, int(spec.limits.output_limit_mb * _MiB))
        opts = f"size={size},nr_inodes={max(1024, min(1 << 20, size >> 10))},mode=0711,nosuid,nodev"
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "sia-out", self.root],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            os.rmdir(self.root)
            raise LimitNotEnforceableError(
                f"docker backend cannot bound rw mounts: mounting the staging tmpfs failed ({proc.stderr.strip()})",
                hint="run as root (rw mounts are staged on a size-limited host tmpfs), or drop rw_mounts")
        try:
            for i, m in enumerate(spec.rw_mounts):
                host = check_host_source(m.host, writable=True)
                sub = os.path.join(self.root, f"m{i}")
                os.mkdir(sub, 0o755)
                if os.path.isdir(host):
                    copy_tree(host, sub, owner=(CONTAINER_UID, CONTAINER_UID))
                os.chown(sub, CONTAINER_UID, CONTAINER_UID)
                self.rw.append((host, m.sandbox, sub))
        except OSError as e:
            self.remove()
            raise SandboxSpecError(f"rw mounts could not be staged within output_limit_mb: {e}",
                                   hint="use empty output directories or raise limits.output_limit_mb") from e
        except BaseException:
            self.remove()
            raise

    def full(self) -> bool:
        """True when the tmpfs has (almost) no bytes or inodes left."""
        return fs_full(self.root)

    def copy_out(self) -> list[OutputFile]:
        """Replace each host rw dir's content by the staged tree (symlinks not followed); the manifest.

        Raises:
            SandboxError: the copy failed.
        """
        return [f for host, dest, sub in self.rw for f in replace_with_staged(sub, host, dest)]

    def remove(self) -> None:
        """Unmount and delete (never raises)."""
        subprocess.run(["umount", "-l", self.root], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def _drain(sock: socket.socket, deadline: float) -> None:
    """Read and discard from ``sock`` until EOF or ``deadline``."""
    sock.setblocking(False)
    while (left := deadline - time.monotonic()) > 0:
        r, _, _ = select.select([sock], [], [], min(left, 0.5))
        if not r:
            continue
        try:
            if not sock.recv(1 << 16):
                return
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            return


def _reason(event: str, code: int | None, oom: bool, pids_hit: bool, out_full: bool, cancelled: bool,
            stderr: str) -> tuple[Reason, str]:
    """Same precedence as the local backend: watchdog kills, then ok, then what the cgroups saw."""
    if code is None:
        return "error", "the container did not start"
    if cancelled:
        return "killed", "cancelled by cancel_all()"
    if event in ("timeout", "output_limit"):
        return cast(Reason, event), f"killed by the watchdog: {event}"
    if code == 0:
        return "ok", ""
    if code in (126, 127) and stderr.startswith("/usr/bin/env: "):
        return "error", stderr.splitlines()[0][:300]
    if oom:
        return "oom", ""
    if pids_hit:
        return "pids_limit", ""
    if "Resource temporarily unavailable" in stderr and ("fork" in stderr or "BlockingIOError" in stderr):
        # The container's cgroup vanishes when it exits; a fork bomb that dies fast can exit before the
        # probe reads pids.events. fork()'s EAGAIN in its stderr is then the evidence.
        return "pids_limit", "fork failed with EAGAIN (pids.events not read before the container exited)"
    if out_full:
        return "output_limit", "the rw mounts reached output_limit_mb"
    if code < 0:
        return "killed", f"killed by signal {-code}"
    return "nonzero_exit", ""


class _Probe:
    """Reads the container's own cgroups while it runs (they vanish when it exits)."""

    def __init__(self, pid: int) -> None:
        self.stats = CgroupStats()
        self.cg: SandboxCgroup | None = None
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                lines = f.read().splitlines()
        except OSError:
            return
        dirs: dict[str, str] = {}
        v2 = len(lines) == 1 and lines[0].startswith("0::")
        for line in lines:
            _, ctrls, path = line.split(":", 2)
            for c in ctrls.split(",") if ctrls else [""]:
                role = {"": "v2", "cpu": "cpu", "cpuacct": "cpuacct", "memory": "memory", "pids": "pids"}.get(c)
                base = "/sys/fs/cgroup" if v2 else f"/sys/fs/cgroup/{c}"
                if role and os.path.isdir(base + path):
                    dirs[role] = base + path
        if v2 and "v2" in dirs:
            dirs = {"memory": dirs["v2"], "pids": dirs["v2"], "cpuacct": dirs["v2"]}
        self.cg = SandboxCgroup(CgroupHost("v2" if v2 else "v1"), name="docker", dirs=dirs)

    def poll(self) -> None:
        if self.cg is None:
            return
        s = self.cg.stats()  # read-only use: never call remove() on docker's own cgroups
        if s.cpu_s is None and s.peak_memory_mb is None:
            return  # the cgroup is gone; keep the last reading
        self.stats = CgroupStats(oom_killed=s.oom_killed or self.stats.oom_killed,
                                 pids_limited=s.pids_limited or self.stats.pids_limited,
                                 cpu_s=s.cpu_s, peak_memory_mb=s.peak_memory_mb)


@register_backend("docker")
class DockerBackend(SandboxBackend):
    """Runs each spec in a fresh container (see the module docstring for the exact isolation)."""

    max_concurrency: ClassVar[int] = 4

    def __init__(self) -> None:
        self._client: Any = None
        self._engine_info: dict[str, Any] | None = None
        self._live: dict[str, Any] = {}
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- engine and capabilities
    def client(self) -> Any:
        """The docker client (created once).

        Raises:
            BackendUnavailableError: SDK missing or engine unreachable.
        """
        if self._client is None:
            docker = _docker()
            try:
                c = docker.from_env(timeout=60)
                c.ping()
            except docker.errors.DockerException as e:
                raise BackendUnavailableError(f"docker engine not reachable: {e}",
                                              hint="start it with scripts/start_dockerd.sh") from e
            self._client = c
        return self._client

    def _info(self) -> dict[str, Any]:
        # Engine features do not change while we run; one `docker info` per backend instance.
        if self._engine_info is None:
            self._engine_info = dict(self.client().info())
        return self._engine_info

    def capabilities(self) -> Capabilities:
        try:
            info = self._info()
        except BackendUnavailableError:
            return Capabilities(network_none=False, memory_limit=False, pids_limit=False, cpu_limit=False,
                                output_limit=False)
        return Capabilities(
            network_none=True,
            network_gateway=True,
            gpu="nvidia" in (info.get("Runtimes") or {}),
            seccomp=any("seccomp" in s for s in info.get("SecurityOptions") or []),
            memory_limit=bool(info.get("MemoryLimit")),
            pids_limit=bool(info.get("PidsLimit")),
            cpu_limit=bool(info.get("CpuCfsQuota")),
            output_limit=os.geteuid() == 0,
        )

    def status(self) -> BackendStatus:
        try:
            info = self._info()
        except BackendUnavailableError as e:
            return BackendStatus(backend="docker", usable=False, detail=e.message, fix=e.hint)
        try:
            iid = images.ensure_image("scaffold", self.client())
        except SandboxError as e:
            return BackendStatus(backend="docker", usable=False,
                                 detail=f"engine {info.get('ServerVersion')} reachable; {e.message}", fix=e.hint)
        return BackendStatus(backend="docker", usable=True,
                             detail=f"engine {info.get('ServerVersion')}, cgroup v{info.get('CgroupVersion')}, "
                                    f"scaffold image {iid[:19]}")

    def check(self, spec: SandboxSpec) -> None:
        self._check(spec)

    def _check(self, spec: SandboxSpec) -> tuple[str, str]:
        """``check`` that also returns the resolved ``(image reference, image id)``."""
        caps = self.capabilities()
        if not caps.memory_limit and not caps.network_none:
            raise BackendUnavailableError("docker engine not reachable", hint="start it with scripts/start_dockerd.sh")
        for name in ("memory_limit", "pids_limit", "cpu_limit"):
            if not getattr(caps, name):
                raise LimitNotEnforceableError(f"this docker engine cannot enforce {name} (docker info says no)",
                                               hint="enable the cgroup controller or use the local backend")
        if spec.gpu and not caps.gpu:
            raise LimitNotEnforceableError("spec asks for a GPU but the docker engine has no nvidia runtime",
                                           hint="install nvidia-container-toolkit or use the modal backend")
        if spec.seccomp and not caps.seccomp:
            raise LimitNotEnforceableError("spec asks for seccomp but this docker engine has no seccomp support",
                                           hint="set seccomp=False explicitly or use the local backend")
        if spec.rw_mounts and not caps.output_limit:
            raise LimitNotEnforceableError("rw mounts need a size-bounded staging tmpfs, which needs root",
                                           hint="run as root or drop rw_mounts")
        if spec.limits.cpus > (os.cpu_count() or 1):
            raise LimitNotEnforceableError(f"limits.cpus={spec.limits.cpus} exceeds the {os.cpu_count()} host CPUs",
                                           hint="lower limits.cpus")
        if spec.limits.memory_mb < 8:
            raise LimitNotEnforceableError("docker needs limits.memory_mb >= 8", hint="raise limits.memory_mb")
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
        if spec.network == "gateway" and not is_socket(str(spec.gateway_socket)):
            raise SandboxSpecError(f"gateway socket {spec.gateway_socket} is not a Unix socket",
                                   hint="start the model gateway first")
        return images.resolve_image(spec.image, self.client())

    # ---------------------------------------------------------------- run
    def _create(self, spec: SandboxSpec, sid: str, image: str, staging: _Staging | None) -> Any:
        docker = _docker()
        lim = spec.limits
        env = {**{k: v for k, v in CONTAINER_ENV.items() if k not in spec.env}, **spec.env}
        # `env -i` as the entrypoint: the image's ENV lines and any ENTRYPOINT are replaced, not merged.
        argv = ["-i", *(f"{k}={v}" for k, v in env.items()), *spec.command]
        mounts = [docker.types.Mount(str(m.sandbox), os.path.realpath(m.host), type="bind", read_only=True)
                  for m in spec.ro_mounts]
        if staging is not None:
            mounts += [docker.types.Mount(str(dest), sub, type="bind", read_only=False)
                       for _, dest, sub in staging.rw]
        if spec.network == "gateway":
            mounts.append(docker.types.Mount(str(GATEWAY_SOCKET_PATH), os.path.realpath(str(spec.gateway_socket)),
                                             type="bind", read_only=False))
        host_config = self.client().api.create_host_config(
            network_mode="none",
            read_only=True,
            # /tmp pages are charged to the memory cgroup, so it can never outgrow limits.memory_mb.
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={lim.memory_mb}m,mode=1777"},
            shm_size=min(64, lim.memory_mb) * _MiB,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit=lim.memory_mb * _MiB,
            memswap_limit=lim.memory_mb * _MiB,
            pids_limit=lim.pids,
            nano_cpus=int(lim.cpus * 1e9),
            mounts=mounts,
            init=True,
            log_config=docker.types.LogConfig(type="none"),
            ipc_mode="private",
            device_requests=[docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])] if spec.gpu else None,
        )
        created = self.client().api.create_container(
            image, command=argv, entrypoint=["/usr/bin/env"], environment={}, use_config_proxy=False,
            user=f"{CONTAINER_UID}:{CONTAINER_UID}", working_dir=str(spec.workdir), stdin_open=spec.stdin is not None,
            tty=False, network_disabled=True, name=f"sia-{sid}", host_config=host_config,
            labels={LABEL: "1", f"{LABEL}.owner_pid": str(os.getpid()), f"{LABEL}.sandbox_id": sid},
        )
        return self.client().containers.get(created["Id"])

    def run(self, spec: SandboxSpec, *, sandbox_id: str | None = None) -> SandboxResult:
        """Run ``spec`` in a fresh container; the container is removed whatever happens.

        Raises:
            SandboxSpecError / LimitNotEnforceableError / BackendUnavailableError: as ``check``.
            SandboxError: the engine failed to create or stop the container.
        """
        ref, iid = self._check(spec)
        sid = sandbox_id or f"sb-{os.urandom(6).hex()}"
        blog = log.bind(sandbox_id=sid, backend="docker")
        limit = int(spec.limits.output_limit_mb * _MiB)
        caps = [StreamCapture(spec.limits.stream_cap_bytes, limit) for _ in range(2)]
        t0 = time.monotonic()
        outputs: list[OutputFile] = []
        with ExitStack() as stack:
            staging = _Staging(spec) if spec.rw_mounts else None
            if staging is not None:
                stack.callback(staging.remove)
            try:
                container = self._create(spec, sid, ref, staging)
            except _docker().errors.DockerException as e:
                raise SandboxError(f"docker backend could not create sandbox {sid}: {e}",
                                   hint="see /var/log/dockerd.log") from e
            stack.callback(self._remove, container)
            with self._lock:
                self._live[container.id] = container
            blog.info("sandbox.created", container=container.id[:12], image=ref)
            event, probe, status = self._drive(spec, container, caps)
            wall = time.monotonic() - t0
            container.reload()
            oom = bool(container.attrs["State"].get("OOMKilled")) or probe.stats.oom_killed
            out_full = staging is not None and staging.full()
            if staging is not None:
                outputs = staging.copy_out()
            cancelled = container.id in self._cancelled
        out, err = caps
        code = None if status is None else _exit_code(status)
        reason, detail = _reason(event, code, oom, probe.stats.pids_limited, out_full, cancelled, err.text())
        if reason == "timeout":
            detail = f"killed by the watchdog after {spec.limits.timeout_s} s"
        blog.info("exec.finished", reason=reason, exit_code=code, wall_s=round(wall, 3))
        return SandboxResult(
            sandbox_id=sid, backend="docker", exit_code=code, reason=reason, wall_s=wall,
            cpu_s=probe.stats.cpu_s, peak_memory_mb=probe.stats.peak_memory_mb,
            stdout=out.text(), stderr=err.text(), stdout_truncated=out.truncated, stderr_truncated=err.truncated,
            stdout_bytes=out.total, stderr_bytes=err.total, stdout_sha256=out.sha256, stderr_sha256=err.sha256,
            outputs=outputs, root=iid, enforcement=self._enforcement(spec), detail=detail,
        )

    def _drive(self, spec: SandboxSpec, container: Any, caps: list[StreamCapture]) -> tuple[str, _Probe, int | None]:
        """Attach, start, pump streams and stdin until exit, deadline or overflow; kill on the latter two."""
        api = self.client().api
        params = {"stdin": int(spec.stdin is not None), "stdout": 1, "stderr": 1, "stream": 1}
        sock_io = api.attach_socket(container.id, params=params)
        sock: socket.socket = sock_io._sock
        try:
            container.start()
            state = api.inspect_container(container.id)["State"]
            probe = _Probe(int(state.get("Pid") or 0))
            event = self._pump(sock, spec, caps, probe, time.monotonic() + spec.limits.timeout_s)
            if event != "exited":
                # Read (and drop) the stream WHILE killing: dockerd handles the exit only after its
                # copy into our attach socket finished, and a full socket would block that copy, the
                # exit and so the kill call (a deadlock we hit under load).
                drain = threading.Thread(target=_drain, args=(sock, time.monotonic() + 60), daemon=True)
                drain.start()
                self._kill(container)
                drain.join(60)
        except _docker().errors.DockerException as e:
            log.warning("sandbox.start_failed", container=container.id[:12], error=str(e))
            return "error", _Probe(0), None
        finally:
            sock.close()
        try:
            status = int(container.wait(timeout=30)["StatusCode"])
        except Exception as e:  # requests' ReadTimeout or a docker APIError: infrastructure failure
            raise SandboxError(f"container {container.id[:12]} did not stop after kill: {e}") from e
        return event, probe, status

    @staticmethod
    def _pump(sock: socket.socket, spec: SandboxSpec, caps: list[StreamCapture], probe: _Probe,
              deadline: float) -> str:
        stdin = spec.stdin or b""
        want_stdin = spec.stdin is not None
        sock.setblocking(False)
        buf = b""
        next_poll = 0.0
        while True:
            now = time.monotonic()
            if now >= deadline:
                return "timeout"
            if now >= next_poll:
                probe.poll()
                next_poll = now + 0.1
            r, w, _ = select.select([sock], [sock] if want_stdin else [], [], min(_POLL_S, deadline - now))
            if w:
                try:
                    n = sock.send(stdin[:1 << 16])
                    stdin = stdin[n:]
                except (BlockingIOError, InterruptedError):
                    n = 0
                except OSError:
                    stdin = b""  # the command closed its stdin; the rest is not consumed
                if not stdin:
                    sock.shutdown(socket.SHUT_WR)
                    want_stdin = False
            if not r:
                continue
            try:
                data = sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                probe.poll()
                return "exited"
            buf += data
            # Frames: 1 byte stream (1 stdout, 2 stderr), 3 padding, 4 bytes big-endian length, payload.
            while len(buf) >= 8:
                kind, size = struct.unpack(">BxxxL", buf[:8])
                if len(buf) < 8 + size:
                    break
                if kind in (1, 2):
                    cap = caps[kind - 1]
                    cap.feed(buf[8:8 + size])
                    if cap.over_limit:
                        return "output_limit"
                buf = buf[8 + size:]

    def _enforcement(self, spec: SandboxSpec) -> dict[str, str]:
        lim = spec.limits
        e = {
            "network": "docker network_mode=none" + (" + gateway socket bind" if spec.network == "gateway" else ""),
            "memory_mb": f"docker mem_limit=memswap_limit={lim.memory_mb}m (cgroup)",
            "pids": f"docker pids_limit={lim.pids} (cgroup)",
            "cpus": f"docker nano_cpus={int(lim.cpus * 1e9)} (CFS quota)",
            "timeout_s": "backend watchdog: docker kill at the deadline",
            "output_limit_mb": "stream caps (kill) + host tmpfs staging for rw mounts",
            "filesystem": "read-only root, tmpfs /tmp, ro/rw binds",
            "privileges": f"uid {CONTAINER_UID}, cap_drop=ALL, no-new-privileges",
        }
        e["seccomp"] = "docker default seccomp profile" if self.capabilities().seccomp else "none"
        return e

    # ---------------------------------------------------------------- cleanup
    def _kill(self, container: Any) -> None:
        try:
            container.kill()
        except _docker().errors.APIError as e:
            # 409: it already exited between our check and the kill.
            if getattr(e, "status_code", None) != 409:
                log.warning("container.kill_failed", container=container.id[:12], error=str(e))

    def _remove(self, container: Any) -> None:
        with self._lock:
            self._live.pop(container.id, None)
        try:
            container.remove(force=True, v=True)
        except _docker().errors.NotFound:
            pass
        except _docker().errors.APIError as e:
            log.warning("container.remove_failed", container=container.id[:12], error=str(e))

    def cancel_all(self) -> int:
        """Kill every container this backend instance is running (their ``run`` returns ``killed``).

        Returns:
            How many containers were killed.
        """
        with self._lock:
            live = list(self._live.values())
            self._cancelled.update(c.id for c in live)
        for c in live:
            self._kill(c)
        return len(live)

    def cleanup_leaked(self, *, include_live_owners: bool = False) -> list[str]:
        """Force-remove ``sia_sandbox=1`` containers left by dead processes (crash, SIGKILL).

        Args:
            include_live_owners: also remove containers whose owner process still runs (only when no
                other sia process is using the engine).

        Returns:
            Names of the removed containers.
        """
        removed = []
        for c in self.client().containers.list(all=True, filters={"label": f"{LABEL}=1"}):
            owner = int(c.labels.get(f"{LABEL}.owner_pid", "0") or 0)
            alive = owner > 0 and os.path.exists(f"/proc/{owner}")
            if alive and not include_live_owners:
                continue
            self._remove(c)
            removed.append(c.name)
        if removed:
            log.info("sandbox.leaks_removed", count=len(removed), names=removed)
        return removed


__all__ = ["LABEL", "DockerBackend"]
