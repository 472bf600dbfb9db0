"""The minimal read-only root of a local sandbox, computed once per process.

The root holds only ``/usr/{bin,lib,lib64}`` (no ``/usr/local``: it holds tool configs such as npmrc
and unrelated toolchains), the usr-merge symlinks, a synthetic ``/etc`` (passwd/group for the sandbox
user, hosts, nsswitch, a copy of ld.so.cache and localtime, the alternatives symlinks) and the Python
runtime: the venv this process runs from, bound read-only at ``/opt/sia/venv``.

Not protected against: secrets that a distribution package itself installs under ``/usr/lib``.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sia_sandbox.errors import BackendUnavailableError

VENV_MOUNT = "/opt/sia/venv"
"""Where the Python runtime (a venv) appears inside the sandbox."""
SANDBOX_UID = 1000
"""uid/gid the command sees inside its user namespace (the host side is a per-sandbox uid)."""
SANDBOX_HOME = "/tmp"
DEFAULT_PATH = f"{VENV_MOUNT}/bin:/usr/bin:/bin"
VENV_ENV = "SIA_SANDBOX_VENV"
"""Setting that overrides which venv is the sandbox runtime (default: the running interpreter's)."""

_USR_DIRS = ("/usr/bin", "/usr/lib", "/usr/lib64", "/usr/share/zoneinfo")
_MERGED = {"/bin": "usr/bin", "/lib": "usr/lib", "/lib64": "usr/lib64"}
_ETC_COPIES = ("/etc/ld.so.cache", "/etc/localtime")
_ETC_STATIC = {
    "passwd": f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
    f"sandbox:x:{SANDBOX_UID}:{SANDBOX_UID}:sandbox:{SANDBOX_HOME}:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    "group": f"root:x:0:\nsandbox:x:{SANDBOX_UID}:\nnogroup:x:65534:\n",
    "hosts": "127.0.0.1 localhost sandbox\n::1 localhost ip6-localhost\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
    "hostname": "sandbox\n",
}


@dataclass(frozen=True)
class RootLayout:
    """Host sources of the read-only root, resolved once."""

    binds: tuple[tuple[str, str], ...]
    """(host dir, sandbox dir) read-only binds, in mount order."""
    symlinks: tuple[tuple[str, str], ...]
    """(target, sandbox path) symlinks created in the root."""
    etc_dir: str
    """Host dir holding the synthetic /etc (root-owned, mode 0755, private to this process)."""
    etc_alternatives: str | None
    """Host /etc/alternatives (only symlinks), bound at the same place when present."""
    venv: str | None
    """Resolved host path of the runtime venv, bound at ``VENV_MOUNT``."""
    runtime_detail: str
    """Which python the sandbox runs, or why none is usable."""

    @property
    def mounted_dirs(self) -> tuple[tuple[str, str], ...]:
        """(host, sandbox) of every bound directory, venv included (for command lookup)."""
        extra = ((self.venv, VENV_MOUNT),) if self.venv else ()
        return self.binds + extra

    def describe(self) -> str:
        """One-line description recorded as ``SandboxResult.root``."""
        dirs = ",".join(sb for _, sb in self.binds)
        return f"bwrap ro-root [{dirs},/etc(synthetic)] venv={self.venv or 'none'}"

    def host_path(self, sandbox_path: str) -> str | None:
        """Map a sandbox path of the root back to its host path (None when it is not in the root)."""
        for link, target in ((s, t) for t, s in self.symlinks):
            if sandbox_path == link or sandbox_path.startswith(link + "/"):
                sandbox_path = "/" + target + sandbox_path[len(link):]
        for host, sb in sorted(self.mounted_dirs, key=lambda x: -len(x[1])):
            if sandbox_path == sb or sandbox_path.startswith(sb + "/"):
                return host + sandbox_path[len(sb):]
        return None


def find_venv() -> tuple[str | None, str]:
    """Locate the runtime venv: ``SIA_SANDBOX_VENV``, else the running interpreter's venv.

    Returns:
        (resolved venv path or None, a description of the runtime or why there is none).
    """
    configured = os.environ.get(VENV_ENV)
    prefix = configured or (sys.prefix if sys.prefix != sys.base_prefix else None)
    if prefix is None:
        return None, "no venv: the sandbox runs the system /usr/bin/python3"
    venv = os.path.realpath(prefix)
    if not os.path.isfile(os.path.join(venv, "pyvenv.cfg")):
        return None, f"{venv} is not a venv (no pyvenv.cfg); set {VENV_ENV} to a venv built from /usr/bin"
    python = os.path.realpath(os.path.join(venv, "bin", "python3"))
    if not any(python.startswith(d + "/") for d in _USR_DIRS):
        return None, (
            f"the venv {venv} runs {python}, which is outside the sandbox root; "
            "create it from /usr/bin/python3"
        )
    return venv, f"venv {venv} (python {python}) at {VENV_MOUNT}"


def _make_etc() -> str:
    d = tempfile.mkdtemp(prefix="sia-etc-")
    os.chmod(d, 0o755)
    atexit.register(shutil.rmtree, d, True)
    for name, text in _ETC_STATIC.items():
        Path(d, name).write_text(text)
    for src in _ETC_COPIES:
        try:
            shutil.copyfile(src, os.path.join(d, os.path.basename(src)))
        except OSError:
            continue
    os.mkdir(os.path.join(d, "alternatives"))
    for name in os.listdir(d):
        p = os.path.join(d, name)
        os.chmod(p, 0o755 if os.path.isdir(p) else 0o644)
    return d


@functools.cache
def root_layout() -> RootLayout:
    """Compute the root layout (cached for the life of the process).

    Raises:
        BackendUnavailableError: the host has no /usr/bin or /usr/lib.
    """
    binds: list[tuple[str, str]] = []
    for d in _USR_DIRS:
        if os.path.isdir(d) and not os.path.islink(d) and os.listdir(d):
            binds.append((d, d))
    if not any(sb == "/usr/bin" for _, sb in binds) or not any(sb == "/usr/lib" for _, sb in binds):
        raise BackendUnavailableError("the host has no /usr/bin or /usr/lib to build a sandbox root from")
    symlinks: list[tuple[str, str]] = []
    for top, target in _MERGED.items():
        if os.path.islink(top):
            if os.path.isdir(os.path.join("/", target)):
                symlinks.append((target, top))
        elif os.path.isdir(top):
            # Not usr-merged: the directory itself is part of the root.
            binds.append((top, top))
    alternatives = "/etc/alternatives" if os.path.isdir("/etc/alternatives") else None
    venv, detail = find_venv()
    return RootLayout(tuple(binds), tuple(symlinks), _make_etc(), alternatives, venv, detail)
