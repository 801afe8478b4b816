"""Signal handlers of the single-process server never log: the serving loop logs for them.

A Python signal handler runs on the main thread between two bytecodes of whatever it interrupted,
which may be a logging call on that same thread: logging from the handler then re-enters that
handler's stream write (it raises) or its lock (a plain lock deadlocks). So `install_signal_handlers`'
handlers only queue the message (Server.call_soon -> Dispatcher.call_soon), and the dispatcher's loop
logs it. In process, on the main thread, with the handlers restored afterwards.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from server.config import Config
from server.handback import HandBack
from server.serving import Server, install_signal_handlers
from tests.server.client import WAIT

_INSTALLED = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU)


def _app(environ, start_response):
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


class _Recorder(logging.Handler):
    """Each record's message, and whether the SIGHUP handler was on the stack when it was emitted."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, bool, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        handler_code = getattr(signal.getsignal(signal.SIGHUP), "__code__", None)
        frame, in_handler = sys._getframe(), False
        while frame is not None:
            in_handler = in_handler or frame.f_code is handler_code
            frame = frame.f_back
        self.records.append((record.getMessage(), in_handler, threading.current_thread().name))

    def messages(self, word: str) -> list[tuple[str, bool, str]]:
        return [entry for entry in self.records if word in entry[0]]


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    """Records server.serving's log; the process's signal handlers are put back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be installed on the main thread")
    saved = {signum: signal.getsignal(signum) for signum in _INSTALLED}
    logger = logging.getLogger("server.serving")
    made, level = _Recorder(), logger.level
    logger.addHandler(made)
    logger.setLevel(logging.INFO)
    try:
        yield made
    finally:
        logger.removeHandler(made)
        logger.setLevel(level)
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def _wait_for(recorder: _Recorder, word: str) -> None:
    deadline = time.monotonic() + WAIT
    while not recorder.messages(word) and time.monotonic() < deadline:
        time.sleep(0.01)


def test_an_ignored_signal_is_logged_by_the_serving_loop_not_by_its_handler(recorder):
    server = Server(_app, Config(host="127.0.0.1", port=0, threads=1, access_log=False))
    install_signal_handlers(server)
    os.kill(os.getpid(), signal.SIGHUP)  # before serving starts: the message waits for the dispatcher

    def then_sigttin_then_stop() -> None:
        try:
            _wait_for(recorder, "SIGHUP")
            os.kill(os.getpid(), signal.SIGTTIN)  # while serving: wakes the dispatcher's select()
            _wait_for(recorder, "SIGTTIN")
        finally:
            server.shutdown()

    helper = threading.Thread(target=then_sigttin_then_stop, name="helper")
    helper.start()
    server.serve_forever()  # the main thread, as under `serve()`
    helper.join(WAIT)
    main = threading.main_thread().name
    hint = "ignored: this server runs as one process; start it with --workers N (N >= 1) for SIGHUP reloads"
    assert recorder.messages("ignored") == [
        (f"SIGHUP {hint} and SIGTTIN/SIGTTOU", False, main),  # False: not logged inside the handler
        (f"SIGTTIN {hint} and SIGTTIN/SIGTTOU", False, main),
    ]


def test_call_soon_runs_on_the_serving_thread_whoever_asks(recorder):
    server = Server(_app, Config(host="127.0.0.1", port=0, threads=1, access_log=False))
    ran: list[str] = []

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + WAIT
        while len(ran) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    server.call_soon(lambda: ran.append(threading.current_thread().name))  # before serving
    serving = threading.Thread(target=server.serve_forever, name="serving")
    serving.start()
    try:
        wait_for(1)  # the dispatcher runs
        server.call_soon(lambda: ran.append(threading.current_thread().name))  # from this thread
        wait_for(2)
    finally:
        server.shutdown()
        serving.join(WAIT)
    assert ran == ["serving", "serving"]
    assert not serving.is_alive()


def test_hand_back_calls_wake_the_selector_and_run_in_order_once():
    handback = HandBack()
    ran: list[int] = []
    try:
        handback.call_soon(lambda: ran.append(1))
        handback.call_soon(lambda: ran.append(2))
        assert select.select([handback.wake_socket], [], [], 0)[0]  # the dispatcher's select() returns
        assert ran == []  # nothing runs on the asking thread
        assert handback.take() == []  # calls are not connections
        handback.run_calls()
        handback.run_calls()
        assert ran == [1, 2]
    finally:
        handback.close()
