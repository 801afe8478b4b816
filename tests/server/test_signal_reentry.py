"""A stop signal that arrives while another signal's handler is still running must not deadlock.

A worker being replaced gets RETIRE_SIGNAL (its handler calls Server.retire()); if the arbiter stops
right then, STOP_SIGNAL's handler (Server.shutdown()) runs on the same thread, between any two
bytecodes of the first. Seen once under the full suite: retire() was inside threading.Event.set, holding
its lock, when shutdown() called Event.set again -- the worker hung for good, even after its parent
died. The test interrupts retire() at every line it runs, one run per line, with a shutdown() as the
signal would (the trace function runs on the same thread, as a signal handler does).
"""

from __future__ import annotations

import sys
import threading

from server.config import Config
from server.serving import Server

DEADLINE = 10.0  # seconds for one interrupted retire(); a deadlock never ends


def _app(environ, start_response):
    start_response("200 OK", [("Content-Length", "0")])
    return [b""]


def _retire_interrupted_at(step: int) -> tuple[bool, bool]:
    """retire() with a shutdown() at its `step`-th line event (in any function it calls); returns
    (finished within DEADLINE, a shutdown() was fired)."""
    server = Server(_app, Config(host="127.0.0.1", port=0, threads=1, access_log=False))
    fired = threading.Event()

    def run() -> None:
        seen = 0

        def tracer(frame, event, arg):
            nonlocal seen
            if event == "line":
                if seen == step and not fired.is_set():
                    fired.set()
                    server.shutdown()  # the tracer itself is not traced, as a handler is not interrupted
                seen += 1
            return tracer

        sys.settrace(tracer)
        try:
            server.retire()
        finally:
            sys.settrace(None)

    thread = threading.Thread(target=run, daemon=True)  # daemon: a deadlocked one must not hang pytest
    thread.start()
    thread.join(DEADLINE)
    finished = not thread.is_alive()
    if finished:
        server.close()
    return finished, fired.is_set()


def test_a_stop_signal_during_retire_never_deadlocks() -> None:
    interrupted = 0
    for step in range(500):  # retire() runs a handful of lines; the bound only stops a runaway loop
        finished, fired = _retire_interrupted_at(step)
        assert finished, f"retire() interrupted by shutdown() at its line event {step} never returned"
        if not fired:  # retire() ran fewer lines than `step`: every point has been tried
            break
        interrupted += 1
    assert interrupted >= 2  # retire() and what it calls ran at least two lines, each interrupted
