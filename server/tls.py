"""TLS with the standard `ssl` module: the server's context, built once from the Config.

    --certfile/--keyfile (+ --ca-certs/--cert-reqs) ──► server_context() ──► ssl.SSLContext | None

TLS 1.2 is the minimum (RFC 8996 deprecates 1.0 and 1.1); ALPN offers only "http/1.1" (RFC 7301), so
a client that wants h2 falls back instead of failing.

All TLS I/O is here: a `Handshake` (one non-blocking step at a time, which the dispatcher thread drives:
`server.tls_handshake`, so a slow or silent client never holds a thread), then a `TLSConnection`.
Both let OpenSSL work on memory buffers (`ssl.MemoryBIO`) and move the bytes with plain socket calls.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import ssl
from typing import TYPE_CHECKING

from server.config import Config
from server.connection import ClientDisconnected, Connection

if TYPE_CHECKING:
    from server.listener import Listener

__all__ = ["CERT_REQS", "Handshake", "TLSConnection", "server_context"]

CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
# Plaintext encrypted per step of a large send: bounds the ciphertext held at once (a 64 MiB body would
# otherwise be copied whole), large enough that the steps cost nothing next to the encryption.
ENCRYPT_BLOCK = 256 * 1024
_DONTWAIT = socket.MSG_DONTWAIT


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


class Handshake:
    """A TLS connection whose handshake is under way: driven by the dispatcher, never by a thread.

    OpenSSL works on memory buffers (see `TLSConnection`); the non-blocking plain socket carries the
    bytes. It has what the dispatcher's deadline heap and drain need of a parked connection (`sock`,
    `park_gen`, `buf`, `closing`, `close`, `has_pending_bytes`); its deadline is header_timeout.
    """

    __slots__ = ("sock", "tls", "incoming", "outgoing", "unsent", "address", "park_gen", "buf", "closing",
                 "listener", "events", "_recv_size")  # fmt: skip

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, address: tuple, listener: Listener,
                 recv_size: int) -> None:  # fmt: skip
        self.sock = sock
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.unsent = b""  # our part of the handshake that the socket could not take yet
        self.address = address
        self.listener = listener
        self.park_gen = 0
        self.buf = bytearray()  # always empty: nothing to answer 408 to on expiry, just close
        self.closing = False
        self.events = 0
        self._recv_size = recv_size

    def step(self) -> bool | None:
        """Advance the handshake without blocking: True done, None not yet (see `events`), False failed.

        A client speaking plain HTTP to a TLS port fails here (OpenSSL: "http request") and is closed.
        """
        try:
            while raw := self.sock.recv(self._recv_size):
                self.incoming.write(raw)
            return False  # the client closed before the handshake ended
        except BlockingIOError:  # all that has arrived is in `incoming`
            pass
        except OSError:  # a reset
            return False
        try:
            self.tls.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            done = False
        except (ssl.SSLError, ValueError):
            self._flush()  # the alert that says why, if the socket takes it
            return False
        if not self._flush():
            return False
        if self.unsent:
            self.events = selectors.EVENT_WRITE
            return None
        if done:
            self.sock.setblocking(True)  # served by a worker from now on, with kernel timeouts
            return True
        self.events = selectors.EVENT_READ
        return None

    def _flush(self) -> bool:
        """Send what OpenSSL has written so far, as much as the socket takes; False if it is reset."""
        self.unsent += self.outgoing.read()
        if self.unsent:
            try:
                sent = self.sock.send(self.unsent)
            except BlockingIOError:
                sent = 0
            except OSError:
                return False
            self.unsent = self.unsent[sent:]
        return True

    def has_pending_bytes(self) -> bool:
        return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class TLSConnection(Connection):
    """A Connection over TLS: OpenSSL works on memory buffers, the plain Connection moves the bytes.

    The socket is a plain one: what arrives is written into an `ssl.MemoryBIO` and decrypted from
    there; what goes out is encrypted into another and sent with `Connection.send`. So TLS has the
    same system calls, kernel timeouts and write_timeout (time without progress, with MSG_DONTWAIT and
    poll) as plain TCP, and MSG_MORE still joins a head to its body. (An SSLSocket cannot: it ignores
    send flags, and in blocking mode a send that hits SO_SNDTIMEO is retried inside the ssl module
    for ever, so a client that stopped reading held a worker thread for good.)

    - Bytes received but not yet decrypted, or decrypted but not yet read, wait in the BIO or in
      OpenSSL, where epoll cannot see them: `fill` looks there before asking the kernel, so a
      connection is never parked with a request already received.
    - No sendfile: the file is read (os.pread), encrypted and sent.
    - A large send is encrypted ENCRYPT_BLOCK at a time, so it holds that much ciphertext at most.
    """

    __slots__ = ("_tls", "_incoming", "_outgoing")

    def __init__(self, sock: socket.socket, address: tuple, config: Config, rcvtimeo: bytes, sndtimeo: bytes,
                 tls: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO) -> None:  # fmt: skip
        super().__init__(sock, address, config, rcvtimeo, sndtimeo)
        self._tls = tls
        self._incoming = incoming
        self._outgoing = outgoing

    def fill(self, wait: bool) -> bool:
        if self._incoming.pending or self._tls.pending():  # received earlier (with the handshake, say)
            data = self._decrypt()
            if data:
                self.buf += data
                return True
        try:
            raw = self.sock.recv(self._recv_size, 0 if wait else _DONTWAIT)
        except BlockingIOError:  # EAGAIN: nothing yet (the SO_RCVTIMEO step or MSG_DONTWAIT)
            return False
        except OSError as exc:
            raise ClientDisconnected(str(exc)) from exc
        if not raw:
            raise ClientDisconnected("peer closed the connection")
        self._incoming.write(raw)
        data = self._decrypt()
        if not data:
            return False  # half a record so far
        self.buf += data
        return True

    def _decrypt(self) -> bytes:
        """The plaintext of every whole record received so far (b"" if there is none yet)."""
        tls, incoming = self._tls, self._incoming
        chunks = []
        try:
            while True:
                chunks.append(tls.read(self._recv_size))
                if not (tls.pending() or incoming.pending):
                    break
        except ssl.SSLWantReadError:  # the rest of a record is on its way
            pass
        except ssl.SSLZeroReturnError:  # close_notify: the client is done
            if not chunks:
                raise ClientDisconnected("peer closed the TLS session") from None
        except (ssl.SSLError, ValueError) as exc:
            raise ClientDisconnected(str(exc)) from exc
        if self._outgoing.pending:  # OpenSSL's own answer to what it read (a TLS 1.3 KeyUpdate, say)
            super().send(self._outgoing.read())
        return b"".join(chunks)

    def has_pending_bytes(self) -> bool:
        return bool(self._incoming.pending or self._tls.pending()) or super().has_pending_bytes()

    def send(self, data: bytes, more: bool = False) -> None:
        tls, outgoing = self._tls, self._outgoing
        try:
            if len(data) <= ENCRYPT_BLOCK:
                tls.write(data)
                super().send(outgoing.read(), more)
                return
            view = memoryview(data)
            for start in range(0, len(view), ENCRYPT_BLOCK):
                tls.write(view[start : start + ENCRYPT_BLOCK])
                super().send(outgoing.read(), more or start + ENCRYPT_BLOCK < len(view))
        except (ssl.SSLError, ValueError) as exc:
            raise ClientDisconnected(str(exc)) from exc

    def send_now(self, data: bytes) -> None:
        """The dispatcher's 408: encrypted, then sent without ever blocking (lost if there is no room)."""
        with contextlib.suppress(ssl.SSLError, ValueError):
            self._tls.write(data)
            super().send_now(self._outgoing.read())

    def sendfile(self, fd: int, offset: int, count: int) -> int:
        sent = 0
        while sent < count:
            block = os.pread(fd, min(self._sendfile_chunk, count - sent), offset + sent)
            if not block:
                break  # the file shrank
            self.send(block)
            sent += len(block)
        return sent
