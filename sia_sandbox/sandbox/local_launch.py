"""Pieces of one local sandbox launch: mount plan, limit plan, uid slots, bwrap argv.

Kept apart from ``local.py`` (the run loop and result) so each stays small; nothing here starts a
process.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from sia_sandbox.errors import LimitNotEnforceableError, SandboxError, SandboxSpecError
from sia_sandbox.sandbox import cgroups, paths
from sia_sandbox.sandbox.rootfs import DEFAULT_PATH, SANDBOX_HOME, SANDBOX_UID, VENV_MOUNT, RootLayout, root_layout
from sia_sandbox.sandbox.types import GATEWAY_SOCKET_PATH, Limits, SandboxSpec

if TYPE_CHECKING:
    from sia_sandbox.sandbox.local_staging import Staging

SETPRIV = "/usr/bin/setpriv"
UID_BASE = 61000
"""First host uid of sandboxes when we run as root: uid = UID_BASE + slot."""
UID_SLOTS = 1000
_UID_LOCK_DIR = "/tmp/.sia-sandbox-uids"


@dataclass
class MountPlan:
    """Resolved and checked user mounts of one spec (sources are resolved host paths)."""

    layout: RootLayout
    ro: list[tuple[str, PurePosixPath]] = field(default_factory=list)
    rw: list[tuple[str, PurePosixPath]] = field(default_factory=list)
    gateway: str | None = None
    make_workdir: bool = False

    @classmethod
    def build(cls, spec: SandboxSpec) -> "MountPlan":
        """Check every mount of ``spec`` and resolve its source.

        Raises:
            SandboxSpecError: missing source, forbidden source or destination, bad workdir.
        """
        layout = root_layout()
        protected = [p for p in (layout.venv, "/usr", "/etc", "/bin", "/lib") if p]
        plan = cls(layout)
        for m in spec.ro_mounts:
            paths.check_destination(m.sandbox)
            if not os.path.lexists(m.host):
                raise SandboxSpecError(
                    f"ro mount source {str(m.host)!r} does not exist", hint="check the HOST part of HOST:SANDBOX"
                )
            real = paths.check_host_source(m.host, writable=False)
            if os.geteuid() == 0 and not paths.readable_by_others(real):
                # The sandbox runs as an unrelated uid: a 0700 source would be mounted but unreadable.
                raise SandboxSpecError(
                    f"ro mount source {real!r} is not readable by the sandbox user (mode "
                    f"{stat.S_IMODE(os.stat(real).st_mode):o})",
                    hint=f"chmod o+rX {real}",
                )
            plan.ro.append((real, m.sandbox))
        for m in spec.rw_mounts:
            paths.check_destination(m.sandbox)
            real = paths.check_host_source(m.host, writable=True, protected=protected)
            if os.path.exists(real) and not os.path.isdir(real):
                raise SandboxSpecError(f"rw mount source {real!r} is not a directory")
            plan.rw.append((real, m.sandbox))
        if spec.gateway_socket is not None:
            real = os.path.realpath(spec.gateway_socket)
            if not paths.is_socket(real):
                raise SandboxSpecError(
                    f"gateway socket {str(spec.gateway_socket)!r} is not a Unix socket",
                    hint="start the gateway first and pass the path of its socket",
                )
            plan.gateway = real
        plan._check_workdir(spec.workdir)
        return plan

    def mounts(self) -> list[tuple[str, PurePosixPath]]:
        """(host, sandbox) of every user mount, deepest destinations last."""
        return sorted([*self.ro, *self.rw], key=lambda x: len(x[1].parts))

    def host_path(self, sandbox_path: str) -> str | None:
        """Map a sandbox path to the host path that backs it (None: /tmp, /proc, nothing)."""
        for host, dest in sorted(self.mounts(), key=lambda x: -len(x[1].parts)):
            d = str(dest)
            if sandbox_path == d or sandbox_path.startswith(d + "/"):
                return host + sandbox_path[len(d):]
        return self.layout.host_path(sandbox_path)

    def _check_workdir(self, workdir: PurePosixPath) -> None:
        w = str(workdir)
        host = self.host_path(w)
        if host is not None and os.path.isdir(host):
            return
        if host is None and (w == "/tmp" or w.startswith("/tmp/")):
            self.make_workdir = w != "/tmp"
            return
        if any(w == str(d) for _, d in self.rw):
            return
        raise SandboxSpecError(
            f"workdir {w} does not exist inside the sandbox",
            hint="use /tmp (default), a path under /tmp, or a directory inside a mount",
        )

    def resolve_command(self, spec: SandboxSpec) -> str:
        """Find ``command[0]`` inside the sandbox like execvp would.

        Raises:
            SandboxSpecError: not found (the message lists the searched sandbox directories).
        """
        cmd = spec.command[0]
        env_path = spec.env.get("PATH", DEFAULT_PATH)
        if "/" in cmd:
            candidates = [str(PurePosixPath(spec.workdir) / cmd)]
        else:
            candidates = [f"{d.rstrip('/')}/{cmd}" for d in env_path.split(":") if d.startswith("/")]
        for sb in candidates:
            host = self.host_path(sb)
            if host and os.path.isfile(host) and os.access(host, os.X_OK):
                return sb
        searched = candidates[0] if "/" in cmd else env_path
        raise SandboxSpecError(
            f"command {cmd!r} not found inside the sandbox (searched {searched})",
            hint="mount the program or use one from /usr/bin or the venv (python3)",
        )

    def open_fds(self) -> dict[str, int]:
        """Open an O_PATH fd per ro mount and the gateway (sandbox path -> fd) when not staging.

        Raises:
            SandboxSpecError: a source changed since the check.
        """
        fds: dict[str, int] = {}
        try:
            for host, dest in self.ro:
                fds[str(dest)] = paths.checked_open(host)
            if self.gateway is not None:
                fd = os.open(self.gateway, os.O_PATH | os.O_CLOEXEC | os.O_NOFOLLOW)
                fds[str(GATEWAY_SOCKET_PATH)] = fd
                if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                    raise SandboxSpecError(f"gateway socket {self.gateway!r} changed (no longer a socket)")
        except BaseException:
            for fd in fds.values():
                os.close(fd)
            raise
        return fds


def limit_plan(limits: Limits, cg: cgroups.CgroupHost, has_rw: bool) -> tuple[dict[str, str], str]:
    """Decide how each limit is enforced when a cgroup is missing for it.

    Returns:
        (limit -> enforcement for the non-cgroup limits, shell ``ulimit`` commands for the launcher).

    Raises:
        LimitNotEnforceableError: a limit with neither a cgroup nor a sound fallback.
    """
    root = os.geteuid() == 0
    enf: dict[str, str] = {}
    script = ""
    if cg.memory is None:
        script += f"ulimit -v {limits.memory_mb << 10} || exit 125; "
        enf["memory_mb"] = "rlimit RLIMIT_AS (virtual memory, per process)"
    if cg.pids is None:
        if not root:
            raise LimitNotEnforceableError(
                "pids limit cannot be enforced: no usable pids cgroup and no per-sandbox uid (not root)",
                hint="run as root or delegate a cgroup (systemd-run --user --scope -p Delegate=yes)",
            )
        # +2: bwrap's own monitor and pid 1 run under the same uid.
        script += f"ulimit -p {limits.pids + 2} || exit 125; "
        enf["pids"] = "rlimit RLIMIT_NPROC on a per-sandbox uid"
    if cg.cpu is None:
        cores = os.cpu_count() or 1
        if limits.cpus < cores:
            raise LimitNotEnforceableError(
                f"cpus={limits.cpus} cannot be enforced: no usable cpu cgroup ({cg.version})",
                hint=f"set cpus >= {cores} (the host's cores) or run where cgroups are writable",
            )
        enf["cpus"] = f"not needed: host has {cores} cores"
    kill = "cgroup.kill" if cg.kill else "freezer + SIGKILL" if cg.freezer else "killpg + pid namespace"
    enf["timeout_s"] = f"parent watchdog, {kill}"
    enf["output_limit_mb"] = "streams: parent byte counter"
    if has_rw:
        if not root:
            raise LimitNotEnforceableError(
                "output_limit_mb cannot be enforced on rw mounts: a size-limited tmpfs needs root",
                hint="run as root, or drop rw mounts and write results to stdout",
            )
        enf["output_limit_mb"] += "; rw mounts: size-limited tmpfs, copied back without following symlinks"
    return enf, script


_uid_lock = threading.Lock()
_uids_in_use: set[int] = set()


@functools.cache
def _uid_lock_dir() -> str:
    os.makedirs(_UID_LOCK_DIR, mode=0o700, exist_ok=True)
    st = os.lstat(_UID_LOCK_DIR)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022:
        raise SandboxError(f"{_UID_LOCK_DIR} is not a root-owned private directory", hint="remove it and retry")
    return _UID_LOCK_DIR


@contextlib.contextmanager
def sandbox_uid() -> Iterator[int | None]:
    """Reserve a host uid for one sandbox (None when not root: the sandbox runs as us).

    Slots are exclusive within this process (a set) and across processes (flock on a lock file), so
    two sandboxes never share a uid and RLIMIT_NPROC counts only one sandbox.

    Raises:
        SandboxError: every slot is taken.
    """
    if os.geteuid() != 0:
        yield None
        return
    lock_dir = _uid_lock_dir()
    for slot in range(UID_SLOTS):
        uid = UID_BASE + slot
        with _uid_lock:
            if uid in _uids_in_use:
                continue
            _uids_in_use.add(uid)
        fd = os.open(f"{lock_dir}/{uid}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            with _uid_lock:
                _uids_in_use.discard(uid)
            continue
        try:
            yield uid
        finally:
            os.close(fd)
            with _uid_lock:
                _uids_in_use.discard(uid)
        return
    raise SandboxError(f"all {UID_SLOTS} sandbox uids are in use", hint="run fewer sandboxes at once")


@functools.cache
def _root_fds() -> tuple[tuple[int, str], ...]:
    """O_PATH fds of the root layout's sources, opened once per process: (fd, sandbox path)."""
    layout = root_layout()
    pairs = [(h, s) for h, s in layout.binds]
    pairs.append((layout.etc_dir, "/etc"))
    if layout.etc_alternatives:
        pairs.append((layout.etc_alternatives, "/etc/alternatives"))
    if layout.venv:
        pairs.append((layout.venv, VENV_MOUNT))
    return tuple((os.open(h, os.O_PATH | os.O_CLOEXEC | os.O_DIRECTORY), s) for h, s in pairs)


def root_fds() -> tuple[int, ...]:
    """The fds every launch passes to bwrap."""
    return tuple(fd for fd, _ in _root_fds())


@functools.cache
def _bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxError("bwrap disappeared from PATH")
    return path


def sandbox_env(spec: SandboxSpec) -> dict[str, str]:
    """Exactly ``spec.env`` plus PATH/HOME/LANG defaults when missing."""
    return {"PATH": DEFAULT_PATH, "HOME": SANDBOX_HOME, "LANG": "C.UTF-8", **spec.env}


def argv(spec: SandboxSpec, plan: MountPlan, staging: Staging | None, mount_fds: dict[str, int],
         seccomp_fd: int | None, status_fd: int, procs_files: list[str], uid: int | None,
         rlimit_script: str) -> list[str]:
    """The launcher command line: sh (join cgroups, rlimits) -> setpriv (drop uid) -> bwrap -> command."""
    # Every process starts in the cgroups: sh joins them before it execs anything else.
    script = ("ulimit -c 0 || exit 125; " + rlimit_script
              + 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"')
    out = ["/bin/sh", "-c", script, "sia-launch", *procs_files, "--"]
    if uid is not None:
        out += [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--bounding-set=-all", "--"]
    out += [_bwrap(), "--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(SANDBOX_UID),
            "--gid", str(SANDBOX_UID), "--hostname", "sandbox", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--clearenv"]
    for k, v in sandbox_env(spec).items():
        out += ["--setenv", k, v]
    for fd, dest in _root_fds():
        out += ["--ro-bind-fd", str(fd), dest]
    for target, link in plan.layout.symlinks:
        out += ["--symlink", target, link]
    out += ["--proc", "/proc", "--dev", "/dev"]
    out += ["--perms", "1777", "--size", str(spec.limits.memory_mb << 20), "--tmpfs", "/tmp"]
    rw = {str(d) for _, d in plan.rw}
    dests = [str(d) for _, d in plan.mounts()]
    if plan.gateway is not None:
        out += ["--dir", str(GATEWAY_SOCKET_PATH.parent)]
        dests.append(str(GATEWAY_SOCKET_PATH))
    for dest in dests:
        if staging is not None:
            out += ["--bind" if dest in rw else "--ro-bind", staging.sources[dest], dest]
        else:
            out += ["--ro-bind-fd", str(mount_fds[dest]), dest]
    if plan.make_workdir:
        out += ["--dir", str(spec.workdir)]
    out += ["--remount-ro", "/", "--chdir", str(spec.workdir), "--json-status-fd", str(status_fd)]
    if seccomp_fd is not None:
        out += ["--seccomp", str(seccomp_fd)]
    return [*out, "--", *spec.command]
