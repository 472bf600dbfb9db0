"""Host-path checks, stream capture and manifests (pure, no sandbox)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath

import pytest

from sia_sandbox.errors import SandboxSpecError
from sia_sandbox.sandbox.capture import StreamCapture
from sia_sandbox.sandbox.manifest import build_manifest, copy_tree
from sia_sandbox.sandbox.paths import (
    check_destination,
    check_host_source,
    checked_open,
    is_private_task_path,
)


@pytest.mark.parametrize("path", ["/", "/root", "/root/x", "/home", "/home/u/.ssh", "/proc/1/root", "/etc/shadow"])
def test_denied_sources(path: str) -> None:
    with pytest.raises(SandboxSpecError):
        check_host_source(path, writable=False)


def test_private_task_dirs_are_refused(tmp_path: Path) -> None:
    private = tmp_path / "proj" / "tasks" / "law" / "private"
    private.mkdir(parents=True)
    public = tmp_path / "proj" / "tasks" / "law" / "public"
    public.mkdir()
    assert is_private_task_path(str(private / "gold.json"))
    assert not is_private_task_path(str(public))
    for p in (private, private.parent, private.parent.parent, tmp_path / "proj"):
        with pytest.raises(SandboxSpecError, match="private"):
            check_host_source(p, writable=False)
    assert check_host_source(public, writable=False) == str(public)


def test_symlink_to_secret_is_resolved_and_refused(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to("/root")
    with pytest.raises(SandboxSpecError, match="/root"):
        check_host_source(tmp_path / "link", writable=False)


def test_rw_overlapping_protected_is_refused(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    for p in (venv, venv / "lib", tmp_path):
        with pytest.raises(SandboxSpecError, match="runtime"):
            check_host_source(p, writable=True, protected=[str(venv)])
    assert check_host_source(venv, writable=False, protected=[str(venv)]) == str(venv)


@pytest.mark.parametrize("dest", ["/usr", "/usr/local", "/etc/x", "/opt", "/opt/sia/venv", "/run/sia", "/proc"])
def test_reserved_destinations(dest: str) -> None:
    with pytest.raises(SandboxSpecError, match="reserved"):
        check_destination(PurePosixPath(dest))


@pytest.mark.parametrize("dest", ["/tmp/x", "/out", "/data", "/work/in", "/tmp"])
def test_allowed_destinations(dest: str) -> None:
    check_destination(PurePosixPath(dest))


def test_checked_open_detects_symlink_swap(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    real = str(d)
    fd = checked_open(real)
    os.close(fd)
    d.rmdir()
    d.symlink_to("/etc")
    with pytest.raises(SandboxSpecError):
        checked_open(real)


def test_stream_capture_caps_and_hashes() -> None:
    cap = StreamCapture(cap_bytes=5, limit_bytes=12)
    for chunk in (b"hello ", b"world", b"!!"):
        cap.feed(chunk)
    assert cap.text() == "hello" and cap.truncated and cap.total == 13 and cap.over_limit
    assert cap.sha256 == hashlib.sha256(b"hello world!!").hexdigest()


def test_manifest_and_copy_never_follow_symlinks(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f.txt").write_bytes(b"abc")
    (src / "shadow").symlink_to("/etc/shadow")
    (src / "up").symlink_to("../../..")
    os.mkfifo(src / "fifo")
    m = {o.path: o for o in build_manifest(src, PurePosixPath("/out"))}
    assert m["/out/d"].kind == "dir"
    assert m["/out/d/f.txt"].sha256 == hashlib.sha256(b"abc").hexdigest()
    assert m["/out/shadow"].kind == "symlink" and m["/out/shadow"].link_target == "/etc/shadow"
    assert m["/out/fifo"].kind == "other"
    dst = tmp_path / "dst"
    dst.mkdir()
    copied = {o.path: o for o in copy_tree(str(src), str(dst), prefix=PurePosixPath("/out"))}
    assert copied == m
    assert (dst / "shadow").is_symlink() and os.readlink(dst / "up") == "../../.."
    assert (dst / "d" / "f.txt").read_bytes() == b"abc" and not (dst / "fifo").exists()
