"""Verdict signing: canonical JSON, HMAC sign/verify, key file creation and permissions."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from sia_sandbox.errors import ConfigError
from sia_sandbox.signing import (
    canonical_json,
    default_key_path,
    load_or_create_key,
    sha256_json,
    sign_json,
    verify_json,
)


def test_canonical_json_is_sorted_compact_utf8() -> None:
    obj = {"b": 1, "a": {"z": [1, 2], "é": "ü"}}
    assert canonical_json(obj) == '{"a":{"z":[1,2],"é":"ü"},"b":1}'.encode()
    assert canonical_json({"a": 1, "b": 2}) == canonical_json({"b": 2, "a": 1})


def test_canonical_json_refuses_nan() -> None:
    with pytest.raises(ValueError):
        canonical_json({"score": float("nan")})


def test_sha256_json_matches_hashlib() -> None:
    obj = {"verdict": "verified", "score": 1.5}
    assert sha256_json(obj) == hashlib.sha256(b'{"score":1.5,"verdict":"verified"}').hexdigest()


def test_sign_verify_roundtrip_and_tamper() -> None:
    key = os.urandom(32)
    obj = {"verdict": "verified", "score": 0.7, "candidate_id": "c-1"}
    sig = sign_json(obj, key)
    assert verify_json(obj, sig, key)
    assert verify_json(dict(reversed(list(obj.items()))), sig, key)  # key order does not matter
    assert not verify_json({**obj, "score": 0.8}, sig, key)
    assert not verify_json(obj, sig, os.urandom(32))
    assert not verify_json(obj, sig[:-1] + ("0" if sig[-1] != "0" else "1"), key)
    assert not verify_json(obj, "", key)
    assert not verify_json(obj, sig, b"")
    assert not verify_json({"score": float("nan")}, sig, key)
    assert not verify_json(obj, "ü" * 64, key)


def test_key_created_once_0600(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "verdict.key"
    k1 = load_or_create_key(path)
    assert len(k1) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == k1
    assert [p.name for p in path.parent.iterdir()] == ["verdict.key"]  # no temp files left


def test_default_key_path_uses_sia_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIA_HOME", str(tmp_path / "home"))
    assert default_key_path() == tmp_path / "home" / "keys" / "verdict.key"
    key = load_or_create_key()
    assert (tmp_path / "home" / "keys" / "verdict.key").exists()
    assert load_or_create_key() == key


def test_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "verdict.key"
    load_or_create_key(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_or_create_key(path)


def test_garbage_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "verdict.key"
    path.write_text("not-hex")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="not a hex key"):
        load_or_create_key(path)


def _make_key(path: str, q: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    q.put(load_or_create_key(Path(path)).hex())


def test_concurrent_first_calls_agree(tmp_path: Path) -> None:
    path = tmp_path / "k" / "verdict.key"
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_make_key, args=(str(path), q)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    keys = {q.get(timeout=5) for _ in procs}
    assert len(keys) == 1
    assert json.dumps(sorted(p.name for p in path.parent.iterdir())) == '["verdict.key"]'
