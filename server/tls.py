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
import struct
import time

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

    - The socket stays non-blocking from its handshake on: SSLSocket ignores MSG_DONTWAIT, and in
      blocking mode a send that times out (SO_SNDTIMEO) is retried inside the ssl module for ever,
      so a client that stops reading would hold a worker thread for good. Waits are poll() calls:
      a receive step as long as SO_RCVTIMEO's on plain TCP, and for sends the same write_timeout
      deadline, restarted whenever the socket can take bytes again (the client read some): the
      limit bounds the time without progress of the whole response, as on plain TCP.
    - Received bytes may wait decrypted inside OpenSSL (`pending()`), where epoll cannot see them:
      `fill` drains them, and looks there before asking the kernel, so a connection is never parked
      with a request already received.
    - No sendfile: the file is read (os.pread) and sent through TLS.
    """

    __slots__ = ("_poller", "_step_ms")

    def __init__(self, sock: ssl.SSLSocket, address: tuple, config: Config, rcvtimeo: bytes, sndtimeo: bytes):
        super().__init__(sock, address, config, rcvtimeo, sndtimeo)
        seconds, microseconds = struct.unpack("ll", rcvtimeo)  # the receive step plain TCP waits
        self._step_ms = seconds * 1000 + microseconds // 1000
        self._poller = select.poll()  # this socket alone (a poll object holds no descriptor of its own)
        self._poller.register(sock.fileno(), select.POLLIN)  # POLLOUT only while send() waits

    def fill(self, wait: bool) -> bool:
        sock = self.sock
        if wait and not sock.pending() and not self._poller.poll(self._step_ms):
            return False  # a receive step with nothing
        try:
            data = sock.recv(self._recv_size)
            while sock.pending():
                data += sock.recv(self._recv_size)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):  # nothing, or half a record
            return False
        except OSError as exc:
            raise ClientDisconnected(str(exc)) from exc
        if not data:
            raise ClientDisconnected("peer closed the connection")
        self.buf += data
        return True

    def has_pending_bytes(self) -> bool:
        return self.sock.pending() > 0 or bool(self._poller.poll(0))

    def send(self, data: bytes, more: bool = False) -> None:
        """Send all of `data`; ClientDisconnected when the client takes nothing for write_timeout.

        Without SSL_MODE_ENABLE_PARTIAL_WRITE (CPython does not set it), SSL_write either takes all
        of `data` or says "want write" and keeps its place: the retry passes the same bytes again.
        """
        try:
            self.sock.send(data)
            return
        except ssl.SSLWantWriteError:
            events = select.POLLOUT
        except ssl.SSLWantReadError:  # a renegotiation wants the client's bytes first
            events = select.POLLIN
        except (OSError, ValueError) as exc:
            raise ClientDisconnected(str(exc)) from exc
        try:
            self._retry_send(data, events)
        finally:
            self._poller.modify(self.sock, select.POLLIN)  # what fill() and has_pending_bytes() wait for

    def _retry_send(self, data: bytes, events: int) -> None:
        """Send `data` again each time the socket is ready for `events`, until write_timeout without."""
        deadline = time.monotonic() + self._write_timeout
        while True:
            remaining = deadline - time.monotonic()
            self._poller.modify(self.sock, events)
            if remaining <= 0 or not self._poller.poll(remaining * 1000):
                raise ClientDisconnected(f"client read nothing for {self._write_timeout:g} seconds")
            deadline = time.monotonic() + self._write_timeout  # ready again: the client took bytes
            try:
                self.sock.send(data)
                return
            except ssl.SSLWantWriteError:
                events = select.POLLOUT
            except ssl.SSLWantReadError:
                events = select.POLLIN
            except (OSError, ValueError) as exc:
                raise ClientDisconnected(str(exc)) from exc

    def send_now(self, data: bytes) -> None:
        """The dispatcher's 408: never blocks (the socket is non-blocking); lost if there is no room."""
        with contextlib.suppress(OSError, ValueError):
            self.sock.send(data)

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
