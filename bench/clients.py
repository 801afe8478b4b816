"""Many raw HTTP/1.1 client connections driven by one epoll loop, shared by idle.py and slowloris.py,
and the pipe between those tools and the benchmark that runs them (`ChildTool`).

Minimal on purpose: a request is a fixed byte string, a response is read up to its header block plus
Content-Length body (the benchmark app always sends one), or up to EOF. Every loop takes a deadline.
"""

from __future__ import annotations

import contextlib
import errno
import json
import resource
import select
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ChildTool",
    "Conn",
    "child_tool",
    "emit",
    "exchange",
    "open_connections",
    "poll_closed",
    "raise_fd_limit",
    "request_bytes",
    "response_status",
]

_CONNECT_BATCH = 256  # connects in flight at once: stays far below the server's accept backlog
_RECV = 65536


def request_bytes(host: str, port: int, path: str = "/") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: miniweb-bench\r\n\r\n".encode()


def raise_fd_limit(needed: int) -> int:
    """Raise RLIMIT_NOFILE's soft limit to hold ``needed`` sockets; raise OSError if the hard one is lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise OSError(f"need {needed} file descriptors, the hard limit is {hard} (ulimit -Hn)")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed


def response_status(buf: bytes) -> tuple[int | None, bool]:
    """(status, complete) of the response at the start of ``buf``; status None until the line is in."""
    head_end = buf.find(b"\r\n\r\n")
    line_end = buf.find(b"\r\n")
    if line_end < 0:
        return None, False
    parts = buf[:line_end].split(b" ", 2)
    status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
    if head_end < 0:
        return status, False
    length = 0
    for line in buf[line_end + 2 : head_end].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return status, len(buf) - (head_end + 4) >= length


@dataclass(eq=False, slots=True)
class Conn:
    sock: socket.socket
    buf: bytearray = field(default_factory=bytearray)
    status: int | None = None  # of the last response
    closed: bool = False  # the server closed it (EOF or reset)
    closed_at: float = 0.0  # time.monotonic() when we saw it
    answered_at: float = 0.0  # time.monotonic() of the last whole response: the connection idles from here

    def close(self) -> None:
        self.sock.close()


def _mark_closed(c: Conn) -> None:
    c.closed = True
    c.closed_at = time.monotonic()


def _read_response(c: Conn) -> bool:
    """Read what is there; True once a whole response is in (or the server closed the connection)."""
    try:
        data = c.sock.recv(_RECV)
    except BlockingIOError:
        return False
    except OSError:
        data = b""
    if not data:
        _mark_closed(c)
        return True
    c.buf += data
    c.status, complete = response_status(bytes(c.buf))
    if complete:
        c.buf.clear()
        c.answered_at = time.monotonic()
    return complete


def exchange(conns: list[Conn], request: bytes, deadline: float) -> None:
    """Send ``request`` on every open connection at once and read every response (until ``deadline``)."""
    sel = selectors.DefaultSelector()
    try:
        for c in conns:
            if c.closed:
                continue
            c.status = None
            try:
                c.sock.send(request)  # a few dozen bytes always fit an empty send buffer
            except OSError:
                _mark_closed(c)
                continue
            sel.register(c.sock, selectors.EVENT_READ, c)
        while sel.get_map() and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=max(0.0, min(1.0, deadline - time.monotonic()))):
                if _read_response(key.data):
                    sel.unregister(key.fileobj)
    finally:
        sel.close()


def open_connections(
    host: str, port: int, count: int, deadline: float, request: bytes | None = None
) -> tuple[list[Conn], int]:
    """Open ``count`` connections (at most `_CONNECT_BATCH` connecting at once); with ``request``, send it
    on each and wait for its response, so the connection becomes an idle *keep-alive* one.

    Returns (open connections, failures). Stops at ``deadline``; whatever is still pending then fails.
    """
    sel = selectors.DefaultSelector()
    done: list[Conn] = []
    failed = 0
    started = 0
    try:
        while (started < count or sel.get_map()) and time.monotonic() < deadline:
            while started < count and len(sel.get_map()) < _CONNECT_BATCH:
                started += 1
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setblocking(False)
                err = sock.connect_ex((host, port))
                if err not in (0, errno.EINPROGRESS):
                    sock.close()
                    failed += 1
                    continue
                sel.register(sock, selectors.EVENT_WRITE, Conn(sock))
            for key, events in sel.select(timeout=max(0.0, min(1.0, deadline - time.monotonic()))):
                c: Conn = key.data
                if events & selectors.EVENT_WRITE:  # connected (or failed)
                    if c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                        sel.unregister(c.sock)
                        c.close()
                        failed += 1
                    elif request is None:
                        sel.unregister(c.sock)
                        done.append(c)
                    else:
                        try:
                            c.sock.send(request)
                        except OSError:  # reset right after the accept: a failure, not a crash
                            sel.unregister(c.sock)
                            c.close()
                            failed += 1
                            continue
                        sel.modify(c.sock, selectors.EVENT_READ, c)
                elif _read_response(c):
                    sel.unregister(c.sock)
                    if c.closed or c.status != 200:
                        c.close()
                        failed += 1
                    else:
                        done.append(c)
        for key in list(sel.get_map().values()):  # deadline passed: what is still pending has failed
            key.fileobj.close()  # type: ignore[union-attr]
            failed += 1
        failed += count - started
    finally:
        sel.close()
    return done, failed


def poll_closed(conns: list[Conn]) -> None:
    """Mark every connection the server has closed (EOF or reset waiting in its socket), sending nothing.

    Whatever the server said before closing (an idle timeout may come with a 408) is kept in ``buf``.
    """
    for c in conns:
        while not c.closed:
            try:
                data = c.sock.recv(_RECV, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break  # still open, nothing to read
            except OSError:
                data = b""
            if not data:
                _mark_closed(c)
            else:
                c.buf += data


# --- the tools as child processes: JSON lines out, commands in -------------------------------------------


def emit(event: str, **fields: Any) -> None:
    """Child side: one JSON object per line on stdout, flushed at once (the parent is waiting for it)."""
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


class ChildTool:
    """Parent side: ``python -m MODULE ARGS`` pinned to ``cpu``; its first line is kept as ``ready``."""

    def __init__(self, module: str, args: list[str], *, cpu: int | None, max_seconds: float) -> None:
        argv = [sys.executable, "-m", module, *args, "--max-seconds", str(max_seconds)]
        if cpu is not None:
            argv = ["taskset", "-c", str(cpu), *argv]
        self.module = module
        self._deadline = time.monotonic() + max_seconds + 30  # the child stops by itself before this
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        self.ready = self.read()

    def read(self) -> dict[str, Any]:
        """The next line the child prints; RuntimeError if it ends (or hangs past its deadline) instead."""
        assert self.proc.stdout is not None
        wait = max(0.0, self._deadline - time.monotonic())
        readable, _, _ = select.select([self.proc.stdout], [], [], wait)
        line = self.proc.stdout.readline() if readable else ""
        if not line:
            raise RuntimeError(f"{self.module} stopped without answering (exit {self.proc.poll()})")
        return json.loads(line)

    def command(self, text: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.read()

    def stop(self) -> None:
        """EOF on stdin asks it to quit; then SIGTERM, then SIGKILL."""
        with contextlib.suppress(OSError):
            self.proc.stdin.close()  # type: ignore[union-attr]
        for signal_it in (lambda: None, self.proc.terminate, self.proc.kill):
            signal_it()
            try:
                self.proc.wait(5)
                return
            except subprocess.TimeoutExpired:
                continue


@contextlib.contextmanager
def child_tool(module: str, args: list[str], *, cpu: int | None, max_seconds: float) -> Iterator[ChildTool]:
    """`ChildTool`, stopped on the way out whatever happens."""
    tool = ChildTool(module, args, cpu=cpu, max_seconds=max_seconds)
    try:
        yield tool
    finally:
        tool.stop()
