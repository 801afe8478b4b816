"""TLS handshakes, driven step by step on the dispatcher thread, so that none ever holds a worker thread.

    accept ──► HandshakeDriver.start: a `server.tls.Handshake`, its first step
    selector: readable/writable ──► HandshakeDriver.advance: the next step
    each step ──┬─ wants to read or write: (stays) in the selector, header_timeout from the accept
                ├─ done: a TLSConnection, to a worker
                └─ failed (plain HTTP to a TLS port, a reset): closed; stalled: expired by the dispatcher

Main thread only, like everything the selector holds. The driver owns no selector, heap or counter of
its own: the dispatcher passes in what it may do to them (register in its selector, set a deadline,
hand a connection on, count connections opened and closed).
"""

from __future__ import annotations

import logging
import selectors
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from server.config import Config
from server.connection import Connection
from server.tls import Handshake, TLSConnection

if TYPE_CHECKING:
    from server.listener import Listener

__all__ = ["HandshakeDriver"]

log = logging.getLogger(__name__)


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
            handshake = Handshake(sock, listener.tls, address, listener, self._config.recv_size)  # type: ignore[arg-type]
        except OSError:  # ssl.SSLError included
            sock.close()
            return
        self._opened()
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
                                     self._sndtimeo, handshake.tls, handshake.incoming,
                                     handshake.outgoing)  # fmt: skip
            except OSError:
                done = False
            else:
                self._admit(conn, handshake.listener)
                return True
        log.debug("TLS handshake with %s failed", handshake.address)
        handshake.close()
        self._closed()
        return True
