"""The drain (server.drain) alone: what it closes and keeps, when, and when it is over.

Real connections on socketpairs; the "dispatcher" is a recorder of what the drain asks of it (stop
accepting, close a parked connection, stop the threads), which is all the drain may do. The end-to-end
behaviour (signals, real clients, the arbiter) is in test_arbiter_stop.py and test_stop_signal_threads.py.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest

from server.body_spool import BodySpool
from server.config import Config
from server.connection import Connection
from server.drain import Drain, silent
from server.http11 import HeadParser, body_reader

GRACE = 20.0
FIRST_REQUEST = 2.0
UPLOAD_HEAD = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\n"  # its body has not arrived


class _Dispatcher:
    """What a drain sees of its dispatcher: parked connections, counts, and a record of its calls."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.parked: list[Connection] = []
        self.open = 0
        self.threads = 2
        self.calls: list[str] = []
        self.drain = Drain(config, stop_accepting=lambda: self.calls.append("stop accepting"),
                           parked=lambda: list(self.parked), close=self._close,
                           stop_threads=lambda: self.calls.append("stop threads"),
                           open_count=lambda: self.open, threads_left=lambda: self.threads)  # fmt: skip

    def _close(self, conn: Connection) -> None:
        self.parked.remove(conn)
        conn.close()
        self.open -= 1
        self.calls.append("close")


@pytest.fixture
def config() -> Config:
    return Config(graceful_timeout=GRACE, drain_first_request=FIRST_REQUEST)


@pytest.fixture
def dispatcher(config: Config) -> Iterator[_Dispatcher]:
    made = _Dispatcher(config)
    peers: list[socket.socket] = []

    def park(requests: int = 0, buf: bytes = b"", closing: bool = False, body: bool = False) -> Connection:
        ours, theirs = socket.socketpair()
        peers.append(theirs)
        rcv, snd = Connection.socket_timeouts(config)
        conn = Connection(ours, ("127.0.0.1", 50000), config, rcv, snd)
        conn.requests, conn.buf, conn.closing = requests, bytearray(buf), closing
        if body:  # a request body on its way, received by the dispatcher
            head = HeadParser(config).maybe_read(bytearray(UPLOAD_HEAD))
            assert head is not None
            conn.receiving = BodySpool(head, body_reader(head, config), config)
        made.parked.append(conn)
        made.open += 1
        return conn

    made.park = park  # type: ignore[attr-defined]
    yield made
    for conn in made.parked:
        if conn.receiving is not None:
            conn.receiving.close()
        conn.close()
    for peer in peers:
        peer.close()


def test_nothing_happens_before_a_stop_is_requested(dispatcher):
    drain = dispatcher.drain
    assert not drain.requested and drain.deadline is None and drain.due is None and not drain.swept
    assert not drain.finished()
    assert dispatcher.calls == []


def test_the_first_step_stops_accepting_once_and_sets_the_deadlines(dispatcher):
    drain = dispatcher.drain
    dispatcher.park(requests=1)  # something open: the threads are not stopped yet
    drain.request(None, keep_idle=False)
    drain.step(100.0)
    drain.step(100.5)
    assert dispatcher.calls == ["stop accepting"]
    assert drain.deadline == 100.0 + GRACE
    assert drain.due == 100.0 + FIRST_REQUEST  # the dispatcher wakes at the end of the window


def test_a_shorter_grace_bounds_the_drain_and_the_first_request_window(dispatcher):
    drain = dispatcher.drain
    drain.request(1.0, keep_idle=False)
    drain.request(None, keep_idle=False)  # a later stop without a grace keeps the shorter one
    drain.request(5.0, keep_idle=False)  # and so does one with a longer grace
    drain.step(10.0)
    assert drain.deadline == 11.0 and drain.due == 11.0


def test_silent_connections_get_the_first_request_window_then_are_closed(dispatcher):
    drain = dispatcher.drain
    new, idle = dispatcher.park(requests=0), dispatcher.park(requests=3)
    half_head = dispatcher.park(requests=3, buf=b"GET / HT")
    lingering = dispatcher.park(requests=1, closing=True)
    uploading = dispatcher.park(requests=1, body=True)
    drain.request(None, keep_idle=False)
    drain.step(100.0)
    drain.step(100.0 + FIRST_REQUEST - 0.01)
    assert dispatcher.parked == [new, idle, half_head, lingering, uploading] and not drain.swept
    drain.step(100.0 + FIRST_REQUEST)
    assert dispatcher.parked == [half_head, lingering, uploading]  # what is under way goes on
    assert drain.swept and drain.due == drain.deadline
    assert dispatcher.calls == ["stop accepting", "close", "close"]
    assert silent(new) and not any(silent(conn) for conn in (half_head, lingering, uploading))
    # Parked after the sweep (the dispatcher asks closes()): the same rule.
    assert drain.closes(new) and drain.closes(idle) and not drain.closes(half_head)


def test_a_retiring_process_keeps_idle_keep_alive_connections_until_a_plain_stop(dispatcher):
    drain = dispatcher.drain
    new, idle = dispatcher.park(requests=0), dispatcher.park(requests=3)
    drain.request(None, keep_idle=True)
    drain.step(100.0)
    drain.step(100.0 + FIRST_REQUEST)
    assert dispatcher.parked == [idle]  # the new silent one is closed; the idle one may still be used
    assert not drain.closes(idle) and drain.closes(new)
    drain.step(100.0 + FIRST_REQUEST + 1)
    assert dispatcher.parked == [idle]
    drain.request(None, keep_idle=False)  # SIGINT after SIGTERM (the arbiter stopping): close them after all
    drain.step(100.0 + FIRST_REQUEST + 2)
    assert dispatcher.parked == []
    assert drain.closes(idle)


def test_keep_idle_holds_only_if_every_request_asked_for_it(dispatcher):
    drain = dispatcher.drain
    idle = dispatcher.park(requests=3)
    drain.request(None, keep_idle=False)
    drain.request(None, keep_idle=True)  # a retire after a stop does not bring idle connections back
    drain.step(100.0)
    drain.step(100.0 + FIRST_REQUEST)
    assert idle not in dispatcher.parked


def test_the_threads_are_stopped_once_nothing_is_open_and_only_once(dispatcher):
    drain = dispatcher.drain
    busy = dispatcher.park(requests=1, buf=b"POST / HTTP/1.1\r\n")
    drain.request(None, keep_idle=False)
    drain.step(100.0)
    drain.step(100.0 + FIRST_REQUEST)
    assert "stop threads" not in dispatcher.calls
    dispatcher.parked.remove(busy)  # its request was served and the connection closed
    busy.close()
    dispatcher.open -= 1
    drain.step(100.0 + FIRST_REQUEST + 1)
    drain.step(100.0 + FIRST_REQUEST + 2)
    drain.request(None, keep_idle=False)  # a second signal after the threads were told
    drain.step(100.0 + FIRST_REQUEST + 3)
    assert dispatcher.calls.count("stop threads") == 1


def test_finished_when_every_thread_has_left(dispatcher):
    drain = dispatcher.drain
    drain.request(None, keep_idle=False)
    drain.step(time.monotonic())
    assert not drain.finished()
    dispatcher.threads = 1
    assert not drain.finished()
    dispatcher.threads = 0
    assert drain.finished()


def test_finished_at_the_graceful_timeout_with_a_warning(dispatcher, caplog):
    drain = dispatcher.drain
    dispatcher.park(requests=1, buf=b"GET")
    drain.request(None, keep_idle=False)
    drain.step(time.monotonic() - GRACE)  # begun GRACE seconds ago: its deadline is now
    with caplog.at_level(logging.WARNING, logger="server.drain"):
        assert drain.finished()
    assert [r.getMessage() for r in caplog.records] == [
        "graceful timeout: abandoning 1 connections still in progress"
    ]


def test_shorten_moves_a_begun_drain_closer_and_is_ignored_before(dispatcher):
    drain = dispatcher.drain
    drain.shorten(50.0)
    assert drain.deadline is None and drain.due is None
    drain.request(None, keep_idle=False)
    drain.step(100.0)
    drain.shorten(101.0)  # inside the first-request window: the window ends with the drain
    assert drain.deadline == 101.0 and drain.due == 101.0
    drain.shorten(150.0)  # never later than it was
    assert drain.deadline == 101.0
