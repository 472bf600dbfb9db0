"""The modal backend up to the SDK boundary, against a FAKE ``modal`` module injected into sys.modules.

Modal cannot be reached from CI. The fake records every call with its exact arguments and plays back
scripted processes; the tests assert what we send to Modal (gpu="H100!", block_network=True, timeout,
cpu/memory, the in-sandbox wrapper) and how its answers map to reasons (-1/137, output caps), and that
the sandbox is always terminated. What Modal itself does with those arguments is not tested here.
"""

from __future__ import annotations

import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from sia_sandbox.errors import LimitNotEnforceableError
from sia_sandbox.sandbox import Limits, Mount, SandboxSpec
from sia_sandbox.sandbox.modal import GPU, ModalBackend, wrapper_argv


@dataclass
class FakeInfo:
    name: str
    path: str
    kind: str
    size: int = 0
    mode: int = 0o644
    symlink_target: str | None = None

    def is_file(self) -> bool:
        return self.kind == "file"

    def is_dir(self) -> bool:
        return self.kind == "dir"

    def is_symlink(self) -> bool:
        return self.kind == "symlink"


class FakeStdin:
    def __init__(self) -> None:
        self.data = b""
        self.eof = False

    def write(self, b: bytes) -> None:
        self.data += b

    def write_eof(self) -> None:
        self.eof = True

    def drain(self) -> None:
        pass


@dataclass
class Script:
    """How the fake process behaves."""

    returncode: int | None = 0
    """None = runs until terminated (then -1)."""
    stdout: list[bytes] = field(default_factory=list)
    stderr: list[bytes] = field(default_factory=list)
    files: dict[str, tuple[str, bytes | str]] = field(default_factory=dict)
    """sandbox path -> ("file", bytes) | ("symlink", target) | ("dir", "")."""


class FakeProcess:
    def __init__(self, sb: "FakeSandbox") -> None:
        self.sb, self.script = sb, sb.script
        self.stdin = FakeStdin()
        self.stdout = iter(self.script.stdout)
        self.stderr = iter(self.script.stderr)

    def poll(self) -> int | None:
        if self.sb.terminated:
            return -1 if self.script.returncode is None else self.script.returncode
        return self.script.returncode


class FakeFilesystem:
    def __init__(self, files: dict[str, tuple[str, Any]]) -> None:
        self.files = files

    def list_files(self, remote: str) -> list[FakeInfo]:
        out = []
        for p, (kind, val) in sorted(self.files.items()):
            pp = PurePosixPath(p)
            if str(pp.parent) == remote:
                out.append(FakeInfo(pp.name, p, kind, len(val) if kind == "file" else 0,
                                    symlink_target=val if kind == "symlink" else None))
        return out

    def read_bytes(self, remote: str) -> bytes:
        kind, val = self.files[remote]
        assert kind == "file", "read_bytes must never be called on a symlink or dir"
        return bytes(val)


class FakeSandbox:
    def __init__(self, mod: "FakeModal", args: tuple[str, ...], kwargs: dict[str, Any]) -> None:
        self.mod, self.args, self.kwargs = mod, args, kwargs
        self.script = mod.script
        self.terminated = False
        self.terminate_calls = 0
        self.execs: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        self.filesystem = FakeFilesystem(self.script.files)
        self.proc: FakeProcess | None = None

    def exec(self, *args: str, **kwargs: Any) -> FakeProcess:
        self.execs.append((args, kwargs))
        if self.mod.exec_raises:
            raise self.mod.exec_raises
        self.proc = FakeProcess(self)
        return self.proc

    def terminate(self) -> None:
        self.terminate_calls += 1
        self.terminated = True


class FakeImage:
    def __init__(self, log: list[tuple[str, Any]], desc: str) -> None:
        self.log, self.desc, self.object_id = log, desc, "im-fake"

    def add_local_dir(self, local: str, remote_path: str, copy: bool = False) -> "FakeImage":
        self.log.append(("add_local_dir", (local, remote_path, copy)))
        return self

    def add_local_file(self, local: str, remote_path: str, copy: bool = False) -> "FakeImage":
        self.log.append(("add_local_file", (local, remote_path, copy)))
        return self


class FakeModal(types.ModuleType):
    """Enough of ``modal`` for the backend: App.lookup, Image.from_dockerfile/from_registry, Sandbox.create."""

    def __init__(self) -> None:
        super().__init__("modal")
        self.__version__ = "fake"
        self.script = Script()
        self.exec_raises: BaseException | None = None
        self.sandboxes: list[FakeSandbox] = []
        self.image_log: list[tuple[str, Any]] = []
        mod = self

        class Error(Exception):
            pass

        self.exception = types.SimpleNamespace(Error=Error)

        class App:
            @staticmethod
            def lookup(name: str, create_if_missing: bool = False) -> str:
                mod.image_log.append(("app", (name, create_if_missing)))
                return f"app:{name}"

        class Image:
            @staticmethod
            def from_dockerfile(path: str, context_dir: str, build_args: dict[str, str]) -> FakeImage:
                mod.image_log.append(("from_dockerfile", (path, context_dir, build_args)))
                return FakeImage(mod.image_log, path)

            @staticmethod
            def from_registry(ref: str) -> FakeImage:
                mod.image_log.append(("from_registry", ref))
                return FakeImage(mod.image_log, ref)

        class Sandbox:
            @staticmethod
            def create(*args: str, **kwargs: Any) -> FakeSandbox:
                sb = FakeSandbox(mod, args, kwargs)
                mod.sandboxes.append(sb)
                return sb

        self.App, self.Image, self.Sandbox = App, Image, Sandbox


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeModal:
    m = FakeModal()
    monkeypatch.setitem(sys.modules, "modal", m)
    monkeypatch.setenv("MODAL_TOKEN_ID", "ak-fake")
    monkeypatch.delenv("SIA_MODAL_GATEWAY_URL", raising=False)
    monkeypatch.delenv("SIA_MODAL_GATEWAY_CIDR", raising=False)
    return m


LIM = Limits(timeout_s=5, memory_mb=512, pids=64, cpus=2, output_limit_mb=1, stream_cap_bytes=1024)


def test_create_arguments_cpu(fake: FakeModal) -> None:
    fake.script = Script(returncode=0, stdout=[b"hello\n"])
    res = ModalBackend().run(SandboxSpec(command=["python3", "-c", "pass"], limits=LIM, env={"A": "1"}))
    (sb,) = fake.sandboxes
    kw = sb.kwargs
    assert kw["block_network"] is True and "outbound_cidr_allowlist" not in kw
    assert kw["gpu"] is None and kw["timeout"] == 5 + 30
    assert kw["cpu"] == (2, 2) and kw["memory"] == (512, 512)
    assert kw["app"] == "app:sia-sandbox" and kw["workdir"] == "/tmp"
    assert sb.args == ("sleep", "infinity")
    (args, ekw), = sb.execs
    assert list(args) == wrapper_argv(SandboxSpec(command=["python3", "-c", "pass"], limits=LIM, env={"A": "1"}))
    assert ekw["timeout"] == 5 and ekw["text"] is False
    assert (res.reason, res.exit_code, res.stdout, res.backend) == ("ok", 0, "hello\n", "modal")
    assert sb.terminate_calls >= 1


def test_gpu_is_an_h100_without_substitution(fake: FakeModal) -> None:
    ModalBackend().run(SandboxSpec(command=["true"], gpu=True, limits=LIM))
    assert fake.sandboxes[0].kwargs["gpu"] == GPU == "H100!"
    assert fake.image_log[1][0] == "from_dockerfile" and fake.image_log[1][1][0].endswith("trimul-cuda/Dockerfile")


def test_wrapper_enforces_pids_uid_and_exact_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOST_SECRET", "s3cr3t")
    argv = wrapper_argv(SandboxSpec(command=["python3", "x.py"], env={"A": "1"}, limits=LIM,
                                    rw_mounts=[Mount(host=Path("/tmp/o"), sandbox=PurePosixPath("/out"))]))
    script = argv[2]
    assert "ulimit -u 64" in script and "setpriv --reuid=10001" in script and "--no-new-privs" in script
    assert "/usr/bin/env -i" in script and "chown -R 10001:10001 /out" in script
    assert argv[-2:] == ["python3", "x.py"] and "A=1" in argv
    assert not any("s3cr3t" in a for a in argv)


@pytest.mark.parametrize(("code", "reason"), [(137, "oom"), (-1, "oom"), (3, "nonzero_exit"), (0, "ok")])
def test_returncodes_before_the_deadline(fake: FakeModal, code: int, reason: str) -> None:
    fake.script = Script(returncode=code)
    res = ModalBackend().run(SandboxSpec(command=["true"], limits=LIM))
    assert (res.exit_code, res.reason) == (code, reason)
    assert fake.sandboxes[0].terminate_calls >= 1


def test_hung_process_times_out_and_is_terminated(fake: FakeModal) -> None:
    fake.script = Script(returncode=None)
    res = ModalBackend().run(SandboxSpec(command=["sleep", "99"], limits=LIM.model_copy(update={"timeout_s": 0.3})))
    assert res.reason == "timeout" and res.exit_code == -1
    assert fake.sandboxes[0].terminate_calls >= 1


def test_modal_killing_at_its_timeout_maps_to_timeout(fake: FakeModal, monkeypatch: pytest.MonkeyPatch) -> None:
    # Modal's own timeout fired (returncode 137) at the same moment as our deadline.
    fake.script = Script(returncode=137)
    real = time.monotonic
    calls = {"n": 0}

    def clock() -> float:
        calls["n"] += 1
        return real() + (100 if calls["n"] > 1 else 0)

    monkeypatch.setattr("sia_sandbox.sandbox.modal.time.monotonic", clock)
    res = ModalBackend().run(SandboxSpec(command=["true"], limits=LIM))
    assert res.reason == "timeout"


def test_stdout_flood_is_cut(fake: FakeModal) -> None:
    fake.script = Script(returncode=None, stdout=[b"y" * (256 << 10)] * 8)
    res = ModalBackend().run(SandboxSpec(command=["yes"], limits=LIM))
    assert res.reason == "output_limit" and res.stdout_truncated and len(res.stdout) == 1024
    assert fake.sandboxes[0].terminate_calls >= 1


def test_stdin_is_written_then_closed(fake: FakeModal) -> None:
    ModalBackend().run(SandboxSpec(command=["cat"], stdin=b"input", limits=LIM))
    proc = fake.sandboxes[0].proc
    assert proc is not None and proc.stdin.data == b"input" and proc.stdin.eof


def test_outputs_are_read_back_without_following_symlinks(fake: FakeModal, tmp_path: Path) -> None:
    fake.script = Script(returncode=0, files={
        "/out/a.txt": ("file", b"A"), "/out/sub": ("dir", ""), "/out/sub/b": ("file", b"BB"),
        "/out/evil": ("symlink", "/etc/shadow"),
    })
    res = ModalBackend().run(SandboxSpec(command=["true"], limits=LIM,
                                         rw_mounts=[Mount(host=tmp_path / "o", sandbox=PurePosixPath("/out"))]))
    outs = {o.path: o for o in res.outputs}
    assert outs["/out/evil"].kind == "symlink" and outs["/out/evil"].link_target == "/etc/shadow"
    assert outs["/out/sub/b"].size == 2 and (tmp_path / "o" / "sub" / "b").read_bytes() == b"BB"
    assert (tmp_path / "o" / "evil").is_symlink()


def test_outputs_over_the_limit_are_refused(fake: FakeModal, tmp_path: Path) -> None:
    fake.script = Script(returncode=0, files={"/out/big": ("file", b"z" * (2 << 20))})
    res = ModalBackend().run(SandboxSpec(command=["true"], limits=LIM,
                                         rw_mounts=[Mount(host=tmp_path / "o", sandbox=PurePosixPath("/out"))]))
    assert res.reason == "output_limit" and not (tmp_path / "o" / "big").exists()


def test_ro_mounts_become_copied_image_layers(fake: FakeModal, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "f.txt").write_text("x")
    ModalBackend().run(SandboxSpec(command=["true"], limits=LIM, ro_mounts=[
        Mount(host=tmp_path / "in", sandbox=PurePosixPath("/in")),
        Mount(host=tmp_path / "f.txt", sandbox=PurePosixPath("/data/f.txt"))]))
    adds = [e for e in fake.image_log if e[0].startswith("add_local")]
    assert ("add_local_dir", (str(tmp_path / "in"), "/in", True)) in adds
    assert ("add_local_file", (str(tmp_path / "f.txt"), "/data/f.txt", True)) in adds
    build = next(e for e in fake.image_log if e[0] == "from_dockerfile")
    assert build[1][2] == {"BASE": "debian:bookworm-slim", "BUILD_FILES_URL": ""}


def test_terminate_is_called_when_exec_raises(fake: FakeModal) -> None:
    fake.exec_raises = RuntimeError("grpc down")
    with pytest.raises(RuntimeError):
        ModalBackend().run(SandboxSpec(command=["true"], limits=LIM))
    assert fake.sandboxes[0].terminate_calls == 1


def test_gateway_needs_a_reachable_url(fake: FakeModal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sock = tmp_path / "gw.sock"
    spec = SandboxSpec(command=["true"], network="gateway", gateway_socket=sock, limits=LIM)
    with pytest.raises(LimitNotEnforceableError):
        ModalBackend().check(spec)
    monkeypatch.setenv("SIA_MODAL_GATEWAY_URL", "https://gw.example:8443")
    monkeypatch.setenv("SIA_MODAL_GATEWAY_CIDR", "203.0.113.7/32")
    ModalBackend().run(spec)
    kw = fake.sandboxes[0].kwargs
    assert kw["block_network"] is False and kw["outbound_cidr_allowlist"] == ["203.0.113.7/32"]
    assert "SIA_GATEWAY_URL=https://gw.example:8443" in fake.sandboxes[0].execs[0][0]


def test_cancel_all_terminates_live_sandboxes(fake: FakeModal) -> None:
    import threading

    fake.script = Script(returncode=None)
    be = ModalBackend()
    out: dict[str, Any] = {}
    t = threading.Thread(target=lambda: out.update(r=be.run(SandboxSpec(command=["sleep", "9"], limits=LIM))))
    t.start()
    while be.cancel_all() == 0:
        time.sleep(0.01)
    t.join(10)
    assert out["r"].reason == "killed"


def test_status(fake: FakeModal, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert ModalBackend().status().usable
    monkeypatch.delenv("MODAL_TOKEN_ID")
    monkeypatch.setenv("HOME", str(tmp_path))
    st = ModalBackend().status()
    assert not st.usable and "modal token new" in (st.fix or "")

