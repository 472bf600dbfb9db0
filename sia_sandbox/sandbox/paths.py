"""Which host paths may be mounted into a sandbox, and where; shared by every backend.

A mount source is checked on its fully resolved path, and the local backend re-checks the path of
the file descriptor it actually mounts (``checked_open``), so a symlink swapped in after the check
cannot redirect a mount to a secret.

Not protected against: secrets stored in a directory the caller chose to mount on purpose; this
module only refuses the places that are never legitimate (home directories, task gold data, kernel
interfaces, the whole root).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from sia_sandbox.errors import SandboxSpecError
from sia_sandbox.sandbox.types import RESERVED_DESTINATIONS

DENIED_HOST_PATHS: tuple[str, ...] = (
    "/root", "/home", "/proc", "/sys", "/dev", "/boot", "/run", "/var/run", "/etc/shadow",
    "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d", "/etc/ssh", "/var/lib/docker",
)
"""Host paths that are never mounted, nor any directory that contains one of them."""

_HINT_SOURCE = "mount only task inputs and output directories (never home dirs, tasks/*/private or /)"


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def is_private_task_path(path: str) -> bool:
    """True when ``path`` is, or is inside, a ``tasks/<name>/private`` directory."""
    parts = PurePosixPath(path).parts
    return any(
        parts[i] == "tasks" and parts[i + 2] == "private" for i in range(len(parts) - 2)
    )


def _contains_private_tasks(directory: str) -> bool:
    """True when ``directory`` holds a ``tasks/*/private`` dir within the depths a project has."""
    p = Path(directory)
    name = p.name
    patterns = ["tasks/*/private", "*/tasks/*/private", "*/*/tasks/*/private"]
    if name == "tasks":
        patterns.append("*/private")
    if p.parent.name == "tasks":
        patterns.append("private")
    try:
        return any(next(p.glob(pat), None) is not None for pat in patterns)
    except OSError:
        return False


def check_host_source(
    path: str | os.PathLike[str], *, writable: bool, protected: Iterable[str] = ()
) -> str:
    """Resolve a mount source and refuse forbidden places.

    Args:
        path: the host path as the caller wrote it.
        writable: True for an rw (output) mount.
        protected: extra resolved paths that must not be mounted writable nor be inside a writable
            mount (the sandbox runtime, e.g. the venv).

    Returns:
        The fully resolved path.

    Raises:
        SandboxSpecError: the path is, is inside, or contains a forbidden path.
    """
    try:
        real = os.path.realpath(path)
    except OSError as e:
        raise SandboxSpecError(f"mount source {os.fspath(path)!r} cannot be resolved: {e.strerror}") from e
    shown = f"{os.fspath(path)!r}" + (f" (resolves to {real!r})" if real != os.fspath(path) else "")
    if real == "/":
        raise SandboxSpecError(f"mount source {shown} is the host root", hint=_HINT_SOURCE)
    for denied in DENIED_HOST_PATHS:
        if _is_within(real, denied) or _is_within(denied, real):
            raise SandboxSpecError(
                f"mount source {shown} is or contains the forbidden host path {denied}", hint=_HINT_SOURCE
            )
    if is_private_task_path(real) or (os.path.isdir(real) and _contains_private_tasks(real)):
        raise SandboxSpecError(
            f"mount source {shown} is or contains a tasks/*/private directory (gold data)",
            hint=_HINT_SOURCE,
        )
    if writable:
        for prot in protected:
            if _is_within(real, prot) or _is_within(prot, real):
                raise SandboxSpecError(
                    f"rw mount source {shown} overlaps the sandbox runtime {prot}",
                    hint="use a dedicated, empty output directory for rw mounts",
                )
    return real


def check_destination(dest: PurePosixPath) -> None:
    """Refuse a sandbox destination that would replace part of the sandbox's own root.

    Raises:
        SandboxSpecError: ``dest`` is, is under, or contains a reserved destination.
    """
    d = str(dest)
    for r in RESERVED_DESTINATIONS:
        if d == r or (r != "/" and (_is_within(d, r) or _is_within(r, d))):
            raise SandboxSpecError(
                f"sandbox path {d} collides with the reserved path {r}",
                hint="mount under /tmp, /data, /out or another path outside "
                + ", ".join(x for x in RESERVED_DESTINATIONS if x != "/"),
            )


def checked_open(real: str, *, protected: Iterable[str] = (), writable: bool = False) -> int:
    """Open an O_PATH fd on a resolved path and re-check where it really points.

    Closes the window between ``check_host_source`` and the mount: whatever got swapped in, the fd's
    own path is what gets checked and mounted.

    Returns:
        The fd (caller closes it).

    Raises:
        SandboxSpecError: the path vanished or now points somewhere forbidden.
    """
    try:
        fd = os.open(real, os.O_PATH | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as e:
        raise SandboxSpecError(f"mount source {real!r} cannot be opened: {e.strerror}") from e
    try:
        actual = os.readlink(f"/proc/self/fd/{fd}")
        if actual != real or stat.S_ISLNK(os.fstat(fd).st_mode):
            raise SandboxSpecError(f"mount source {real!r} changed while being opened (now {actual!r})")
        check_host_source(actual, writable=writable, protected=protected)
    except BaseException:
        os.close(fd)
        raise
    return fd


def readable_by_others(path: str) -> bool:
    """True when a uid that is neither owner nor group member may read (and enter) ``path``."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    need = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(mode) else 0)
    return mode & need == need


def is_socket(path: str) -> bool:
    """True when ``path`` exists and is a Unix socket."""
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False
