"""Manifest of what a sandbox left in its output mounts, and symlink-safe tree copies.

Every walk uses ``lstat``/``readlink`` and ``O_NOFOLLOW``: a symlink the command planted (to
``/etc/shadow``, ``../../``) is recorded with its target and copied as a symlink, never dereferenced.
Reusable by any backend that has the output directory on the host.

Not protected against: a consumer that later follows a recorded symlink on its own; the manifest
says it is a symlink and where it points.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import PurePosixPath

from sia_sandbox.errors import SandboxError
from sia_sandbox.sandbox.types import OutputFile

_CHUNK = 1 << 20


def _sandbox_path(prefix: PurePosixPath, rel: str) -> str:
    return str(prefix / rel) if rel else str(prefix)


def _hash_fd(fd: int, out_fd: int | None = None) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    while chunk := os.read(fd, _CHUNK):
        h.update(chunk)
        size += len(chunk)
        if out_fd is not None:
            view = memoryview(chunk)
            while view:
                view = view[os.write(out_fd, view):]
    return size, h.hexdigest()


def _walk(root: str) -> list[tuple[str, os.stat_result]]:
    """(relative path, lstat) of every entry under ``root``, parents before children, sorted."""
    found: list[tuple[str, os.stat_result]] = []
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(os.path.join(root, rel) if rel else root) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            child = f"{rel}/{e.name}" if rel else e.name
            st = e.stat(follow_symlinks=False)
            found.append((child, st))
            if stat.S_ISDIR(st.st_mode):
                stack.append(child)
    found.sort(key=lambda x: x[0])
    return found


def _entry(prefix: PurePosixPath, rel: str, st: os.stat_result, path: str) -> OutputFile:
    sp = _sandbox_path(prefix, rel)
    if stat.S_ISLNK(st.st_mode):
        return OutputFile(path=sp, kind="symlink", size=st.st_size, link_target=os.readlink(path))
    if stat.S_ISDIR(st.st_mode):
        return OutputFile(path=sp, kind="dir")
    return OutputFile(path=sp, kind="other", size=st.st_size)


def build_manifest(root: str | os.PathLike[str], prefix: PurePosixPath) -> list[OutputFile]:
    """List every entry under ``root`` as ``OutputFile``s named by their sandbox path.

    Args:
        root: host directory that was mounted in the sandbox.
        prefix: the sandbox path it was mounted at.
    """
    root = os.fspath(root)
    out: list[OutputFile] = []
    for rel, st in _walk(root):
        path = os.path.join(root, rel)
        if stat.S_ISREG(st.st_mode):
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
            try:
                size, digest = _hash_fd(fd)
            finally:
                os.close(fd)
            out.append(OutputFile(path=_sandbox_path(prefix, rel), kind="file", size=size, sha256=digest))
        else:
            out.append(_entry(prefix, rel, st, path))
    return out


def copy_tree(
    src: str, dst: str, *, prefix: PurePosixPath | None = None, owner: tuple[int, int] | None = None
) -> list[OutputFile]:
    """Copy the tree under ``src`` into the existing empty dir ``dst`` without following symlinks.

    Regular files are copied (and hashed), directories recreated, symlinks recreated with the same
    target, anything else (fifos, sockets, devices) skipped but listed as ``other``. Permission bits
    are kept minus setuid/setgid/sticky.

    Args:
        src: source directory (nothing may write to it during the copy).
        dst: destination directory.
        prefix: sandbox path to name the entries in the returned manifest (default: ``/``).
        owner: (uid, gid) for every created entry; None keeps the source's owner.

    Returns:
        The manifest of what was copied.
    """
    prefix = prefix or PurePosixPath("/")
    manifest: list[OutputFile] = []
    dir_modes: list[tuple[str, int]] = []
    for rel, st in _walk(src):
        s, d = os.path.join(src, rel), os.path.join(dst, rel)
        uid, gid = owner or (st.st_uid, st.st_gid)
        mode = stat.S_IMODE(st.st_mode) & 0o777
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(d, 0o700)
            manifest.append(_entry(prefix, rel, st, s))
            dir_modes.append((d, mode))
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(s), d)
            manifest.append(_entry(prefix, rel, st, s))
        elif stat.S_ISREG(st.st_mode):
            fi = os.open(s, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
            try:
                fo = os.open(d, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
                try:
                    size, digest = _hash_fd(fi, fo)
                finally:
                    os.close(fo)
            finally:
                os.close(fi)
            manifest.append(OutputFile(path=_sandbox_path(prefix, rel), kind="file", size=size, sha256=digest))
        else:
            manifest.append(_entry(prefix, rel, st, s))
            continue
        os.lchown(d, uid, gid)
        if stat.S_ISREG(st.st_mode):
            os.chmod(d, mode)
    # Directory modes last, so a read-only directory can still be filled.
    for d, mode in reversed(dir_modes):
        os.chmod(d, mode)
    return manifest


def replace_with_staged(staged: str, host: str, dest: PurePosixPath) -> list[OutputFile]:
    """Make the host output dir ``host`` hold exactly the staged tree (symlinks never followed).

    Used by every backend that stages rw mounts on a size-limited tmpfs: the host dir's old content
    goes, the sandbox's result is copied in, and the manifest names entries by their sandbox path.

    Raises:
        SandboxError: the copy failed.
    """
    try:
        os.makedirs(host, exist_ok=True)
        with os.scandir(host) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    shutil.rmtree(e.path)
                else:
                    os.unlink(e.path)
        return copy_tree(staged, host, prefix=dest)
    except OSError as e:
        raise SandboxError(f"could not copy outputs of {dest} to {host}: {e}") from e


def fs_full(path: str) -> bool:
    """True when the filesystem at ``path`` has (almost) no bytes or inodes left (a filled output tmpfs)."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize < 65536 or st.f_favail < 2
