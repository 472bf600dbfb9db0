"""Bounded capture of a child's stdout/stderr: keep a prefix, hash and count everything.

Any backend that reads a sandbox's streams feeds the bytes into a ``StreamCapture``; the local backend
also uses ``pump`` to multiplex both pipes, the stdin feed and the child's exit in one thread (no
reader threads per run).

Not protected against: a command that writes nothing but never exits (that is the watchdog's job,
``pump`` only returns at the deadline).
"""

from __future__ import annotations

import enum
import errno
import hashlib
import os
import selectors
import time
from dataclasses import dataclass, field

_CHUNK = 1 << 16


@dataclass
class StreamCapture:
    """Keeps the first ``cap_bytes`` of a stream plus the sha256 and length of all of it.

    Memory stays bounded by ``cap_bytes`` whatever the stream's size (a 200 MB flood costs 1 MiB).

    Args:
        cap_bytes: how many bytes to keep for the result.
        limit_bytes: total size past which ``over_limit`` becomes true (the caller kills the sandbox).
    """

    cap_bytes: int
    limit_bytes: int
    total: int = 0
    _kept: bytearray = field(default_factory=bytearray)
    _hash: "hashlib._Hash" = field(default_factory=hashlib.sha256)

    def feed(self, data: bytes) -> None:
        """Account for one chunk read from the stream."""
        self.total += len(data)
        self._hash.update(data)
        room = self.cap_bytes - len(self._kept)
        if room > 0:
            self._kept += data[:room]

    @property
    def over_limit(self) -> bool:
        """True once more than ``limit_bytes`` went through."""
        return self.total > self.limit_bytes

    @property
    def truncated(self) -> bool:
        """True when bytes were dropped from the kept prefix."""
        return self.total > len(self._kept)

    @property
    def sha256(self) -> str:
        """Hex sha256 of every byte fed so far."""
        return self._hash.hexdigest()

    def text(self) -> str:
        """The kept prefix decoded as UTF-8 (invalid bytes replaced)."""
        return bytes(self._kept).decode("utf-8", errors="replace")


class PumpEvent(enum.Enum):
    """Why ``pump`` returned."""

    EXITED = "exited"
    """The watched process exited (and, when asked, every stream reached EOF)."""
    DEADLINE = "deadline"
    """The deadline passed first."""
    OUTPUT_LIMIT = "output_limit"
    """A stream passed its ``limit_bytes``."""


@dataclass
class Pump:
    """Multiplexes a child's output pipes, its stdin feed and its exit (a pidfd) in one thread.

    Args:
        exit_fd: a pidfd of the child; readable once it exited.
        streams: read end of each output pipe -> its capture. The pump closes them at EOF.
        stdin_fd: write end of the child's stdin pipe, or None.
        stdin_data: bytes to write into ``stdin_fd``; the pipe is closed once they are written.
    """

    exit_fd: int
    streams: dict[int, StreamCapture]
    stdin_fd: int | None = None
    stdin_data: bytes = b""
    exited: bool = False
    _sel: selectors.DefaultSelector = field(default_factory=selectors.DefaultSelector)
    _stdin_off: int = 0

    def __post_init__(self) -> None:
        self._sel.register(self.exit_fd, selectors.EVENT_READ)
        for fd in self.streams:
            os.set_blocking(fd, False)
            self._sel.register(fd, selectors.EVENT_READ)
        if self.stdin_fd is not None:
            os.set_blocking(self.stdin_fd, False)
            self._sel.register(self.stdin_fd, selectors.EVENT_WRITE)
            if not self.stdin_data:
                self._close_stdin()

    def run(self, deadline: float, *, until_eof: bool, enforce_limit: bool = True) -> PumpEvent:
        """Pump until the child exited (and, with ``until_eof``, every stream closed), a stream
        overflowed, or ``deadline``.

        Args:
            deadline: ``time.monotonic()`` value at which to give up.
            until_eof: also wait for EOF on every stream (call it once every writer is dead).
            enforce_limit: return ``OUTPUT_LIMIT`` when a stream passes its limit.
        """
        while True:
            if self.exited and not (until_eof and self.streams):
                return PumpEvent.EXITED
            left = deadline - time.monotonic()
            if left <= 0:
                return PumpEvent.DEADLINE
            for key, _ in self._sel.select(timeout=left):
                fd = int(key.fd)
                if fd == self.exit_fd:
                    self.exited = True
                    self._sel.unregister(fd)
                elif fd == self.stdin_fd:
                    self._write_stdin()
                elif fd in self.streams:
                    cap = self.streams[fd]
                    self._read(fd, cap)
                    if enforce_limit and cap.over_limit:
                        return PumpEvent.OUTPUT_LIMIT

    def _read(self, fd: int, cap: StreamCapture) -> None:
        # Several reads per wake-up keep a fast writer from starving the watchdog check.
        for _ in range(16):
            try:
                data = os.read(fd, _CHUNK)
            except BlockingIOError:
                return
            if not data:
                self._sel.unregister(fd)
                os.close(fd)
                del self.streams[fd]
                return
            cap.feed(data)
            if cap.over_limit:
                return

    def _write_stdin(self) -> None:
        assert self.stdin_fd is not None
        try:
            n = os.write(self.stdin_fd, self.stdin_data[self._stdin_off : self._stdin_off + _CHUNK])
            self._stdin_off += n
        except BlockingIOError:
            return
        except OSError as e:
            # The command closed its stdin early; the rest of the input is simply not consumed.
            if e.errno not in (errno.EPIPE, errno.EBADF):
                raise
            self._stdin_off = len(self.stdin_data)
        if self._stdin_off >= len(self.stdin_data):
            self._close_stdin()

    def _close_stdin(self) -> None:
        if self.stdin_fd is not None:
            self._sel.unregister(self.stdin_fd)
            os.close(self.stdin_fd)
            self.stdin_fd = None

    def close(self) -> None:
        """Close every fd the pump still owns (idempotent)."""
        self._close_stdin()
        for fd in list(self.streams):
            self._sel.unregister(fd)
            os.close(fd)
        self.streams.clear()
        self._sel.close()
