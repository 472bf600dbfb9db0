"""The local backend's result contract, against real bubblewrap (no mocks)."""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sia_sandbox.errors import LimitNotEnforceableError, SandboxSpecError
from sia_sandbox.sandbox import get_backend
from sia_sandbox.sandbox.local import LocalBackend
from sia_sandbox.sandbox.types import Limits, Mount, SandboxSpec

pytestmark = pytest.mark.bwrap

LIM = Limits(timeout_s=30, memory_mb=512, pids=64, output_limit_mb=8)


@pytest.fixture(scope="module")
def backend() -> LocalBackend:
    b = LocalBackend()
    st = b.status()
    if not st.usable:
        pytest.skip(f"local backend unusable: {st.detail}")
    return b


def sh(backend: LocalBackend, script: str, **kw: object) -> object:
    kw.setdefault("limits", LIM)
    return backend.run(SandboxSpec(command=["sh", "-c", script], **kw))  # type: ignore[arg-type]


def test_registered_and_status() -> None:
    b = get_backend("local")
    assert isinstance(b, LocalBackend)
    st = b.status()
    assert st.backend == "local" and "cgroup" in st.detail and "runtime" in st.detail
    assert b.capabilities().network_gateway and not b.capabilities().gpu


def test_exit_codes_and_reasons(backend: LocalBackend) -> None:
    ok = sh(backend, "echo out; echo err >&2")
    assert ok.reason == "ok" and ok.exit_code == 0  # type: ignore[attr-defined]
    assert ok.stdout == "out\n" and ok.stderr == "err\n"  # type: ignore[attr-defined]
    assert ok.stdout_sha256 == hashlib.sha256(b"out\n").hexdigest() and ok.stdout_bytes == 4  # type: ignore[attr-defined]
    bad = sh(backend, "exit 7")
    assert bad.reason == "nonzero_exit" and bad.exit_code == 7  # type: ignore[attr-defined]
    killed = sh(backend, "kill -SEGV $$")
    assert killed.reason == "killed" and killed.exit_code == -11  # type: ignore[attr-defined]
    assert ok.enforcement["memory_mb"] and ok.enforcement["pids"] and ok.root  # type: ignore[attr-defined]


def test_bwrap_setup_failure_is_error(backend: LocalBackend, tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    # A mount below a file cannot be created: bwrap fails before the command runs.
    r = backend.run(SandboxSpec(command=["true"], ro_mounts=[
        Mount(host=f, sandbox="/data/f"), Mount(host=f, sandbox="/data/f/g")], limits=LIM))
    assert r.reason == "error", r
    assert r.detail.startswith("bwrap:")


def test_stream_cap_truncates_but_hashes_everything(backend: LocalBackend) -> None:
    r = backend.run(SandboxSpec(command=["python3", "-c", "print('x' * 999)"],
                                limits=LIM.model_copy(update={"stream_cap_bytes": 10})))
    assert r.reason == "ok"
    assert r.stdout == "x" * 10 and r.stdout_truncated and r.stdout_bytes == 1000
    assert r.stdout_sha256 == hashlib.sha256(b"x" * 999 + b"\n").hexdigest()


def test_env_is_an_allowlist_and_stdin_is_fed(backend: LocalBackend) -> None:
    r = backend.run(SandboxSpec(
        command=["python3", "-c", "import os, sys, json; print(json.dumps(dict(os.environ))); print(sys.stdin.read())"],
        env={"FOO": "bar", "PATH": "/usr/bin:/bin:/opt/sia/venv/bin"}, stdin=b"hello stdin", limits=LIM))
    assert r.reason == "ok", r
    env = json.loads(r.stdout.splitlines()[0])
    assert env["FOO"] == "bar" and env["PATH"] == "/usr/bin:/bin:/opt/sia/venv/bin"
    assert set(env) == {"FOO", "PATH", "HOME", "LANG", "PWD"}
    assert r.stdout.splitlines()[1] == "hello stdin"


def test_workdir_and_ro_mount(backend: LocalBackend, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("data!")
    tmp_path.chmod(0o755)
    r = backend.run(SandboxSpec(command=["sh", "-c", "pwd; cat in.txt"], workdir="/data",
                                ro_mounts=[Mount(host=tmp_path, sandbox="/data")], limits=LIM))
    assert r.reason == "ok", r
    assert r.stdout == "/data\ndata!"
    r2 = backend.run(SandboxSpec(command=["pwd"], workdir="/tmp/work/sub", limits=LIM))
    assert r2.stdout.strip() == "/tmp/work/sub"


def test_manifest_and_existing_output_content(backend: LocalBackend, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("kept")
    r = sh(backend, "cat /out/old.txt > /out/copy.txt; mkdir /out/sub; printf abc > /out/sub/a",
           rw_mounts=[Mount(host=out, sandbox="/out")])
    assert r.reason == "ok", r  # type: ignore[attr-defined]
    got = {o.path: o for o in r.outputs}  # type: ignore[attr-defined]
    assert set(got) == {"/out/old.txt", "/out/copy.txt", "/out/sub", "/out/sub/a"}
    assert got["/out/sub"].kind == "dir" and got["/out/sub/a"].size == 3
    assert got["/out/sub/a"].sha256 == hashlib.sha256(b"abc").hexdigest()
    assert (out / "copy.txt").read_text() == "kept" and (out / "sub" / "a").read_text() == "abc"


def test_python_runtime_has_the_scientific_stack(backend: LocalBackend) -> None:
    r = backend.run(SandboxSpec(
        command=["python3", "-c", "import sys, numpy, scipy; print(sys.version_info[:2], sys.prefix)"],
        limits=LIM.model_copy(update={"timeout_s": 120})))
    assert r.reason == "ok", r
    assert r.stdout.strip() == "(3, 11) /opt/sia/venv"


def test_parallel_runs_from_threads(backend: LocalBackend) -> None:
    def one(i: int) -> tuple[str, str]:
        r = backend.run(SandboxSpec(command=["sh", "-c", f"echo {i}; echo $$"], limits=LIM))
        return r.reason, r.stdout.split()[0]

    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(one, range(12)))
    assert results == [("ok", str(i)) for i in range(12)]


def test_check_rejects_bad_specs(backend: LocalBackend, tmp_path: Path) -> None:
    with pytest.raises(SandboxSpecError, match="does not exist"):
        backend.check(SandboxSpec(command=["true"], ro_mounts=[Mount(host=tmp_path / "nope", sandbox="/data")]))
    with pytest.raises(SandboxSpecError, match="reserved"):
        backend.check(SandboxSpec(command=["true"], ro_mounts=[Mount(host=tmp_path, sandbox="/usr/x")]))
    with pytest.raises(SandboxSpecError, match="reserved"):
        backend.check(SandboxSpec(command=["true"], ro_mounts=[Mount(host=tmp_path, sandbox="/opt")]))
    with pytest.raises(SandboxSpecError, match="not found inside the sandbox"):
        backend.check(SandboxSpec(command=["definitely-not-a-command"]))
    private = tmp_path / "private0700"
    private.mkdir(mode=0o700)
    if os.geteuid() == 0:
        with pytest.raises(SandboxSpecError, match="not readable by the sandbox user"):
            backend.check(SandboxSpec(command=["true"], ro_mounts=[Mount(host=private, sandbox="/data")]))
    with pytest.raises(SandboxSpecError, match="workdir"):
        backend.check(SandboxSpec(command=["true"], workdir="/nowhere"))
    with pytest.raises(LimitNotEnforceableError, match="GPU"):
        backend.check(SandboxSpec(command=["true"], gpu=True))
    from sia_sandbox.sandbox.rootfs import root_layout

    venv = root_layout().venv
    if venv:
        with pytest.raises(SandboxSpecError, match="runtime"):
            backend.check(SandboxSpec(command=["true"], rw_mounts=[Mount(host=Path(venv), sandbox="/out")]))
    # Allowed: a command from a mount, /tmp/x destinations.
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    tmp_path.chmod(0o755)
    backend.check(SandboxSpec(command=["/tmp/x/run.sh"], ro_mounts=[Mount(host=tmp_path, sandbox="/tmp/x")]))


def test_rlimit_fallback_without_cgroups(backend: LocalBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    from sia_sandbox.sandbox import cgroups

    monkeypatch.setattr(cgroups, "detect", lambda: cgroups.CgroupHost("none"))
    cores = os.cpu_count() or 1
    lim = Limits(timeout_s=1.5, memory_mb=300, pids=40, cpus=float(cores))
    if os.geteuid() != 0:
        with pytest.raises(LimitNotEnforceableError, match="pids"):
            backend.check(SandboxSpec(command=["true"], limits=lim))
        return
    tag = "1001.%d" % (os.getpid() % 1000)
    r = backend.run(SandboxSpec(command=["sh", "-c", f"ulimit -v; ulimit -p; sleep {tag} & sleep 1000"], limits=lim))
    assert r.reason == "timeout", r
    # Without cgroups the kill goes through bwrap's pid 1: the whole pid namespace must be gone.
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        assert tag.encode() not in cmd or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    assert r.stdout.split() == [str(300 << 10), "42"]
    assert r.enforcement["memory_mb"].startswith("rlimit") and r.enforcement["pids"].startswith("rlimit")
    with pytest.raises(LimitNotEnforceableError, match="cpus"):
        backend.check(SandboxSpec(command=["true"], limits=lim.model_copy(update={"cpus": 0.5})))


def test_cpu_seconds_are_measured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """CPU time covers the sandboxed process tree (bwrap's init reaps, so rusage alone misses it)."""
    from sia_sandbox.sandbox.local import LocalBackend
    from sia_sandbox.sandbox.types import Limits, SandboxSpec

    backend = LocalBackend()
    if not backend.status().usable:
        import pytest

        pytest.skip("local backend unusable")
    r = backend.run(SandboxSpec(command=["python3", "-c", "s = 0\nfor i in range(4_000_000): s += i"],
                                limits=Limits(timeout_s=60)))
    assert r.reason == "ok"
    assert r.cpu_s is not None and r.cpu_s > 0.2


def test_kill_all_ends_running_sandboxes() -> None:
    import threading
    import time

    from sia_sandbox.sandbox.local import LocalBackend
    from sia_sandbox.sandbox.types import Limits, SandboxSpec

    backend = LocalBackend()
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        backend.run(SandboxSpec(command=["sleep", "300"], limits=Limits(timeout_s=120))))) for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(backend._live) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backend.kill_all() == 2
    for t in threads:
        t.join(20)
    assert [r.reason for r in results] == ["killed", "killed"]


def test_sandbox_python_has_the_scientific_stack() -> None:
    """The CLI contract: inside the sandbox `python3` is Python >= 3.11 with numpy, scipy, sklearn, torch."""
    from sia_sandbox.sandbox.local import LocalBackend
    from sia_sandbox.sandbox.types import Limits, SandboxSpec

    code = ("import sys, numpy, scipy, sklearn, torch\n"
            "assert sys.version_info >= (3, 11)\n"
            "print(torch.ones(2).sum().item() + numpy.ones(2).sum())")
    r = LocalBackend().run(SandboxSpec(command=["python3", "-c", code], limits=Limits(timeout_s=120, memory_mb=2048)))
    assert r.reason == "ok", r.stderr[-500:]
    assert r.stdout.strip() == "4.0"
