"""A test helper: the times a file is opened, as the kernel records them (Linux inotify)."""

from __future__ import annotations

import os
import struct

import pytest

__all__ = ["OpenWatch"]


class OpenWatch:
    """Counts the times a file is opened, through Linux inotify (IN_OPEN): the kernel's own record of
    the open(2) calls, queued before each call returns, so reading it afterwards needs no waiting."""

    IN_OPEN, IN_NONBLOCK = 0x20, 0o4000

    def __init__(self, path) -> None:
        import ctypes
        import ctypes.util

        self._libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._fd = self._libc.inotify_init1(self.IN_NONBLOCK)
        if self._fd < 0 or self._libc.inotify_add_watch(self._fd, os.fsencode(path), self.IN_OPEN) < 0:
            pytest.skip("inotify is not available here")
        self.opens = 0

    def count(self) -> int:
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return self.opens
            offset = 0
            while offset < len(data):  # struct inotify_event: wd, mask, cookie, len, then len bytes of name
                _, mask, _, size = struct.unpack_from("iIII", data, offset)
                self.opens += bool(mask & self.IN_OPEN)
                offset += 16 + size

    def close(self) -> None:
        os.close(self._fd)
