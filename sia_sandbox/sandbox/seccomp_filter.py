"""The seccomp filter of local sandboxes, compiled once per process to classic BPF.

Default-allow with EPERM for the syscalls that attack the kernel or other processes rather than do
computation: debugging other processes, mounting, namespaces, kernel modules, eBPF, perf, keyrings,
userfaultfd and io_uring (both common exploit primitives), reboot/swap, handle-based opens,
``personality`` flags that weaken ASLR, and ``clone`` with namespace flags. ``clone3`` returns ENOSYS
so libc falls back to ``clone``, whose flags the filter can inspect. Syscalls of a foreign ABI (i386,
x32) kill the process (libseccomp's bad-arch default).

Not protected against: kernel bugs reachable through the allowed syscalls.
"""

from __future__ import annotations

import errno
import functools
import os

BLOCKED_SYSCALLS: tuple[str, ...] = (
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd",
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsmount",
    "fsconfig", "fspick", "mount_setattr",
    "unshare", "setns",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "reboot", "swapon", "swapoff", "open_by_handle_at", "name_to_handle_at",
    "acct", "quotactl", "lookup_dcookie", "syslog", "vhangup", "settimeofday", "clock_settime",
    "adjtimex", "clock_adjtime", "iopl", "ioperm",
)
"""Syscalls that fail with EPERM inside a sandbox."""

_CLONE_NS_FLAGS = {
    "CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000, "CLONE_NEWTIME": 0x00000080,
}
# personality() flags that disable ASLR or make data executable.
_PERSONALITY_FLAGS = (0x0040000, 0x0400000, 0x0100000, 0x0200000)


class SeccompUnavailable(RuntimeError):
    """pyseccomp/libseccomp is missing or refused the filter."""


@functools.cache
def filter_bpf() -> bytes:
    """The compiled filter (classic BPF for the native arch), built once.

    Raises:
        SeccompUnavailable: pyseccomp or libseccomp is missing, or the filter cannot be built.
    """
    try:
        import pyseccomp as sc
    except (ImportError, OSError) as e:
        raise SeccompUnavailable(f"pyseccomp/libseccomp not importable: {e}") from e
    try:
        f = sc.SyscallFilter(sc.ALLOW)
        for name in BLOCKED_SYSCALLS:
            try:
                f.add_rule(sc.ERRNO(errno.EPERM), name)
            except (ValueError, RuntimeError, OSError):
                # A syscall this arch/libseccomp does not know cannot be called either.
                continue
        for flag in _CLONE_NS_FLAGS.values():
            f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
        for flag in _PERSONALITY_FLAGS:
            f.add_rule(sc.ERRNO(errno.EPERM), "personality", sc.Arg(0, sc.MASKED_EQ, flag, flag))
        f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
        with os.fdopen(os.memfd_create("sia-seccomp-build", os.MFD_CLOEXEC), "w+b") as buf:
            f.export_bpf(buf)
            buf.seek(0)
            data = buf.read()
    except (RuntimeError, OSError, ValueError) as e:
        raise SeccompUnavailable(f"libseccomp could not build the filter: {e}") from e
    return data


def filter_fd() -> int:
    """A fresh readable fd (memfd at offset 0) holding the filter, for ``bwrap --seccomp FD``.

    The caller closes it after the sandbox started (bwrap reads it to EOF).

    Raises:
        SeccompUnavailable: see ``filter_bpf``.
    """
    data = filter_bpf()
    fd = os.memfd_create("sia-seccomp", os.MFD_CLOEXEC)
    try:
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd
