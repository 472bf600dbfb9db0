"""Per-run staging of a local sandbox's mounts on the host (root only).

bwrap canonicalizes mount sources as the unprivileged sandbox uid, so sources under private
directories would be unreachable, and rw mounts must not be able to fill the host disk. This module
binds checked sources into a root-owned per-run directory and stages rw mounts on a size-limited
tmpfs that is copied back, without following symlinks, after the run.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import errno
import os
import stat
import tempfile
from dataclasses import dataclass, field

from sia_sandbox.sandbox import paths
from sia_sandbox.sandbox.local_launch import MountPlan
from sia_sandbox.sandbox.manifest import copy_tree, fs_full, replace_with_staged
from sia_sandbox.sandbox.types import GATEWAY_SOCKET_PATH, OutputFile

_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC, _MNT_DETACH = 2, 4, 4096, 16384, 2

_libc = ctypes.CDLL(None, use_errno=True)


_base: list[str] = []


def _stage_base() -> str:
    """This process's staging parent dir, recreated if a tmp cleaner removed it."""
    if _base and os.path.isdir(_base[0]):
        return _base[0]
    d = tempfile.mkdtemp(prefix="sia-stage-")
    # 0711: the sandbox uid may traverse to the (randomly named) per-run dirs, never list them.
    os.chmod(d, 0o711)
    atexit.register(_rmdir_quietly, d)
    _base[:] = [d]
    return d


def _rmdir_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, opts: str | None) -> None:
    rc = _libc.mount(
        None if source is None else source.encode(), target.encode(),
        None if fstype is None else fstype.encode(), flags, None if opts is None else opts.encode(),
    )
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"mount {source} on {target}: {os.strerror(e)}")


@dataclass
class Staging:
    """Per-run host directory (root only) exporting every user mount to the unprivileged sandbox uid.

    bwrap canonicalizes mount sources as the sandbox uid, so a source under a private directory
    (a 0700 home, pytest's tmp) would be unreachable. As root we bind each checked O_PATH fd onto
    ``<run>/r<i>`` (no path lookup after the check: no symlink-swap window), and stage rw mounts on
    a size-limited tmpfs ``<run>/out/m<i>`` that is copied back after the run.
    """

    root: str
    plan: MountPlan
    mounted: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    """sandbox path -> staged host path to hand to bwrap."""

    @classmethod
    def create(cls, plan: MountPlan, output_limit_mb: float, uid: int) -> "Staging":
        """Bind the ro sources, mount the output tmpfs and copy in what the rw dirs already hold.

        Raises:
            SandboxSpecError: a source changed since the check.
            OSError: a mount or the copy failed (e.g. existing content larger than the limit).
        """
        root = tempfile.mkdtemp(dir=_stage_base())
        os.chmod(root, 0o711)
        st = cls(root, plan)
        try:
            exports = [(h, d) for h, d in plan.ro]
            if plan.gateway is not None:
                exports.append((plan.gateway, GATEWAY_SOCKET_PATH))
            for i, (host, dest) in enumerate(exports):
                st._bind(host, os.path.join(root, f"r{i}"), str(dest))
            if plan.rw:
                st._stage_rw(output_limit_mb, uid)
        except BaseException:
            st.remove()
            raise
        return st

    def _bind(self, host: str, target: str, dest: str) -> None:
        fd = paths.checked_open(host)
        try:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                os.mkdir(target, 0o700)
            else:
                os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600))
            _mount(f"/proc/self/fd/{fd}", target, None, _MS_BIND | _MS_REC, None)
        finally:
            os.close(fd)
        self.mounted.append(target)
        self.sources[dest] = target

    def _stage_rw(self, output_limit_mb: float, uid: int) -> None:
        size = max(4096, int(output_limit_mb * (1 << 20)))
        out = os.path.join(self.root, "out")
        os.mkdir(out, 0o700)
        opts = f"size={size},nr_inodes={max(1024, min(1 << 20, size >> 10))},mode=0711,uid=0,gid=0"
        _mount("sia-out", out, "tmpfs", _MS_NOSUID | _MS_NODEV, opts)
        self.mounted.append(out)
        for i, (host, dest) in enumerate(self.plan.rw):
            sub = os.path.join(out, f"m{i}")
            os.mkdir(sub, 0o755)
            if os.path.isdir(host):
                copy_tree(host, sub, owner=(uid, uid))
            os.chown(sub, uid, uid)
            self.sources[str(dest)] = sub

    @property
    def out_dir(self) -> str:
        """Mount point of the output tmpfs."""
        return os.path.join(self.root, "out")

    def full(self) -> bool:
        """True when the output tmpfs has (almost) no bytes or inodes left."""
        if not self.plan.rw:
            return False
        return fs_full(self.out_dir)

    def copy_out(self) -> list[OutputFile]:
        """Replace each host rw dir's content by the staged tree; returns the manifest.

        Raises:
            SandboxError: the copy failed.
        """
        return [f for host, dest in self.plan.rw for f in replace_with_staged(self.sources[str(dest)], host, dest)]

    def remove(self) -> None:
        """Unmount everything and delete the run dir (never raises)."""
        for target in reversed(self.mounted):
            if _libc.umount2(target.encode(), _MNT_DETACH) != 0 and ctypes.get_errno() != errno.EINVAL:
                return
        self.mounted.clear()
        # Never rmtree: if an unmount had silently failed, that would delete a mounted host source.
        with contextlib.suppress(OSError):
            for e in os.scandir(self.root):
                if e.is_dir(follow_symlinks=False):
                    os.rmdir(e.path)
                else:
                    os.unlink(e.path)
            os.rmdir(self.root)
