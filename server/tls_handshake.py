"""TLS handshakes, driven step by step on the dispatcher thread, so that none ever holds a worker thread.

    accept ──► HandshakeDriver.start: wrap the socket ──► step ──┬─ wants to read/write: in the selector,
                                                                 │  with header_timeout from the accept
               the selector says ready ──► HandshakeDriver.advance ──► step ──┤
                                                                 ├─ done: a TLSConnection, to a worker
                                                                 └─ failed (plain HTTP to a TLS port, a
                                                                    reset): closed; a stall: expired

Main thread only, like everything the selector holds. The driver owns no selector, heap or counter of
its own: the dispatcher passes in what it may do to them (register in its selector, set a deadline,
hand a connection on, count connections opened and closed).
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from server.config import Config
from server.connection import Connection
from server.tls import TLSConnection

if TYPE_CHECKING:
    from server.listener import Listener

__all__ = ["Handshake", "HandshakeDriver"]

log = logging.getLogger(__name__)


class Handshake:
    """A TLS connection whose handshake is under way: driven by the dispatcher, never by a thread.

    It has what the dispatcher's deadline heap and drain need of a parked connection (`sock`,
    `park_gen`, `buf`, `closing`, `close`, `has_pending_bytes`); its deadline is header_timeout.
    """

    __slots__ = ("sock", "address", "park_gen", "buf", "closing", "listener", "events")

    def __init__(self, sock: ssl.SSLSocket, address: tuple, listener: Listener) -> None:
        self.sock = sock
        self.address = address
        self.listener = listener
        self.park_gen = 0
        self.buf = bytearray()  # always empty: nothing to answer 408 to on expiry, just close
        self.closing = False
        self.events = 0

    def step(self) -> bool | None:
        """Advance the handshake without blocking: True done, None not yet (see `events`), False failed.

        A client speaking plain HTTP to a TLS port fails here (OpenSSL: "http request") and is closed.
        """
        try:
            self.sock.do_handshake()
        except ssl.SSLWantReadError:
            self.events = selectors.EVENT_READ
            return None
        except ssl.SSLWantWriteError:
            self.events = selectors.EVENT_WRITE
            return None
        except (OSError, ValueError):  # ssl.SSLError is an OSError; so are resets
            return False
        return True  # the socket stays non-blocking: see TLSConnection

    def has_pending_bytes(self) -> bool:
        return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class HandshakeDriver:
    """Starts and advances the handshakes of a dispatcher's TLS listeners (main thread only)."""

    def __init__(
        self,
        selector: selectors.BaseSelector,
        config: Config,
        *,
        expire_at: Callable[[Handshake, float], None],  # its deadline in the selector (replaces any earlier)
        unpark: Callable[[Handshake], None],  # out of the selector; its deadline is stale from now on
        admit: Callable[[TLSConnection, Listener], None],  # a new connection, ready for requests: to a worker
        opened: Callable[[], None],  # one more connection counts against max_connections
        closed: Callable[[], None],  # one fewer
    ) -> None:
        self._selector = selector
        self._config = config
        self._rcvtimeo, self._sndtimeo = Connection.socket_timeouts(config)
        self._expire_at = expire_at
        self._unpark = unpark
        self._admit = admit
        self._opened = opened
        self._closed = closed

    def start(self, sock: socket.socket, address: tuple, listener: Listener) -> None:
        """Wrap a newly accepted socket of a TLS `listener` and take its handshake's first step."""
        try:
            sock.setblocking(False)
            tls = listener.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)  # type: ignore[union-attr]
        except OSError:
            sock.close()
            return
        self._opened()
        handshake = Handshake(tls, address, listener)
        if self.advance(handshake, True):
            return
        # header_timeout from the accept: a client that stalls its handshake is dropped like a slowloris
        self._expire_at(handshake, time.monotonic() + self._config.header_timeout)

    def advance(self, handshake: Handshake, first: bool = False) -> bool:
        """One non-blocking handshake step; True once it has ended (done: to a worker; failed: closed)."""
        done = handshake.step()
        if done is None:
            if first:
                self._selector.register(handshake.sock, handshake.events, handshake)
            else:
                self._selector.modify(handshake.sock, handshake.events, handshake)
            return False
        if not first:
            self._unpark(handshake)
        if done:
            try:
                conn = TLSConnection(handshake.sock, handshake.address, self._config, self._rcvtimeo,
                                     self._sndtimeo)  # fmt: skip
            except OSError:
                done = False
            else:
                self._admit(conn, handshake.listener)
                return True
        log.debug("TLS handshake with %s failed", handshake.address)
        handshake.close()
        self._closed()
        return True
