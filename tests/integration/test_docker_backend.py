"""Docker-only details of the docker backend, against the real engine (skipped without one).

Start the engine with ``scripts/start_dockerd.sh`` and build the images with ``make images``.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from sia_sandbox.errors import LimitNotEnforceableError, SandboxError
from sia_sandbox.sandbox import Limits, Mount, SandboxSpec
from sia_sandbox.sandbox import images
from sia_sandbox.sandbox.docker import LABEL, DockerBackend

pytestmark = pytest.mark.docker
FAST = Limits(timeout_s=30, memory_mb=256, pids=64, cpus=1, output_limit_mb=16)


@pytest.fixture(scope="module")
def be() -> DockerBackend:
    backend = DockerBackend()
    st = backend.status()
    if not st.usable:
        pytest.skip(f"docker backend not usable: {st.detail} (fix: {st.fix})")
    return backend


@pytest.fixture
def host_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="sia-docker-test-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _labelled(be: DockerBackend, sandbox_id: str | None = None) -> list[Any]:
    label = f"{LABEL}.sandbox_id={sandbox_id}" if sandbox_id else f"{LABEL}=1"
    return list(be.client().containers.list(all=True, filters={"label": label}))


def test_container_hardening_flags(be: DockerBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    orig = be._create

    def spy(*a: Any, **kw: Any) -> Any:
        c = orig(*a, **kw)
        seen.update(c.attrs)
        return c

    monkeypatch.setattr(be, "_create", spy)
    res = be.run(SandboxSpec(command=["true"], limits=FAST))
    hc, cfg = seen["HostConfig"], seen["Config"]
    assert res.reason == "ok"
    assert hc["NetworkMode"] == "none" and cfg.get("NetworkDisabled") is True
    assert hc["ReadonlyRootfs"] is True and hc["Init"] is True
    assert hc["CapDrop"] == ["ALL"] and "no-new-privileges" in hc["SecurityOpt"]
    assert hc["Memory"] == hc["MemorySwap"] == 256 << 20
    assert hc["PidsLimit"] == 64 and hc["NanoCpus"] == 10**9
    assert hc["LogConfig"]["Type"] == "none"
    assert "size=256m" in hc["Tmpfs"]["/tmp"]
    # The image's ENV is merged into Config.Env by docker; `env -i` as entrypoint drops it at exec.
    assert cfg["User"] == "10001:10001" and cfg["Entrypoint"] == ["/usr/bin/env"] and cfg["Cmd"][0] == "-i"
    assert res.root == images.ensure_image("scaffold", be.client())


def test_container_is_removed_after_every_outcome(be: DockerBackend) -> None:
    for cmd, lim in ((["true"], FAST), (["sleep", "60"], FAST.model_copy(update={"timeout_s": 1}))):
        res = be.run(SandboxSpec(command=cmd, limits=lim), sandbox_id=f"rm-{os.urandom(3).hex()}")
        assert res.reason in ("ok", "timeout")
        assert _labelled(be, res.sandbox_id) == []


def test_signal_exit_is_negative_and_killed(be: DockerBackend) -> None:
    res = be.run(SandboxSpec(command=["sh", "-c", "kill -TERM $$"], limits=FAST))
    assert (res.exit_code, res.reason) == (-15, "killed")


def test_unknown_command_is_error(be: DockerBackend) -> None:
    res = be.run(SandboxSpec(command=["no-such-binary-sia"], limits=FAST))
    assert res.reason == "error" and "no-such-binary-sia" in res.detail


def test_image_env_does_not_leak(be: DockerBackend) -> None:
    # The scaffold image sets PIP_NO_CACHE_DIR and DEBIAN_FRONTEND; `env -i` must drop them.
    res = be.run(SandboxSpec(command=["sh", "-c", "env"], env={"ONLY": "me"}, limits=FAST))
    assert "ONLY=me" in res.stdout
    assert "PIP_NO_CACHE_DIR" not in res.stdout and "DEBIAN_FRONTEND" not in res.stdout


def test_cancel_all_kills_a_running_container(be: DockerBackend) -> None:
    out: dict[str, Any] = {}
    t = threading.Thread(target=lambda: out.update(r=be.run(SandboxSpec(command=["sleep", "60"], limits=FAST))))
    t.start()
    while t.is_alive() and be.cancel_all() == 0:
        time.sleep(0.05)
    t.join(30)
    assert not t.is_alive()
    assert out["r"].reason == "killed" and out["r"].detail == "cancelled by cancel_all()", out["r"]


def test_cleanup_leaked_removes_containers_of_dead_owners(be: DockerBackend) -> None:
    ref, _ = images.resolve_image(None, be.client())
    c = be.client().containers.create(ref, ["sleep", "60"], labels={LABEL: "1", f"{LABEL}.owner_pid": "999999999"},
                                      network_mode="none")
    try:
        assert c.name in be.cleanup_leaked()
        assert c.name not in [x.name for x in _labelled(be)]
    finally:
        for x in _labelled(be):
            if x.id == c.id:
                x.remove(force=True)


def test_gpu_without_nvidia_runtime_is_refused(be: DockerBackend) -> None:
    if be.capabilities().gpu:
        pytest.skip("this engine has the nvidia runtime")
    with pytest.raises(LimitNotEnforceableError, match="nvidia"):
        be.check(SandboxSpec(command=["true"], gpu=True))


def test_missing_image_names_make_images(be: DockerBackend, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "ghost").mkdir()
    (tmp_path / "ghost" / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\n")
    monkeypatch.setattr(images, "IMAGES_DIR", tmp_path)
    with pytest.raises(SandboxError) as ei:
        be.check(SandboxSpec(command=["true"], image="ghost"))
    assert "make images" in (ei.value.hint or "")


def test_image_tag_follows_the_context(be: DockerBackend, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shutil.copytree(images.IMAGES_DIR / "scaffold", tmp_path / "scaffold")
    monkeypatch.setattr(images, "IMAGES_DIR", tmp_path)
    before = images.image_tag("scaffold", be.client())
    assert before == images.image_tag("scaffold", be.client())
    with open(tmp_path / "scaffold" / "requirements.txt", "a") as f:
        f.write("# changed\n")
    assert images.image_tag("scaffold", be.client()) != before


def test_gateway_socket_is_the_only_way_out(be: DockerBackend, host_dir: Path) -> None:
    sock_path = host_dir / "gw.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(sock_path))
    sock_path.chmod(0o777)
    srv.listen(1)
    srv.settimeout(20)

    def serve() -> None:
        try:
            conn, _ = srv.accept()
            with conn:
                conn.sendall(b"GATEWAY")
        except OSError:
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    code = ("import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('/run/sia/gateway.sock')\nprint(s.recv(16).decode())\n"
            "t = socket.socket()\nt.settimeout(2)\ntry:\n    t.connect(('1.1.1.1', 443)); print('EGRESS')\nexcept OSError:\n    print('blocked')")
    try:
        res = be.run(SandboxSpec(command=["python3", "-c", code], network="gateway", gateway_socket=sock_path, limits=FAST))
    finally:
        srv.close()
    assert res.reason == "ok", res.stderr
    assert res.stdout.split() == ["GATEWAY", "blocked"]


def test_existing_rw_content_is_visible_and_replaced(be: DockerBackend, host_dir: Path) -> None:
    (host_dir / "old.txt").write_text("before")
    res = be.run(SandboxSpec(command=["sh", "-c", "cat /out/old.txt; rm /out/old.txt; echo new > /out/new.txt"],
                             rw_mounts=[Mount(host=host_dir, sandbox=PurePosixPath("/out"))], limits=FAST))
    assert res.stdout == "before"
    assert sorted(p.name for p in host_dir.iterdir()) == ["new.txt"]
    assert [o.path for o in res.outputs] == ["/out/new.txt"]
