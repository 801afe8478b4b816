"""TLS with the standard `ssl` module: the server's context, built once from the Config.

    --certfile/--keyfile (+ --ca-certs/--cert-reqs) ──► server_context() ──► ssl.SSLContext | None

TLS 1.2 is the minimum (RFC 8996 deprecates 1.0 and 1.1); ALPN offers only "http/1.1" (RFC 7301), so
a client that wants h2 falls back instead of failing. The handshake itself is driven without blocking on
the dispatcher thread (`server.tls_handshake`), so a slow or silent client never holds a thread.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import ssl

from server.config import Config
from server.connection import ClientDisconnected, Connection

__all__ = ["CERT_REQS", "TLSConnection", "server_context"]

CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


def server_context(config: Config) -> ssl.SSLContext | None:
    """The SSLContext for config.certfile/keyfile, or None when TLS is off.

    Raises ValueError for an inconsistent configuration, ssl.SSLError / OSError for unreadable or
    mismatched files (start-up errors, reported before anything is served).
    """
    if config.certfile is None:
        if config.keyfile is not None or config.ca_certs is not None:
            raise ValueError("--keyfile and --ca-certs need --certfile")
        return None
    if config.cert_reqs not in CERT_REQS:
        raise ValueError(f"cert_reqs must be one of {', '.join(CERT_REQS)}, not {config.cert_reqs!r}")
    if config.cert_reqs != "none" and config.ca_certs is None:
        raise ValueError(f"--cert-reqs {config.cert_reqs} needs --ca-certs (to check client certificates)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.certfile, config.keyfile)
    context.set_alpn_protocols(["http/1.1"])
    context.options |= ssl.OP_NO_COMPRESSION  # CRIME (RFC 7457 §2.6)
    if config.ca_certs is not None:
        context.load_verify_locations(config.ca_certs)
    context.verify_mode = CERT_REQS[config.cert_reqs]
    return context


class TLSConnection(Connection):
    """A Connection over TLS: the same interface, through SSLSocket (which takes no send/recv flags).

    - Received bytes may wait decrypted inside OpenSSL (`pending()`), where epoll cannot see them:
      `fill` drains them, and a non-waiting `fill` looks there before asking the kernel, so a
      connection is never parked with a request already received.
    - No sendfile: the file is read (os.pread) and sent through TLS.
    - The write timeout is SO_SNDTIMEO per send call (OpenSSL hides partial progress).
    """

    __slots__ = ()

    def fill(self, wait: bool) -> bool:
        sock = self.sock
        if not wait and not sock.pending():
            poller = select.poll()
            poller.register(sock.fileno(), select.POLLIN)
            if not poller.poll(0):
                return False
        try:
            data = sock.recv(self._recv_size)
            while sock.pending():
                data += sock.recv(self._recv_size)
        except (ssl.SSLWantReadError, BlockingIOError):  # SO_RCVTIMEO step, or half a record so far
            return False
        except OSError as exc:
            raise ClientDisconnected(str(exc)) from exc
        if not data:
            raise ClientDisconnected("peer closed the connection")
        self.buf += data
        return True

    def has_pending_bytes(self) -> bool:
        if self.sock.pending():
            return True
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN)
        return bool(poller.poll(0))

    def send(self, data: bytes, more: bool = False) -> None:
        try:
            self.sock.sendall(data)
        except (OSError, ValueError) as exc:
            raise ClientDisconnected(str(exc)) from exc

    def send_now(self, data: bytes) -> None:
        """The dispatcher's 408: TLS cannot promise not to block, so it is only sent if room is plain."""
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLOUT)
        if poller.poll(0):
            with contextlib.suppress(OSError, ValueError):
                self.sock.sendall(data)

    def sendfile(self, fd: int, offset: int, count: int) -> int:
        sent = 0
        while sent < count:
            block = os.pread(fd, min(self._sendfile_chunk, count - sent), offset + sent)
            if not block:
                break  # the file shrank
            self.send(block)
            sent += len(block)
        return sent

    def start_closing(self) -> None:
        self.closing = True
        self.buf.clear()
        with contextlib.suppress(OSError, ValueError):
            self.sock.setblocking(False)  # the dispatcher's discard() must never block
            self.sock.shutdown(socket.SHUT_WR)

    def discard(self) -> bool:
        try:
            while self.sock.recv(self._recv_size):
                pass
            return False
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return True
        except (OSError, ValueError):
            return False
