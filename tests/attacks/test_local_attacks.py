"""Attacks on the local bubblewrap sandbox: each must fail, and the host must see no effect.

Every test runs a real sandbox (no mocks). Limits are small so the whole battery stays fast.
"""

from __future__ import annotations

import hashlib
import os
import resource
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from sia_sandbox.sandbox.local import LocalBackend
from sia_sandbox.sandbox.types import Limits, Mount, SandboxResult, SandboxSpec

pytestmark = pytest.mark.bwrap

SMALL = Limits(timeout_s=20, memory_mb=256, pids=64, output_limit_mb=8)


def py(backend: LocalBackend, code: str, **kw: object) -> SandboxResult:
    kw.setdefault("limits", SMALL)
    return backend.run(SandboxSpec(command=["python3", "-c", code], **kw))  # type: ignore[arg-type]


# --- network -----------------------------------------------------------------------------------


def test_tcp_to_host_loopback_listener_fails(local_backend: LocalBackend) -> None:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.settimeout(0.2)
    port = srv.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not stop.is_set():
            try:
                accepted.append(srv.accept())
            except TimeoutError:
                continue

    stop = threading.Event()
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        r = py(local_backend, f"""
import socket
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("127.0.0.1", {port})); print("CONNECTED")
except OSError as e:
    print("FAILED", type(e).__name__)
""")
    finally:
        stop.set()
        t.join()
        srv.close()
    assert r.reason == "ok", r
    assert "FAILED" in r.stdout and "CONNECTED" not in r.stdout
    assert accepted == []


def test_tcp_udp_dns_egress_fail(local_backend: LocalBackend) -> None:
    r = py(local_backend, """
import socket
for host in ("1.1.1.1", "8.8.8.8"):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((host, 53)); print("TCP-OK")
    except OSError as e:
        print("tcp-fail", e.errno)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    u.sendto(b"x", ("8.8.8.8", 53)); print("UDP-SENT")
except OSError as e:
    print("udp-fail", e.errno)
try:
    socket.getaddrinfo("example.com", 80); print("DNS-OK")
except OSError as e:
    print("dns-fail")
print([name for _, name in socket.if_nameindex()])
""")
    assert r.reason == "ok", r
    for bad in ("TCP-OK", "UDP-SENT", "DNS-OK"):
        assert bad not in r.stdout
    assert "dns-fail" in r.stdout and "udp-fail" in r.stdout
    assert r.stdout.splitlines()[-1] == "['lo']"


# --- filesystem --------------------------------------------------------------------------------


def test_unmounted_host_files_are_invisible(local_backend: LocalBackend, tmp_path: Path) -> None:
    canary = f"CANARY-{uuid.uuid4().hex}"
    secret_root = Path("/root") / f".sia-canary-{uuid.uuid4().hex[:8]}"
    private = tmp_path / "tasks" / "t" / "private"
    private.mkdir(parents=True)
    (private / "gold.txt").write_text(canary)
    host_tmp = Path("/tmp") / f"sia-canary-{uuid.uuid4().hex[:8]}"
    host_tmp.write_text(canary)
    try:
        secret_root.write_text(canary)
        r = py(local_backend, f"""
import os
for p in [{str(secret_root)!r}, {str(private / 'gold.txt')!r}, {str(host_tmp)!r}, "/etc/shadow",
          "/work/main/pyproject.toml", "/home"]:
    try:
        print(p, open(p).read()[:200])
    except OSError as e:
        print(p, "ERR", e.errno)
print(os.listdir("/"))
""")
    finally:
        secret_root.unlink(missing_ok=True)
        host_tmp.unlink(missing_ok=True)
    assert r.reason == "ok", r
    assert canary not in r.stdout and canary not in r.stderr
    assert r.stdout.count("ERR") == 6
    assert "root" not in r.stdout.splitlines()[-1] and "work" not in r.stdout.splitlines()[-1]


def test_forbidden_mount_sources_are_refused(local_backend: LocalBackend, tmp_path: Path) -> None:
    from sia_sandbox.errors import SandboxSpecError

    private = tmp_path / "tasks" / "t" / "private"
    private.mkdir(parents=True)
    for host in ("/root", "/", "/home", str(tmp_path), str(private)):
        with pytest.raises(SandboxSpecError):
            local_backend.check(SandboxSpec(command=["true"], ro_mounts=[Mount(host=Path(host), sandbox="/data")]))


def test_env_secrets_do_not_leak(local_backend: LocalBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = f"sk-CANARY-{uuid.uuid4().hex}"
    monkeypatch.setenv("SIA_TEST_API_KEY", canary)
    monkeypatch.setenv("ANTHROPIC_API_KEY", canary)
    r = py(local_backend, """
import os
print(sorted(os.environ))
for p in ("/proc/self/environ", "/proc/1/environ"):
    try:
        print(open(p, "rb").read())
    except OSError as e:
        print(p, e.errno)
""", env={"ONLY": "this"})
    assert r.reason == "ok", r
    assert canary not in r.stdout
    # PWD is set by bwrap itself after --chdir.
    assert r.stdout.splitlines()[0] == str(sorted(["ONLY", "PATH", "HOME", "LANG", "PWD"]))


def test_writes_outside_rw_mount_fail_and_leave_no_trace(local_backend: LocalBackend, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("input")
    out = tmp_path / "out"
    marker = f"m{uuid.uuid4().hex[:10]}"
    targets = ["/usr/" + marker, "/etc/" + marker, "/opt/sia/venv/" + marker, "/" + marker,
               "/data/" + marker, "/data/in.txt", "/usr/bin/python3"]
    r = py(local_backend, f"""
ok = []
for p in {targets!r}:
    try:
        open(p, "a").write("x"); ok.append(p)
    except OSError as e:
        print(p, e.errno)
open("/tmp/{marker}", "w").write("tmp is writable")
open("/out/{marker}", "w").write("out is writable")
print("WROTE", ok)
""", ro_mounts=[Mount(host=data, sandbox="/data")], rw_mounts=[Mount(host=out, sandbox="/out")])
    assert r.reason == "ok", r
    assert "WROTE []" in r.stdout
    assert (data / "in.txt").read_text() == "input" and sorted(os.listdir(data)) == ["in.txt"]
    assert not Path("/tmp", marker).exists() and not Path("/usr", marker).exists()
    assert not Path(local_backend_venv(), marker).exists()
    assert (out / marker).read_text() == "out is writable"
    # /tmp is private to each sandbox: the next one does not see the file.
    r2 = py(local_backend, f"import os; print(os.path.exists('/tmp/{marker}'))")
    assert r2.stdout.strip() == "False"


def local_backend_venv() -> str:
    from sia_sandbox.sandbox.rootfs import root_layout

    return root_layout().venv or "/nonexistent"


def test_output_symlinks_are_recorded_not_followed(local_backend: LocalBackend, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = py(local_backend, """
import os
os.symlink("/etc/shadow", "/out/shadow")
os.symlink("../../../../../../", "/out/up")
os.mkdir("/out/d")
os.symlink("/root", "/out/d/root")
open("/out/d/real.txt", "w").write("hello")
""", rw_mounts=[Mount(host=out, sandbox="/out")])
    assert r.reason == "ok", r
    by_path = {o.path: o for o in r.outputs}
    assert by_path["/out/shadow"].kind == "symlink" and by_path["/out/shadow"].link_target == "/etc/shadow"
    assert by_path["/out/up"].kind == "symlink" and by_path["/out/up"].link_target == "../../../../../../"
    assert by_path["/out/d/root"].kind == "symlink" and by_path["/out/d/root"].sha256 is None
    assert by_path["/out/d/real.txt"].sha256 == hashlib.sha256(b"hello").hexdigest()
    for name in ("shadow", "up", "d/root"):
        assert (out / name).is_symlink()
    assert os.readlink(out / "shadow") == "/etc/shadow"


def test_output_files_are_not_root_owned(local_backend: LocalBackend, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = py(local_backend, "open('/out/f', 'w').write('x'); import os; print(os.getuid())",
           rw_mounts=[Mount(host=out, sandbox="/out")])
    assert r.reason == "ok", r
    if os.geteuid() == 0:
        assert (out / "f").stat().st_uid != 0
        assert r.stdout.strip() != "0"


# --- resources ---------------------------------------------------------------------------------


def test_fork_bomb_hits_pids_limit(local_backend: LocalBackend) -> None:
    r = py(local_backend, """
import os, sys, time
n = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(30); os._exit(0)
        n += 1
except OSError as e:
    print("fork failed after", n, e.errno); sys.exit(1)
""", limits=Limits(timeout_s=20, memory_mb=256, pids=24))
    assert r.reason == "pids_limit", r
    assert "fork failed" in r.stdout


def test_memory_bomb_is_oom_killed(local_backend: LocalBackend) -> None:
    r = py(local_backend, """
chunks = []
while True:
    chunks.append(bytearray(16 << 20))
""", limits=Limits(timeout_s=30, memory_mb=128, pids=32))
    assert r.reason == "oom", r
    assert r.exit_code == -9


def test_disk_fill_of_output_mount_is_bounded(local_backend: LocalBackend, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = local_backend.run(SandboxSpec(
        command=["sh", "-c", "dd if=/dev/zero of=/out/fill bs=1M count=100 2>&1; exit 1"],
        rw_mounts=[Mount(host=out, sandbox="/out")],
        limits=Limits(timeout_s=20, memory_mb=256, output_limit_mb=4),
    ))
    assert r.reason == "output_limit", r
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and not p.is_symlink())
    assert total <= 4 << 20


def test_stdout_flood_is_cut_and_parent_memory_bounded(local_backend: LocalBackend) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = local_backend.run(SandboxSpec(
        command=["head", "-c", str(200 << 20), "/dev/zero"],
        limits=Limits(timeout_s=30, memory_mb=128, output_limit_mb=8, stream_cap_bytes=1 << 16),
    ))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert r.reason == "output_limit", r
    assert r.stdout_truncated and len(r.stdout) == 1 << 16
    assert 8 << 20 < r.stdout_bytes < 200 << 20
    assert (after - before) < 64 << 10  # ru_maxrss is in KiB: less than 64 MiB growth


def test_big_stream_within_limit_keeps_full_hash(local_backend: LocalBackend) -> None:
    n = 20 << 20
    r = local_backend.run(SandboxSpec(
        command=["head", "-c", str(n), "/dev/zero"],
        limits=Limits(timeout_s=30, output_limit_mb=32, stream_cap_bytes=1000),
    ))
    assert r.reason == "ok", r
    assert r.stdout_bytes == n and r.stdout_truncated
    assert r.stdout_sha256 == hashlib.sha256(b"\0" * n).hexdigest()


@pytest.mark.parametrize("command", [["python3", "-c", "while True: pass"], ["sleep", "1000"]])
def test_timeout_kills_the_tree(local_backend: LocalBackend, command: list[str]) -> None:
    r = local_backend.run(SandboxSpec(command=command, limits=Limits(timeout_s=1.5, memory_mb=128)))
    assert r.reason == "timeout", r
    assert r.exit_code is not None and r.exit_code < 0


def test_daemons_do_not_outlive_the_run(local_backend: LocalBackend, tmp_path: Path) -> None:
    out = tmp_path / "out"
    tag = f"{uuid.uuid4().int % 1000}.{uuid.uuid4().int % 997 + 1}"
    r = py(local_backend, f"""
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for fd in (0, 1, 2):
            os.close(fd)
        time.sleep(2)
        open("/out/late", "w").write("escaped")
        os.execvp("sleep", ["sleep", "{tag}"])
    os._exit(0)
time.sleep(0.2)
print("main done")
""", rw_mounts=[Mount(host=out, sandbox="/out")])
    assert r.reason == "ok", r
    time.sleep(3)
    assert not (out / "late").exists()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        assert tag.encode() not in cmd, f"daemon survived as pid {pid}"


def test_host_processes_are_invisible(local_backend: LocalBackend) -> None:
    r = py(local_backend, """
import os
pids = [p for p in os.listdir("/proc") if p.isdigit()]
print(len(pids))
for p in pids:
    try:
        print(open(f"/proc/{p}/cmdline", "rb").read())
    except OSError:
        pass
""")
    assert r.reason == "ok", r
    assert int(r.stdout.splitlines()[0]) <= 3
    assert b"pytest" not in r.stdout.encode()


def test_no_capabilities_and_no_leaked_fds(local_backend: LocalBackend) -> None:
    r = py(local_backend, """
import os
st = dict(l.split(":", 1) for l in open("/proc/self/status"))
print(st["CapEff"].strip(), st["CapPrm"].strip(), st["CapBnd"].strip(), st["NoNewPrivs"].strip())
print(sorted(int(x) for x in os.listdir("/proc/self/fd")))
""")
    assert r.reason == "ok", r
    caps, fds = r.stdout.splitlines()
    assert caps.split() == ["0000000000000000"] * 3 + ["1"]
    assert [fd for fd in eval(fds) if fd > 3] == []  # 3 = the listdir handle itself


def test_seccomp_blocks_ptrace_unshare_mount(local_backend: LocalBackend) -> None:
    code = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def call(name, *args):
    rc = getattr(libc, name)(*args)
    return rc, ctypes.get_errno()
print("ptrace", *call("ptrace", 0, 0, 0, 0))
print("unshare", *call("unshare", 0x10000000))
print("mount", *call("mount", b"none", b"/tmp", b"tmpfs", 0, None))
print("bpf", *call("syscall", 321, 0, 0, 0))
"""
    r = py(local_backend, code)
    assert r.reason == "ok", r
    lines = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    for name in ("ptrace", "unshare", "mount", "bpf"):
        assert lines[name] == "-1 1", (name, r.stdout)  # EPERM from the filter


def test_gateway_socket_is_the_only_way_out(local_backend: LocalBackend, tmp_path: Path) -> None:
    sock_path = tmp_path / "gw.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(sock_path))
    os.chmod(sock_path, 0o666)
    srv.listen(1)
    srv.settimeout(15)
    got: list[bytes] = []

    def serve() -> None:
        try:
            conn, _ = srv.accept()
            got.append(conn.recv(100))
            conn.close()
        except OSError:
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        r = py(local_backend, """
import socket
s = socket.socket(socket.AF_UNIX); s.connect("/run/sia/gateway.sock"); s.sendall(b"ping")
t = socket.socket(); t.settimeout(2)
try:
    t.connect(("1.1.1.1", 443)); print("TCP-OK")
except OSError:
    print("tcp-fail")
""", network="gateway", gateway_socket=sock_path)
        t.join(5)
    finally:
        srv.close()
    assert r.reason == "ok", r
    assert got == [b"ping"] and "tcp-fail" in r.stdout


def test_nothing_left_behind(local_backend: LocalBackend, tmp_path: Path) -> None:
    """The run's cgroups and staging tmpfs are gone when ``run`` returns."""
    from sia_sandbox.sandbox import cgroups

    sid = f"sbx-leak-{uuid.uuid4().hex[:8]}"
    r = local_backend.run(
        SandboxSpec(command=["sh", "-c", "sleep 100 & echo x > /out/x"], rw_mounts=[Mount(host=tmp_path, sandbox="/out")],
                    limits=SMALL),
        sandbox_id=sid,
    )
    assert r.reason == "ok", r
    host = cgroups.detect()
    for parent in {host.memory, host.pids, host.cpu, host.freezer, host.kill} - {None}:
        assert not Path(str(parent), f"sia-{sid}").exists()
    assert "sia-out" not in Path("/proc/self/mountinfo").read_text()
