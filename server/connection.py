"""One client connection: its socket, its receive buffer, and every recv/send/sendfile the server makes.

Rules of this module:
- It is the only place in `server/` that calls `recv`, `send` or `sendfile` on a client socket.
- A `Connection` belongs to exactly one thread at a time: the dispatcher (main) thread while it is parked
  in the poller, one worker thread while it is being served. Ownership passes through queues, so the
  object needs no lock.
- The socket stays in blocking mode with a *kernel* receive timeout: `SO_RCVTIMEO` = a tenth of the
  linger. A recv is then one system call; a Python-level socket timeout would add a poll() before each.
  Sends are non-blocking (MSG_DONTWAIT) and poll() for room only when the buffer is full, against a
  `write_timeout` deadline that restarts on every byte sent (SO_SNDTIMEO stays as a backstop).
  Longer receive waits (a request body) are built from recv steps
  against a `time.monotonic()` deadline. The dispatcher's own sends use MSG_DONTWAIT and never block.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import time

from server.config import Config
from server.http11 import HeadParser

__all__ = ["ClientDisconnected", "Connection", "RequestTimeout"]

_DONTWAIT = socket.MSG_DONTWAIT
_MORE = getattr(socket, "MSG_MORE", 0)  # Linux: hold a small header back to share a packet with the body
# A lingering worker wakes this many times per linger to see whether another connection now waits for a
# thread, so a new client waits at most a tenth of the linger behind an idle one.
LINGER_STEPS = 10


class ClientDisconnected(Exception):
    """The peer closed or reset the connection; nobody is left to answer."""


class RequestTimeout(Exception):
    """The client went silent while sending its request body (RFC 9110 §15.5.9)."""

    status = 408


def _timeval(seconds: float) -> bytes:
    whole = int(seconds)
    return struct.pack("ll", whole, int((seconds - whole) * 1_000_000))


def _host_port(address: tuple) -> tuple[str, str]:
    host = address[0] if address else ""
    if host.startswith("::ffff:") and "." in host:  # IPv4 client on a dual-stack "::" listener
        host = host[7:]
    return host, str(address[1]) if len(address) > 1 else ""


class Connection:
    """A client socket plus the bytes received but not yet parsed (the parser's state across parks)."""

    __slots__ = (
        "sock",
        "buf",
        "parser",
        "peer_host",
        "peer_port",
        "environ",
        "trusted_peer",
        "receiving",
        "requests",
        "head_started",
        "unread",
        "park_gen",
        "closing",
        "_recv_size",
        "_sendfile_chunk",
        "_write_timeout",
    )

    def __init__(self, sock: socket.socket, address: tuple, config: Config, rcvtimeo: bytes, sndtimeo: bytes):
        self.sock = sock
        self.buf = bytearray()
        self.parser = HeadParser(config)  # remembers how far an unfinished head was already searched
        self.peer_host, self.peer_port = _host_port(address)
        self.environ: dict = {}  # the per-connection base environ, filled in by the WSGI handler
        self.trusted_peer = False  # a trusted proxy (server.proxy), decided with the environ
        self.receiving = None  # a BodySpool while the dispatcher receives a request body (server.body_spool)
        self.requests = 0  # requests answered so far; 0 means "not a keep-alive connection yet"
        self.head_started = 0.0  # monotonic time the first byte of an unfinished request head arrived
        self.unread = False  # the client may still be sending bytes we will never read (lingering close)
        self.park_gen = 0  # bumped on every park, so stale deadline entries are recognised
        self.closing = False  # answered and half-closed: only discarding the client's last bytes
        self._recv_size = config.recv_size
        self._sendfile_chunk = config.sendfile_chunk
        self._write_timeout = config.write_timeout
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # responses go out as soon as written
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, rcvtimeo)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, sndtimeo)

    @staticmethod
    def socket_timeouts(config: Config) -> tuple[bytes, bytes]:
        """The packed SO_RCVTIMEO/SO_SNDTIMEO values, computed once per server.

        A zero timeval means "block forever" to the kernel, so a zero linger falls back to the body
        timeout as the recv step (and workers then never linger).
        """
        linger = config.keepalive_linger
        step = linger / LINGER_STEPS if linger > 0 else config.body_timeout
        return _timeval(step), _timeval(config.write_timeout)

    # --- receiving ----------------------------------------------------------------------------------------

    def fill(self, wait: bool) -> bool:
        """Append one recv() to `buf`. `wait=False` never blocks; `wait=True` blocks up to one step.

        Returns False when nothing arrived; raises ClientDisconnected when the peer has closed.
        """
        try:
            data = self.sock.recv(self._recv_size, 0 if wait else _DONTWAIT)
        except BlockingIOError:  # EAGAIN: nothing yet (the SO_RCVTIMEO step or MSG_DONTWAIT)
            return False
        except OSError as exc:
            raise ClientDisconnected(str(exc)) from exc
        if not data:
            raise ClientDisconnected("peer closed the connection")
        self.buf += data
        return True

    def fill_until(self, timeout: float) -> None:
        """Block until more bytes arrive; RequestTimeout after `timeout` seconds of silence."""
        if self.fill(True):
            return
        deadline = time.monotonic() + timeout
        while not self.fill(True):
            if time.monotonic() >= deadline:
                raise RequestTimeout(f"no request body bytes for {timeout:g} seconds")

    def has_pending_bytes(self) -> bool:
        """Whether the client has sent something we have not read (never blocks; dispatcher-safe)."""
        try:
            return bool(self.sock.recv(1, socket.MSG_PEEK | _DONTWAIT))
        except BlockingIOError:
            return False
        except OSError:
            return False

    # --- sending ------------------------------------------------------------------------------------------

    def send(self, data: bytes, more: bool = False) -> None:
        """Send all of `data`; `more=True` says the body follows at once.

        ClientDisconnected when the client goes write_timeout without taking any byte. The usual
        response fits the socket buffer: one non-blocking send() and done.
        """
        flags = (_MORE | _DONTWAIT) if more else _DONTWAIT
        try:
            sent = self.sock.send(data, flags)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            raise ClientDisconnected(str(exc)) from exc
        if sent != len(data):
            self._send_rest(memoryview(data)[sent:], flags)

    def _send_rest(self, view: memoryview, flags: int) -> None:
        """The rest of a send, waiting for room in the socket buffer with a deadline per progress.

        The deadline restarts only when bytes leave: so write_timeout bounds the time without progress
        of the whole response, not of each send() (a blocking send with SO_SNDTIMEO that moves a few
        bytes would restart the kernel's clock, letting a trickling reader hold us about twice as long).
        """
        deadline = time.monotonic() + self._write_timeout
        while view:
            if not self._wait_writable(deadline):
                raise ClientDisconnected(f"client read nothing for {self._write_timeout:g} seconds")
            try:
                sent = self.sock.send(view, flags)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise ClientDisconnected(str(exc)) from exc
            view = view[sent:]
            deadline = time.monotonic() + self._write_timeout

    def _wait_writable(self, deadline: float) -> bool:
        """Block until the socket can take bytes; False if `deadline` passed first."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLOUT)
        return bool(poller.poll(remaining * 1000))

    def send_now(self, data: bytes) -> None:
        """Best-effort send that never blocks: for the dispatcher thread's 408 answers."""
        with contextlib.suppress(OSError):
            self.sock.send(data, _DONTWAIT)

    def sendfile(self, fd: int, offset: int, count: int) -> int:
        """Send `count` bytes of file `fd` from `offset` with os.sendfile (zero copy); returns bytes sent.

        Fewer than `count` only when the file shrank underneath us. The socket is non-blocking meanwhile,
        so the write timeout is counted from the last progress, as in `send`.
        """
        sock = self.sock
        out = sock.fileno()
        sent = 0
        sock.setblocking(False)
        try:
            deadline = time.monotonic() + self._write_timeout
            while sent < count:
                try:
                    n = os.sendfile(out, fd, offset + sent, min(self._sendfile_chunk, count - sent))
                except BlockingIOError:
                    if not self._wait_writable(deadline):
                        raise ClientDisconnected(
                            f"client read nothing for {self._write_timeout:g} seconds"
                        ) from None
                    continue
                if n == 0:
                    break
                sent += n
                deadline = time.monotonic() + self._write_timeout
        except OSError as exc:
            raise ClientDisconnected(str(exc)) from exc
        finally:
            with contextlib.suppress(OSError):
                sock.setblocking(True)  # back to kernel timeouts (setblocking(True) keeps SO_RCVTIMEO)
        return sent

    # --- closing ------------------------------------------------------------------------------------------

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def start_closing(self) -> None:
        """Lingering close, step 1: stop writing (FIN after our answer) but keep reading.

        close() with unread bytes in the receive queue makes the kernel answer with RST, and an RST can
        destroy the error response we just wrote before the client reads it (nginx `lingering_close`).
        The dispatcher then discards what still arrives (`discard`) until EOF or a deadline.
        """
        self.closing = True
        self.buf.clear()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def discard(self) -> bool:
        """Lingering close, step 2: drop what has arrived (never blocks); False once the peer closed."""
        try:
            while self.sock.recv(self._recv_size, _DONTWAIT):
                pass
            return False
        except BlockingIOError:
            return True
        except OSError:
            return False
