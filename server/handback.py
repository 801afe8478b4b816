"""Connections handed back from worker threads to the dispatcher thread, and the wake-up that says so.

    worker: park(conn) ──► HandBack.put: a deque, then one byte on a socketpair
    dispatcher: the socketpair's read end is readable in its selector ──► HandBack.take() ──► parked
    any thread, a signal handler: call_soon(fn) ──► a second deque, the same wake-up ──► run_calls()

The wake-up is coalesced: while one byte is pending, no worker writes another. That is safe because
the dispatcher clears the flag *before* it empties the queue, and a worker queues *before* it reads the
flag: a connection queued after the flag was cleared is either taken in this round or wakes the next.

The queue is a `collections.deque`: its append and popleft are atomic in CPython, and with one taker
(the dispatcher) a length it has seen can only grow under it, so taking needs neither a lock nor an
exception at the end (`SimpleQueue.get_nowait` raises Empty, which costs more than the rest of a take).
Calls are made after the connections are taken, so the same argument covers them.
"""

from __future__ import annotations

import queue
import socket
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["HandBack", "take_all"]


def take_all(items: queue.SimpleQueue) -> list[Any]:
    """What `items` holds now, taken out without waiting."""
    taken = []
    while True:
        try:
            taken.append(items.get_nowait())
        except queue.Empty:
            return taken


class HandBack:
    """A queue any thread may put into and only the dispatcher thread takes from, with its wake-up."""

    __slots__ = ("_queue", "_calls", "_reader", "_writer", "_pending")

    def __init__(self) -> None:
        self._queue: deque[Any] = deque()
        self._calls: deque[Callable[[], object]] = deque()
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._pending = False

    @property
    def wake_socket(self) -> socket.socket:
        """The end to watch for reading in the dispatcher's selector."""
        return self._reader

    @property
    def wake_fd(self) -> int:
        """The end a wake-up is written to (non-blocking), for `signal.set_wakeup_fd`."""
        return self._writer.fileno()

    def put(self, item: Any) -> None:
        """Hand `item` to the dispatcher thread (any thread)."""
        self._queue.append(item)
        self.wake()

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Have `callback` (which must not raise) run on the dispatcher thread at its next wake-up.

        Any thread, and signal handlers, which must not log themselves: logging takes locks and writes
        to buffered streams that the code the signal interrupted, on the same thread, may be using.
        """
        self._calls.append(callback)
        self.wake()

    def run_calls(self) -> None:
        """Make the calls asked for so far (dispatcher thread: after take(), and once more at the end)."""
        calls = self._calls
        while calls:
            calls.popleft()()

    def wake(self) -> None:
        """Make the dispatcher's select() return soon (any thread, a signal handler too)."""
        if not self._pending:
            self._pending = True
            try:  # noqa: SIM105 - not contextlib.suppress: that is three calls more on every park
                self._writer.send(b"\0")
            except OSError:  # buffer full (a wake-up is pending anyway) or closed
                pass

    def take(self) -> list[Any]:
        """Everything handed back so far (dispatcher thread, once its wake socket is readable)."""
        try:
            while self._reader.recv(4096):
                pass
        except BlockingIOError:
            pass
        self._pending = False
        items = self._queue
        return [items.popleft() for _ in range(len(items))]

    def leftovers(self) -> list[Any]:
        """Empty the queue without reading the wake-up bytes (at close)."""
        items = self._queue
        return [items.popleft() for _ in range(len(items))]

    def close(self) -> None:
        self._reader.close()
        self._writer.close()
