"""Runs INSIDE a sandbox: tries every escape the conformance suite checks and prints one JSON report.

argv: canary_path loopback_port host_ip ro_dir rw_dir reversed_marker
Each attempt records "ok" or the error; the suite asserts on the report.
"""

import json
import os
import socket
import sys

canary, port, host_ip, ro_dir, rw_dir, marker = sys.argv[1:7]
# The marker comes reversed so that our own argv (and pid 1's) never matches it.
marker = marker[::-1]
report = {}


def attempt(name, fn):
    try:
        report[name] = ["ok", repr(fn())[:200]]
    except BaseException as e:  # noqa: BLE001 - every failure is data here
        report[name] = ["fail", f"{type(e).__name__}: {e}"[:200]]


def tcp(addr, p):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((addr, p))
        return s.recv(64)
    finally:
        s.close()


def udp(addr, p):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.sendto(b"x", (addr, p))
        return s.recvfrom(64)
    finally:
        s.close()


attempt("tcp_internet", lambda: tcp("1.1.1.1", 443))
attempt("tcp_host_loopback", lambda: tcp("127.0.0.1", int(port)))
attempt("tcp_host_ip", lambda: tcp(host_ip, int(port)))
attempt("udp_internet", lambda: udp("8.8.8.8", 53))
attempt("dns", lambda: socket.getaddrinfo("pypi.org", 443))
attempt("read_canary", lambda: open(canary).read())
attempt("list_root_home", lambda: os.listdir("/root"))
for target in ("/", "/usr", "/etc", "/opt", ro_dir):
    attempt(f"write:{target}", lambda t=target: open(os.path.join(t, "sia-escape"), "w").write("x"))
attempt("write:rw", lambda: open(os.path.join(rw_dir, "written"), "w").write("inside"))
attempt("symlink_out", lambda: os.symlink("/etc/passwd", os.path.join(rw_dir, "link-abs")))
attempt("symlink_rel", lambda: os.symlink("../../../../", os.path.join(rw_dir, "link-rel")))


def status():
    return dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)


st = status()
report["caps"] = {k: st[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapAmb", "CapBnd")}
report["no_new_privs"] = st.get("NoNewPrivs", "").strip()
report["uid"] = os.getuid()
report["env"] = dict(os.environ)
procs = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            procs.append(open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            pass
report["proc_count"] = len(procs)
report["sees_marker"] = any(marker in p for p in procs)
print(json.dumps(report))
