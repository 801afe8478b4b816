"""A file opened with ``os.open``, read-only, for ``wsgi.file_wrapper``: what StaticFiles hands a server.

``open_file(path)`` returns it with the ``fstat`` of what was opened (the identity StaticFiles compares).
"""

from __future__ import annotations

import os

__all__ = ["OpenFile", "open_file"]

_BLOCK = 64 * 1024  # what read() asks the kernel for at a time when asked for the whole file
# O_NONBLOCK: a FIFO swapped in for a remembered file must not block the worker until someone writes to it
# (for a regular file it changes nothing). os.open makes the descriptor non-inheritable itself (PEP 446).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


class OpenFile:
    """A file opened with ``os.open``, read-only: what ``wsgi.file_wrapper`` and the iterators need.

    Cheaper than ``open(path, "rb")``, which adds a buffer and, on opening, an ``fstat``, an ``isatty``
    ioctl and an ``lseek``: a server's sendfile path (``fileno``, ``tell``, ``fstat``) then costs this
    file one system call besides the ``open``/``fstat``/``close`` StaticFiles makes. ``read(n)`` returns
    ``n`` bytes unless the file ends first (it loops over short reads, as a buffered file does), so
    ``FileSlice`` and any server's loop get whole blocks. Closed when garbage-collected, should a server
    forget ``close()`` (PEP 3333 says it must call it).
    """

    __slots__ = ("fd", "name")

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name

    @property
    def closed(self) -> bool:
        return self.fd < 0

    def fileno(self) -> int:
        if self.fd < 0:
            raise ValueError("I/O operation on closed file")
        return self.fd

    def tell(self) -> int:
        return os.lseek(self.fd, 0, os.SEEK_CUR)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return os.lseek(self.fd, offset, whence)

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all that is left if ``size`` is negative or None); fewer only at the end."""
        if size is None or size < 0:
            parts = []
            while block := os.read(self.fd, _BLOCK):
                parts.append(block)
            return b"".join(parts)
        data = os.read(self.fd, size)
        if len(data) == size or not data:
            return data
        parts = [data]
        remaining = size - len(data)
        while remaining and (block := os.read(self.fd, remaining)):  # a short read: go on to size or EOF
            parts.append(block)
            remaining -= len(block)
        return b"".join(parts)

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        self.close()


def open_file(path: str) -> tuple[OpenFile, os.stat_result]:
    """``path`` open, with the ``fstat`` of what was opened (OSError as ``os.open`` raises it)."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
    except BaseException:
        os.close(fd)  # before any OpenFile owns it: closed once, never a number reused meanwhile
        raise
    return OpenFile(fd, path), st
