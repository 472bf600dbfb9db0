"""The docker backend's mapping from what it observed to a termination reason."""

from __future__ import annotations


def test_docker_reason_reads_fork_eagain_when_the_cgroup_is_gone() -> None:
    """A fork bomb can exit before the docker probe reads pids.events; EAGAIN from fork is the evidence."""
    from sia_sandbox.sandbox.docker import _reason

    err = "BlockingIOError: [Errno 11] Resource temporarily unavailable"
    assert _reason("exited", 1, False, False, False, False, err)[0] == "pids_limit"
    assert _reason("exited", 1, False, False, False, False, "ValueError: boom")[0] == "nonzero_exit"
    assert _reason("exited", 1, True, False, False, False, err)[0] == "oom"  # oom still wins
