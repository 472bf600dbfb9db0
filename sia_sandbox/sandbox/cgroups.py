"""Per-sandbox cgroups on cgroup v2, v1 or a v1/v2 hybrid; detected once per process, never assumed.

Each sandbox gets child cgroups (``sia-<sandbox_id>``) under this process's own cgroup in every usable
controller: memory (limit, peak, OOM kills), pids (limit, fork failures), cpu (CFS quota, usage) and,
for killing the whole tree at once, a v2 directory with ``cgroup.kill`` (the unified hierarchy of a
hybrid host counts) or else the v1 freezer. The launcher writes its own pid into every
``cgroup.procs`` before it execs bubblewrap, so every process of the sandbox starts inside.

Not protected against: a host where this process's cgroup cannot have children (pure v2 with
processes in our cgroup and controllers not delegated); the backend then falls back to rlimits or
refuses the limit.
"""

from __future__ import annotations

import errno
import functools
import os
import select
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

import structlog

log = structlog.get_logger(__name__)

CgroupVersion = Literal["v2", "v1", "none"]
_CPU_PERIOD_US = 100_000


@dataclass(frozen=True)
class CgroupHost:
    """Where this process may create per-sandbox cgroups, per role (None = unusable)."""

    version: CgroupVersion
    memory: str | None = None
    memsw: bool = False
    pids: str | None = None
    cpu: str | None = None
    cpuacct: str | None = None
    freezer: str | None = None
    kill: str | None = None
    """A v2 parent directory whose children have ``cgroup.kill`` and ``cgroup.events``."""
    detail: str = ""

    def describe(self) -> str:
        """One line for ``status()``."""
        roles = [r for r in ("memory", "pids", "cpu", "cpuacct", "freezer", "kill") if getattr(self, r)]
        return f"cgroup {self.version} ({', '.join(roles) or 'no usable controllers'}){self.detail}"


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(fstype, mount root, mountpoint, super options) of every cgroup mount."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields, rest = pre.split(), post.split()
            if len(rest) >= 3 and rest[0] in ("cgroup", "cgroup2"):
                out.append((rest[0], fields[3], fields[4], set(rest[2].split(","))))
    return out


def _own_paths() -> dict[str, str]:
    """controller name (or '' for v2) -> this process's cgroup path."""
    paths: dict[str, str] = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in ctrls.split(",") if ctrls else [""]:
                paths[c.removeprefix("name=")] = path
    return paths


def _dir(mountpoint: str, root: str, path: str) -> str | None:
    rel = path[len(root):] if root != "/" and path.startswith(root) else path
    d = os.path.normpath(mountpoint + "/" + rel.lstrip("/"))
    return d if os.path.isdir(d) else None


def _probe(parent: str, files: tuple[str, ...] = ()) -> bool:
    """True when a child cgroup can be created under ``parent`` and has ``files``."""
    probe = os.path.join(parent, f"sia-probe-{os.getpid()}")
    try:
        os.mkdir(probe)
    except FileExistsError:
        pass
    except OSError:
        return False
    try:
        return all(os.path.exists(os.path.join(probe, f)) for f in files)
    finally:
        try:
            os.rmdir(probe)
        except OSError:
            pass


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _v2_host(mountpoint: str, own: str) -> CgroupHost:
    base = _dir(mountpoint, "/", own)
    if base is None:
        return CgroupHost("none", detail=f": own v2 cgroup {own} not found under {mountpoint}")
    kill = base if _probe(base, ("cgroup.kill",)) else None
    try:
        enabled = set(_read(os.path.join(base, "cgroup.subtree_control")).split())
        wanted = {"memory", "pids", "cpu"} & set(_read(os.path.join(base, "cgroup.controllers")).split())
        if wanted - enabled:
            _write(os.path.join(base, "cgroup.subtree_control"), " ".join(f"+{c}" for c in wanted - enabled))
            enabled = set(_read(os.path.join(base, "cgroup.subtree_control")).split())
    except OSError as e:
        # EBUSY: our cgroup holds processes, so v2 forbids controllers for its children.
        return CgroupHost("v2", kill=kill, detail=f": controllers not delegated to {base} ({e.strerror})")
    ok = _probe(base)
    return CgroupHost(
        "v2",
        memory=base if ok and "memory" in enabled else None,
        memsw=ok and "memory" in enabled,
        pids=base if ok and "pids" in enabled else None,
        cpu=base if ok and "cpu" in enabled else None,
        cpuacct=base if ok and "cpu" in enabled else None,
        kill=kill,
    )


_detect_lock = threading.Lock()


def detect() -> CgroupHost:
    """Find which cgroup roles this process can use (cached; never raises; thread-safe)."""
    with _detect_lock:
        return _detect()


@functools.cache
def _detect() -> CgroupHost:
    try:
        mounts, own = _mounts(), _own_paths()
    except OSError as e:
        return CgroupHost("none", detail=f": cannot read /proc ({e.strerror})")
    v2 = [m for m in mounts if m[0] == "cgroup2"]
    v1 = [m for m in mounts if m[0] == "cgroup"]
    if v2 and not v1 and "" in own:
        return _v2_host(v2[0][2], own[""])
    if not v1:
        return CgroupHost("none", detail=": no cgroup filesystem mounted")
    roles: dict[str, str | None] = {}
    for ctrl in ("memory", "pids", "cpu", "cpuacct", "freezer"):
        m = next((m for m in v1 if ctrl in m[3]), None)
        d = _dir(m[2], m[1], own[ctrl]) if m and ctrl in own else None
        roles[ctrl] = d if d and _probe(d) else None
    kill = None
    if v2 and "" in own:
        base = _dir(v2[0][2], v2[0][1], own[""])
        kill = base if base and _probe(base, ("cgroup.kill",)) else None
    memsw = bool(roles["memory"]) and os.path.exists(os.path.join(str(roles["memory"]), "memory.memsw.limit_in_bytes"))
    return CgroupHost("v1", memsw=memsw, kill=kill, **roles)


@dataclass(frozen=True)
class CgroupStats:
    """What the cgroups saw during one run."""

    oom_killed: bool = False
    pids_limited: bool = False
    cpu_s: float | None = None
    peak_memory_mb: float | None = None


@dataclass
class SandboxCgroup:
    """The child cgroups of one sandbox. Create with ``create``; always ``remove`` in a finally."""

    host: CgroupHost
    name: str
    dirs: dict[str, str] = field(default_factory=dict)
    """role -> created directory (several roles share one directory on v2)."""

    def _mk(self, role: str, parent: str | None) -> str | None:
        if parent is None:
            return None
        d = os.path.join(parent, self.name)
        if d not in self.dirs.values():
            os.mkdir(d)
        self.dirs[role] = d
        return d

    def create(self, *, memory_mb: int, pids: int, cpus: float) -> dict[str, str]:
        """Create the cgroups and write the limits.

        Returns:
            limit name -> how it is enforced, for the limits a cgroup enforces.

        Raises:
            OSError: a cgroup could not be created or configured (the caller removes and falls back).
        """
        h, v = self.host, self.host.version
        enforced: dict[str, str] = {}
        if d := self._mk("memory", h.memory):
            limit = str(memory_mb << 20)
            if v == "v2":
                _write(f"{d}/memory.max", limit)
                if os.path.exists(f"{d}/memory.swap.max"):
                    _write(f"{d}/memory.swap.max", "0")
                enforced["memory_mb"] = "cgroup-v2 memory.max, memory.swap.max=0"
            else:
                _write(f"{d}/memory.limit_in_bytes", limit)
                if h.memsw:
                    _write(f"{d}/memory.memsw.limit_in_bytes", limit)
                enforced["memory_mb"] = "cgroup-v1 memory.limit_in_bytes" + (" + memsw" if h.memsw else "")
        if d := self._mk("pids", h.pids):
            _write(f"{d}/pids.max", str(pids))
            enforced["pids"] = f"cgroup-{v} pids.max"
        if d := self._mk("cpu", h.cpu):
            quota = max(1000, int(cpus * _CPU_PERIOD_US))
            if v == "v2":
                _write(f"{d}/cpu.max", f"{quota} {_CPU_PERIOD_US}")
                enforced["cpus"] = "cgroup-v2 cpu.max"
            else:
                _write(f"{d}/cpu.cfs_period_us", str(_CPU_PERIOD_US))
                _write(f"{d}/cpu.cfs_quota_us", str(quota))
                enforced["cpus"] = "cgroup-v1 cpu.cfs_quota_us"
        # cpuacct only when it shares the cpu directory (comounted): a separate one costs a mkdir per run,
        # and the v2 kill cgroup's cpu.stat (see stats) covers the tree.
        if h.cpuacct and h.cpuacct == h.cpu and "cpu" in self.dirs:
            self.dirs["cpuacct"] = self.dirs["cpu"]
        if self._mk("kill", h.kill):
            enforced["kill"] = "cgroup-v2 cgroup.kill"
        elif self._mk("freezer", h.freezer):
            enforced["kill"] = "cgroup-v1 freezer + SIGKILL"
        return enforced

    @property
    def procs_files(self) -> list[str]:
        """Every ``cgroup.procs`` the launcher must join (one per distinct directory)."""
        return [f"{d}/cgroup.procs" for d in dict.fromkeys(self.dirs.values())]

    def _pids(self) -> set[int]:
        pids: set[int] = set()
        for f in self.procs_files:
            try:
                pids.update(int(x) for x in _read(f).split())
            except OSError:
                continue
        return pids

    def kill(self) -> None:
        """SIGKILL every process in the sandbox's cgroups (idempotent, never raises)."""
        try:
            if "kill" in self.dirs:
                _write(f"{self.dirs['kill']}/cgroup.kill", "1")
                return
            frozen = "freezer" in self.dirs
            if frozen:
                _write(f"{self.dirs['freezer']}/freezer.state", "FROZEN")
            for pid in self._pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
            if frozen:
                _write(f"{self.dirs['freezer']}/freezer.state", "THAWED")
        except OSError as e:
            log.warning("cgroup.kill_failed", cgroup=self.name, error=str(e))

    def empty(self) -> bool:
        """True when no process is left in any of the sandbox's cgroups."""
        if "kill" in self.dirs:
            try:
                return "populated 0" in _read(f"{self.dirs['kill']}/cgroup.events")
            except OSError:
                return True
        return not self._pids()

    def wait_empty(self, timeout_s: float) -> bool:
        """Kill and wait until the cgroups are empty; False when processes remain after the timeout."""
        deadline = time.monotonic() + timeout_s
        if "kill" in self.dirs:
            return self._wait_events(deadline)
        delay = 0.0005
        while not self.empty():
            if time.monotonic() > deadline:
                return False
            self.kill()
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        return True

    def _wait_events(self, deadline: float) -> bool:
        # cgroup.events signals POLLPRI on every change, so this wakes exactly when the last process
        # leaves instead of sleeping in a loop.
        try:
            fd = os.open(f"{self.dirs['kill']}/cgroup.events", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return True
        poller = select.poll()
        poller.register(fd, select.POLLPRI)
        try:
            while True:
                os.lseek(fd, 0, os.SEEK_SET)
                if b"populated 0" in os.read(fd, 4096):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.kill()
                poller.poll(min(left, 0.05) * 1000)
        finally:
            os.close(fd)

    def stats(self) -> CgroupStats:
        """Read OOM kills, pids-limit hits, CPU time and peak memory (missing counters are None)."""
        kv = self._kv
        oom = pids_hit = False
        cpu_s = peak = None
        if d := self.dirs.get("memory"):
            if self.host.version == "v2":
                oom = kv(f"{d}/memory.events").get("oom_kill", 0) > 0
                peak_b = self._int(f"{d}/memory.peak")
            else:
                ctl = kv(f"{d}/memory.oom_control")
                oom = ctl.get("oom_kill", 0) > 0 or ctl.get("under_oom", 0) > 0
                peak_b = self._int(f"{d}/memory.max_usage_in_bytes")
            peak = None if peak_b is None else peak_b / (1 << 20)
        if d := self.dirs.get("pids"):
            pids_hit = kv(f"{d}/pids.events").get("max", 0) > 0
        if d := self.dirs.get("cpuacct"):
            if self.host.version == "v2":
                usec = kv(f"{d}/cpu.stat").get("usage_usec")
                cpu_s = None if usec is None else usec / 1e6
            else:
                ns = self._int(f"{d}/cpuacct.usage")
                cpu_s = None if ns is None else ns / 1e9
        elif d := self.dirs.get("kill"):
            # A hybrid host whose cpuacct is a separate v1 hierarchy: the per-run v2 cgroup (made for
            # cgroup.kill) keeps cpu.stat without any controller, and unlike wait4's rusage it counts
            # processes that nobody waited for (bwrap's init reaps, but its own rusage stays inside).
            usec = kv(f"{d}/cpu.stat").get("usage_usec")
            cpu_s = None if usec is None else usec / 1e6
        return CgroupStats(oom_killed=oom, pids_limited=pids_hit, cpu_s=cpu_s, peak_memory_mb=peak)

    @staticmethod
    def _kv(path: str) -> dict[str, int]:
        try:
            return {k: int(v) for k, v in (line.split() for line in _read(path).splitlines() if line.strip())}
        except (OSError, ValueError):
            return {}

    @staticmethod
    def _int(path: str) -> int | None:
        try:
            return int(_read(path).strip())
        except (OSError, ValueError):
            return None

    def remove(self) -> None:
        """Kill what is left, wait until empty and remove the directories (never raises)."""
        if not self.dirs:
            return
        if not self.wait_empty(5.0):
            log.warning("cgroup.not_emptied", cgroup=self.name, pids=sorted(self._pids()))
        for d in dict.fromkeys(self.dirs.values()):
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY:
                        log.warning("cgroup.remove_failed", path=d, error=str(e))
                        break
                    time.sleep(0.01)
        self.dirs.clear()
