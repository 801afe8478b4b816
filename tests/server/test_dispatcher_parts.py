"""The dispatcher's parts that work alone: its deadline heap, the hand-back queue, the body receiver.

Real sockets (socketpairs) throughout; the "dispatcher" a part talks to is a recorder of the calls it
makes (unpark, set a deadline, to a worker, closed), which is all a part may do to the dispatcher.
"""

from __future__ import annotations

import select
import socket

import pytest

from server.body_receiver import RECEIVE_STEPS, BodyReceiver
from server.body_spool import BodySpool
from server.config import Config
from server.connection import Connection
from server.deadlines import Deadlines
from server.handback import HandBack
from server.http11 import HeadParser, body_reader
from tests.server.client import WAIT

# --- Deadlines --------------------------------------------------------------------------------------------


class _Item:
    def __init__(self, name: str) -> None:
        self.name = name
        self.park_gen = 0


def test_deadlines_expire_in_time_order_and_only_once_due():
    deadlines = Deadlines()
    late, early = _Item("late"), _Item("early")
    deadlines.set(late, 20.0)
    deadlines.set(early, 10.0)
    assert deadlines.first() == 10.0
    assert [item.name for item in deadlines.expired(9.9)] == []
    assert [item.name for item in deadlines.expired(15.0)] == ["early"]
    assert [item.name for item in deadlines.expired(25.0)] == ["late"]
    assert deadlines.first() is None


def test_a_replaced_or_cancelled_deadline_never_expires():
    deadlines = Deadlines()
    moved, cancelled = _Item("moved"), _Item("cancelled")
    deadlines.set(moved, 10.0)
    deadlines.set(moved, 30.0)  # re-parked: the 10 s entry is stale
    deadlines.set(cancelled, 10.0)
    cancelled.park_gen += 1  # unparked (the dispatcher's _unpark)
    assert [item.name for item in deadlines.expired(20.0)] == []
    assert [item.name for item in deadlines.expired(30.0)] == ["moved"]


# --- HandBack ---------------------------------------------------------------------------------------------


def _readable(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def test_hand_back_wakes_once_per_round_and_never_loses_an_item():
    handback = HandBack()
    try:
        assert not _readable(handback.wake_socket)
        handback.put("a")
        handback.put("b")  # coalesced: one wake-up byte for both
        assert handback.wake_socket.recv(16, socket.MSG_PEEK) == b"\0"
        assert handback.take() == ["a", "b"]
        assert not _readable(handback.wake_socket)
        handback.put("c")  # after a take, the next put wakes the selector again
        assert _readable(handback.wake_socket)
        assert handback.take() == ["c"]
        assert handback.take() == []
    finally:
        handback.close()


# --- BodyReceiver -----------------------------------------------------------------------------------------


class _Dispatcher:
    """Records what the receiver asks of the dispatcher."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def expire_at(self, conn, when) -> None:
        self.calls.append("expire_at")

    def unpark(self, conn) -> None:
        self.calls.append("unpark")

    def to_worker(self, conn) -> None:
        self.calls.append("to_worker")

    def closed(self) -> None:
        self.calls.append("closed")


@pytest.fixture
def receiving():
    """(start(head, config) -> (receiver, conn, client socket), recorder); sockets closed afterwards."""
    sockets: list[socket.socket] = []
    dispatcher = _Dispatcher()

    def start(head_bytes: bytes, config: Config) -> tuple[BodyReceiver, Connection, socket.socket]:
        ours, client = socket.socketpair()
        client.settimeout(WAIT)
        sockets.extend((ours, client))
        conn = Connection(ours, ("127.0.0.1", 5000), config, *Connection.socket_timeouts(config))
        head = HeadParser(config).maybe_read(bytearray(head_bytes))
        assert head is not None
        conn.receiving = BodySpool(head, body_reader(head, config), config)
        receiver = BodyReceiver(config, expire_at=dispatcher.expire_at, unpark=dispatcher.unpark,
                                to_worker=dispatcher.to_worker, closed=dispatcher.closed)  # fmt: skip
        return receiver, conn, client

    yield start, dispatcher
    for sock in sockets:
        sock.close()


def test_one_wake_up_takes_a_bounded_part_of_a_body(receiving):
    """A body already there in full is taken RECEIVE_STEPS recv()s at a time: others get their turn."""
    start, dispatcher = receiving
    config = Config(recv_size=16)
    size = 16 * RECEIVE_STEPS + 10
    receiver, conn, client = start(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size, config)
    client.sendall(b"x" * size)
    receiver.receive(conn)
    assert dispatcher.calls == ["expire_at"]  # still receiving, its body timeout restarted
    assert conn.receiving.size == 16 * RECEIVE_STEPS
    receiver.receive(conn)
    assert dispatcher.calls == ["expire_at", "unpark", "to_worker"]
    assert conn.receiving.as_input().read() == b"x" * size


def test_a_chunked_body_is_received_de_chunked(receiving):
    start, dispatcher = receiving
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    receiver, conn, client = start(head, Config())
    client.sendall(b"5\r\nhello\r\n")
    receiver.receive(conn)
    assert dispatcher.calls == ["expire_at"]
    client.sendall(b"6\r\n world\r\n0\r\n\r\nGET /next")  # the next request's bytes stay in the buffer
    receiver.receive(conn)
    assert dispatcher.calls == ["expire_at", "unpark", "to_worker"]
    assert (conn.receiving.size, conn.receiving.as_input().read()) == (11, b"hello world")
    assert conn.buf == b"GET /next"


def test_a_body_past_the_limit_is_refused_with_413_and_closed(receiving):
    start, dispatcher = receiving
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    receiver, conn, client = start(head, Config(max_body_bytes=8))
    client.sendall(b"9\r\n123456789\r\n")
    receiver.receive(conn)
    assert dispatcher.calls == ["unpark", "closed"]
    assert conn.receiving is None
    assert client.recv(4096).startswith(b"HTTP/1.1 413 ")


def test_a_client_that_leaves_mid_body_is_closed_without_an_answer(receiving):
    start, dispatcher = receiving
    receiver, conn, client = start(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", Config())
    client.sendall(b"abc")
    client.shutdown(socket.SHUT_WR)
    receiver.receive(conn)
    assert dispatcher.calls == ["unpark", "closed"]
    assert client.recv(4096) == b""  # closed, nothing sent


def test_a_silent_body_times_out_with_408(receiving):
    start, dispatcher = receiving
    receiver, conn, client = start(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", Config())
    receiver.timed_out(conn)  # the dispatcher calls it once the deadline has passed (and unparked it)
    assert dispatcher.calls == ["closed"]
    answer = client.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408 ") and b"no request body bytes for 30 seconds" in answer
