"""One suite every sandbox backend must pass (like inspect_ai's ``self_check``).

The escape attempts that need no special limits run in ONE sandbox (``probe.py`` prints a JSON report)
to keep the suite fast; the limit tests (fork bomb, memory bomb, disk fill, flood, timeouts, daemons)
each need their own run. Every test here can fail: each asserts what the attack would have achieved.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from sia_sandbox.sandbox import Limits, Mount, SandboxBackend, SandboxResult, SandboxSpec

PROBE = Path(__file__).with_name("probe.py")
SECRET = "sia-conformance-secret-" + uuid.uuid4().hex
FAST = Limits(timeout_s=60, memory_mb=256, pids=64, cpus=1, output_limit_mb=16)


def _run(backend: SandboxBackend, command: list[str], **kw: Any) -> SandboxResult:
    sandbox_id = kw.pop("sandbox_id", None)
    spec = SandboxSpec(command=command, limits=kw.pop("limits", FAST), **kw)
    backend.check(spec)
    return backend.run(spec, sandbox_id=sandbox_id)


def host_ip() -> str:
    """A non-loopback address of this host (the one its default route uses), or 127.0.0.1."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # a UDP connect sends no packet
        return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        s.close()


def py(code: str) -> list[str]:
    return ["python3", "-c", code]


# ------------------------------------------------------------------ one probe run, many assertions
@pytest.fixture(scope="module")
def probe(backend: SandboxBackend, loopback_listener: int) -> Iterator[dict[str, Any]]:
    base = Path(tempfile.mkdtemp(prefix=f"sia-conf-{backend.name}-"))
    try:
        yield _probe_report(backend, base, loopback_listener)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _probe_report(backend: SandboxBackend, base: Path, port: int) -> dict[str, Any]:
    base.chmod(0o755)
    ro, rw, hidden = base / "ro", base / "rw", base / "hidden"
    for d in (ro, rw, hidden):
        d.mkdir()
    (ro / "probe.py").write_text(PROBE.read_text())
    canary = hidden / "gold.txt"
    canary.write_text(SECRET)
    marker = f"{uuid.uuid4().int % 10**6}.{os.getpid()}"
    host_proc = subprocess.Popen(["sleep", marker])
    old = os.environ.get("SIA_CONFORMANCE_SECRET")
    os.environ["SIA_CONFORMANCE_SECRET"] = SECRET  # a host secret the sandbox must not inherit
    try:
        res = _run(backend, ["python3", "/in/probe.py", str(canary), str(port), host_ip(), "/in", "/out", marker[::-1]],
                   ro_mounts=[Mount(host=ro, sandbox=PurePosixPath("/in"))],
                   rw_mounts=[Mount(host=rw, sandbox=PurePosixPath("/out"))], env={"VISIBLE": "1"})
    finally:
        host_proc.kill()
        host_proc.wait()
        if old is None:
            del os.environ["SIA_CONFORMANCE_SECRET"]
    assert res.reason == "ok", (res.reason, res.stderr[-2000:])
    report: dict[str, Any] = json.loads(res.stdout)
    report["_result"] = res
    report["_rw"] = rw
    return report


@pytest.mark.parametrize("attempt", ["tcp_internet", "tcp_host_loopback", "tcp_host_ip", "udp_internet", "dns"])
def test_network_egress_is_blocked(probe: dict[str, Any], attempt: str) -> None:
    assert probe[attempt][0] == "fail", probe[attempt]


def test_unmounted_host_files_are_invisible(probe: dict[str, Any]) -> None:
    assert probe["read_canary"][0] == "fail"
    assert probe["list_root_home"][0] == "fail" or probe["list_root_home"][1] == "[]"
    assert SECRET not in probe["_result"].stdout


def test_environment_is_exactly_the_spec(probe: dict[str, Any]) -> None:
    env = probe["env"]
    assert env.get("VISIBLE") == "1"
    assert SECRET not in json.dumps(env)
    # Only the spec's variables plus the documented defaults (and what a shell/python adds itself).
    assert set(env) <= {"VISIBLE", "PATH", "HOME", "LANG", "PWD", "SHLVL", "_", "LC_CTYPE"}, sorted(env)


@pytest.mark.parametrize("target", ["/", "/usr", "/etc", "/opt", "/in"])
def test_writes_outside_the_rw_mount_fail(probe: dict[str, Any], target: str) -> None:
    assert probe[f"write:{target}"][0] == "fail", probe[f"write:{target}"]


def test_rw_mount_is_written_back(probe: dict[str, Any]) -> None:
    assert probe["write:rw"][0] == "ok"
    assert (probe["_rw"] / "written").read_text() == "inside"
    entry = next(o for o in probe["_result"].outputs if o.path == "/out/written")
    assert entry.kind == "file" and entry.sha256 == hashlib.sha256(b"inside").hexdigest()


def test_symlinks_in_outputs_are_recorded_not_followed(probe: dict[str, Any]) -> None:
    outs = {o.path: o for o in probe["_result"].outputs}
    assert outs["/out/link-abs"].kind == "symlink" and outs["/out/link-abs"].link_target == "/etc/passwd"
    assert outs["/out/link-rel"].kind == "symlink" and outs["/out/link-rel"].sha256 is None
    assert os.path.islink(probe["_rw"] / "link-abs")
    assert os.readlink(probe["_rw"] / "link-abs") == "/etc/passwd"


def test_no_capabilities_and_not_root(probe: dict[str, Any]) -> None:
    caps = probe["caps"]
    for k in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        assert int(caps[k], 16) == 0, caps
    assert probe["uid"] != 0


def test_host_processes_are_invisible(probe: dict[str, Any]) -> None:
    assert probe["sees_marker"] is False
    assert probe["proc_count"] < 10


# ------------------------------------------------------------------ result contract
def test_result_contract(backend: SandboxBackend) -> None:
    sid = f"conf-{uuid.uuid4().hex[:8]}"
    res = _run(backend, ["sh", "-c", "printf 'out\\n'; printf 'err' >&2; exit 3"], sandbox_id=sid)
    assert res.backend == backend.name and res.sandbox_id == sid
    assert (res.exit_code, res.reason) == (3, "nonzero_exit")
    assert res.stdout == "out\n" and res.stderr == "err"
    assert res.stdout_bytes == 4 and res.stderr_bytes == 3
    assert res.stdout_sha256 == hashlib.sha256(b"out\n").hexdigest()
    assert res.stderr_sha256 == hashlib.sha256(b"err").hexdigest()
    assert not res.stdout_truncated and res.outputs == []
    assert res.root and res.wall_s > 0
    assert {"memory_mb", "pids", "seccomp"} <= set(res.enforcement)
    ok = _run(backend, ["true"])
    assert (ok.exit_code, ok.reason) == (0, "ok")


def test_stdin_is_fed(backend: SandboxBackend) -> None:
    res = _run(backend, ["sh", "-c", "cat; echo done"], stdin=b"from-stdin\n")
    assert res.stdout == "from-stdin\ndone\n"


# ------------------------------------------------------------------ limits
def test_fork_bomb_hits_pids_limit(backend: SandboxBackend) -> None:
    code = "import os\nwhile True:\n    os.fork()"
    res = _run(backend, py(code), limits=FAST.model_copy(update={"pids": 32, "timeout_s": 30}))
    assert res.reason == "pids_limit", (res.reason, res.stderr[-500:])


def test_memory_bomb_is_oom(backend: SandboxBackend) -> None:
    code = "x = []\nwhile True:\n    x.append(bytearray(16 << 20))"
    res = _run(backend, py(code), limits=FAST.model_copy(update={"memory_mb": 128}))
    assert res.reason == "oom", (res.reason, res.exit_code, res.stderr[-500:])


def test_disk_fill_of_the_output_is_bounded(backend: SandboxBackend, host_dir: Path) -> None:
    code = "f = open('/out/fill', 'wb')\nwhile True:\n    f.write(b'x' * (1 << 20)); f.flush()"
    res = _run(backend, py(code), rw_mounts=[Mount(host=host_dir, sandbox=PurePosixPath("/out"))],
               limits=FAST.model_copy(update={"output_limit_mb": 8}))
    assert res.reason == "output_limit", (res.reason, res.stderr[-500:])
    assert (host_dir / "fill").stat().st_size <= 8 << 20


def test_tmp_fill_is_bounded(backend: SandboxBackend) -> None:
    code = ("import sys\nn = 0\ntry:\n    f = open('/tmp/fill', 'wb')\n    while True:\n"
            "        f.write(b'x' * (1 << 20)); f.flush(); n += 1\nexcept OSError:\n    print(n); sys.exit(1)")
    res = _run(backend, py(code), limits=FAST.model_copy(update={"memory_mb": 128}))
    assert res.reason in ("oom", "nonzero_exit", "output_limit"), res.reason
    if res.stdout.strip():
        assert int(res.stdout) <= 1024  # MiB written before ENOSPC: bounded, far from the host disk


def test_output_flood_is_cut(backend: SandboxBackend) -> None:
    code = "import sys\nfor _ in range(200):\n    sys.stdout.buffer.write(b'y' * (1 << 20))"
    lim = FAST.model_copy(update={"output_limit_mb": 8, "stream_cap_bytes": 1 << 16})
    res = _run(backend, py(code), limits=lim)
    assert res.reason == "output_limit"
    assert res.stdout_truncated and len(res.stdout) == 1 << 16
    assert res.stdout_bytes < 100 << 20  # killed long before the 200 MB


@pytest.mark.parametrize("command", [["sleep", "600"], py("while True: pass")], ids=["sleep", "busy"])
def test_timeout(backend: SandboxBackend, command: list[str]) -> None:
    res = _run(backend, command, limits=FAST.model_copy(update={"timeout_s": 1.5}))
    assert res.reason == "timeout"
    assert res.exit_code is None or res.exit_code != 0


def test_double_fork_daemon_leaves_nothing(backend: SandboxBackend) -> None:
    marker = f"{uuid.uuid4().int % 10**6}.{os.getpid() % 1000}1"
    code = (
        "import os, subprocess\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        subprocess.Popen(['sleep', '{marker}'], start_new_session=True)\n"
        "    os._exit(0)\n"
        "os.wait()\nprint('parent done')"
    )
    res = _run(backend, py(code))
    assert res.reason == "ok"
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert marker not in out, [line for line in out.splitlines() if marker in line]


def test_refuses_reserved_destination(backend: SandboxBackend, host_dir: Path) -> None:
    from sia_sandbox.errors import SandboxSpecError

    with pytest.raises(SandboxSpecError):
        backend.check(SandboxSpec(command=["true"], ro_mounts=[Mount(host=host_dir, sandbox=PurePosixPath("/usr/lib"))]))


def test_python_is_the_same_version(backend: SandboxBackend) -> None:
    res = _run(backend, py("import sys; print(sys.version_info[:2])"))
    assert res.stdout.strip() == str(sys.version_info[:2])
