"""HMAC-SHA256 signatures over canonical JSON: how a verdict proves it came from the verifier.

The verifier (a trusted process) signs each verdict with a key that never enters a sandbox; the
weight updater trains only on rollouts whose stored verdict verifies against that key. A scaffold that
can write to the rollout database still cannot mint a ``verified`` verdict without the key.

What this does NOT protect against: an attacker who can read the key file (keep ``$SIA_HOME`` out of
every mount), or a verifier that signs a wrong verdict (that is the verifier's job to get right).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
from pathlib import Path
from typing import Any

from sia_sandbox.errors import ConfigError

KEY_BYTES = 32
"""Length of a generated key (256 bits, the HMAC-SHA256 block-size sweet spot)."""
SIA_HOME_ENV = "SIA_HOME"
DEFAULT_SIA_HOME = Path("~/.sia")
VERDICT_KEY_RELPATH = Path("keys") / "verdict.key"


def canonical_json(obj: Any) -> bytes:
    """Serialise ``obj`` to its one canonical byte form.

    Sorted keys, no whitespace, UTF-8 without ``\\u`` escapes, and no NaN/Infinity (they have no JSON
    form, and two NaN scores would otherwise sign identically to a forged one).

    Raises:
        ValueError: ``obj`` holds a NaN or infinite float.
        TypeError: ``obj`` holds something JSON cannot represent.
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def sha256_json(obj: Any) -> str:
    """Hex sha256 of ``canonical_json(obj)``; a content address, not a proof of origin."""
    return hashlib.sha256(canonical_json(obj)).hexdigest()


def sign_json(obj: Any, key: bytes) -> str:
    """Hex HMAC-SHA256 of ``canonical_json(obj)`` under ``key``.

    Raises:
        ValueError: the key is empty, or ``obj`` holds NaN/Infinity.
    """
    if not key:
        raise ValueError("signing key is empty")
    return hmac.new(key, canonical_json(obj), hashlib.sha256).hexdigest()


def verify_json(obj: Any, signature: str, key: bytes) -> bool:
    """Whether ``signature`` is the HMAC of ``obj`` under ``key`` (constant-time compare).

    Never raises: an object that cannot be canonicalised or a malformed signature is simply invalid.
    """
    if not key or not isinstance(signature, str):
        return False
    try:
        expected = sign_json(obj, key)
    except (TypeError, ValueError):
        return False
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))


def sia_home() -> Path:
    """``$SIA_HOME`` or ``~/.sia``."""
    return Path(os.environ.get(SIA_HOME_ENV) or DEFAULT_SIA_HOME).expanduser()


def default_key_path() -> Path:
    """``$SIA_HOME/keys/verdict.key``."""
    return sia_home() / VERDICT_KEY_RELPATH


def load_or_create_key(path: Path | None = None) -> bytes:
    """Read the verdict key at ``path``, creating it (0600, 256 random bits, hex) the first time.

    Creation is atomic (write a temp file, then hard-link it into place), so concurrent first calls
    agree on one key and no reader ever sees a half-written file.

    Args:
        path: key file; ``None`` = ``default_key_path()``.

    Returns:
        The raw key bytes.

    Raises:
        ConfigError: the file exists but is readable by group/others, or is not a valid key.
    """
    path = (path or default_key_path()).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        _create_key_file(path)
    return _read_key_file(path)


def _create_key_file(path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".verdict-key-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, secrets.token_hex(KEY_BYTES).encode("ascii") + b"\n")
        os.fsync(fd)
        os.close(fd)
        fd = -1
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first; theirs wins, ours is discarded below
    finally:
        if fd >= 0:
            os.close(fd)
        os.unlink(tmp)


def _read_key_file(path: Path) -> bytes:
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"verdict key {path} is not a regular file", hint="remove it; a new key is created")
    if st.st_mode & 0o077:
        # A key others can read lets them sign verdicts; refuse rather than use it.
        raise ConfigError(
            f"verdict key {path} is readable by group/others (mode {stat.S_IMODE(st.st_mode):o})",
            hint=f"run `chmod 600 {path}`",
        )
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise ConfigError(
            f"verdict key {path} is not a hex key of at least 128 bits",
            hint="move the file away; a new key is created (verdicts signed with the old key stop verifying)",
        )
    return key
