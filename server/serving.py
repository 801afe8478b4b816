"""`Server` (bind, serve, shut down) and `serve()` (the same with signal handling), for the CLI and embedders.

    server = Server(app, Config(port=0))      # binds at once: server.port is known
    threading.Thread(target=server.serve_forever).start()
    ...
    server.shutdown()                          # from any thread: drain, then serve_forever() returns
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections import deque
from collections.abc import Callable
from functools import partial

from server.config import Config
from server.dispatcher import Dispatcher
from server.listener import Listener, listener_for, open_listeners, raise_fd_limit, server_name
from server.logfiles import LogFiles
from server.supervised import RETIRE_SIGNAL, WorkerLink, count_requests, worker_signals
from server.wsgi import WSGIHandler

__all__ = ["Server", "serve"]

log = logging.getLogger(__name__)

_IGNORED = ("%s ignored: this server runs as one process; start it with --workers N (N >= 1) for SIGHUP "
            "reloads and SIGTTIN/SIGTTOU")  # fmt: skip


class Server:
    """A WSGI server bound to its address; `serve_forever()` runs it until `shutdown()`.

    Under the arbiter (`config.supervised`, `workers > 1` or `reload`) this process only supervises:
    each worker process serves `app`, or, when `load` is given, the app `load()` imports in that
    worker (so SIGHUP loads new code; the arbiter itself never imports it).
    """

    def __init__(self, app: Callable | None, config: Config | None = None, *,
                 sock: socket.socket | None = None, listeners: list[Listener] | None = None,
                 load: Callable[[], Callable] | None = None,
                 logfiles: LogFiles | None = None) -> None:  # fmt: skip
        if app is None and load is None:
            raise TypeError("Server needs an app or a load() that imports one")
        self.app = app
        self._load = load
        self.logfiles = logfiles if logfiles is not None else LogFiles()
        self.config = config if config is not None else Config()
        if listeners is None:
            listeners = [listener_for(sock)] if sock is not None else open_listeners(self.config)
        self.listeners = listeners
        self.socket = listeners[0].sock  # the first listener (kept for callers that know only one)
        # host and port of the first TCP listener (port 0 and host "" for unix sockets only)
        tcp = [item.sock for item in listeners if item.sock.family != socket.AF_UNIX]
        address = tcp[0].getsockname() if tcp else ("", 0)
        self.host: str = address[0]
        self.port: int = address[1]
        # A plain flag, not a threading.Event: shutdown() and retire() run in signal handlers, and
        # Event.set takes a lock that the handler may have interrupted on this very thread (retire's set,
        # then the arbiter's stop signal: the worker deadlocked in its own handler, parent gone or not).
        self._stopping = False
        self._dispatcher: Dispatcher | None = None
        self._calls: deque[Callable[[], object]] = deque()  # call_soon()s not yet handed to the dispatcher
        self._arbiter = None

    @property
    def url(self) -> str:
        """The first listener's URL: http(s)://host:port/, or unix:PATH."""
        return self.listeners[0].url

    @property
    def supervised(self) -> bool:
        config = self.config
        return config.supervised or config.workers > 1 or config.reload

    def serve_forever(self) -> None:
        """Serve until shutdown() (or SIGTERM/SIGINT under `serve()`); returns after the drain.

        Under the arbiter this must run on the main thread (signals), and raises RuntimeError if the
        workers cannot load the app.
        """
        if self.supervised:
            from server.arbiter import Arbiter  # only the multi-process mode needs fork()

            sockets = [item.sock for item in self.listeners]
            self._arbiter = Arbiter(sockets, self._boot_worker, self.config, self.logfiles.reopen)
            try:
                if not self._stopping:
                    self._arbiter.run()
            finally:
                self.close()  # the arbiter closed the sockets; this also removes unix socket files
        else:
            self.serve_in_this_process()

    def _boot_worker(self, link: WorkerLink) -> None:
        """A forked worker process: load the app here, then serve until SIGTERM or the arbiter's death."""
        from server.arbiter import BootError

        config = self.config
        self._arbiter = None
        worker_signals(self.logfiles.reopen)
        app, also = self.app, []
        if self._load is not None and config.reload:
            from server import reloader

            app, also = reloader.load_or_fail(self._load)
        elif self._load is not None:
            try:
                app = self._load()
            except Exception:
                log.exception("worker process %d could not load the app", os.getpid())
                raise BootError from None
        if config.reload:
            from server import reloader

            reloader.watch(config.reload_extra, link.changed, config.reload_interval, also)
        if config.max_requests:
            app = count_requests(app, config.max_requests, config.max_requests_jitter, link.retire)
        _install_stop_handlers(self, retire_on=RETIRE_SIGNAL)
        log.info("worker process %d serving", os.getpid())
        self.serve_in_this_process(app, link)

    def serve_in_this_process(self, app: Callable | None = None,
                              supervision: WorkerLink | None = None) -> None:  # fmt: skip
        """The single-process server: the dispatcher on this thread, the workers beside it."""
        handler = WSGIHandler(app or self.app, self.config, server_name(self.config.host), self.port)
        fd_limit = raise_fd_limit(self.config)
        dispatcher = Dispatcher(self.listeners, handler, self.config, fd_limit, supervision)
        self._dispatcher = dispatcher
        if self._stopping:  # shutdown() came before the dispatcher existed
            dispatcher.shutdown()
        self._hand_over_calls(dispatcher)  # those made before it existed
        dispatcher.run()

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run `callback` on the serving thread soon (Dispatcher.call_soon; single-process mode). Safe
        from any thread and from a signal handler; made before serving starts, it waits for it."""
        self._calls.append(callback)
        dispatcher = self._dispatcher  # set before serve_in_this_process hands over: none is missed
        if dispatcher is not None:
            self._hand_over_calls(dispatcher)

    def _hand_over_calls(self, dispatcher: Dispatcher) -> None:
        calls = self._calls
        while True:  # maybe on two threads at once: popleft is atomic, so each call is handed over once
            try:
                callback = calls.popleft()
            except IndexError:
                return
            dispatcher.call_soon(callback)

    def shutdown(self) -> None:
        """Stop accepting, finish requests in flight (up to graceful_timeout), close idle connections.

        Safe from any thread and from a signal handler; serve_forever() returns when the drain is done.
        """
        self._stopping = True
        if self._dispatcher is not None:
            self._dispatcher.shutdown()
        if self._arbiter is not None:
            self._arbiter.stop()

    def retire(self) -> None:
        """shutdown() for a worker process being replaced (the arbiter's RETIRE_SIGNAL): others go on
        serving this address, so idle keep-alive connections stay open until their keep-alive timeout
        rather than be closed under a client that may be sending on them (Dispatcher.shutdown)."""
        self._stopping = True
        if self._dispatcher is not None:
            self._dispatcher.shutdown(keep_idle=True)

    def close(self) -> None:
        """Close the listeners of a server that never served (serve_forever closes them itself)."""
        for listener in self.listeners:
            listener.close()


def serve(app: Callable, config: Config | None = None, **changes: object) -> None:
    """Serve `app` until SIGINT/SIGTERM, then drain and return: `serve(app, port=8899, threads=32)`."""
    config = (config if config is not None else Config()).replace(**changes)
    server = Server(app, config)
    install_signal_handlers(server)
    log.info("serving %s on %s (threads=%d, workers=%d)", _app_name(app), server.url, config.threads,
             config.workers)  # fmt: skip
    server.serve_forever()


def install_signal_handlers(server: Server) -> None:
    """SIGINT and SIGTERM start a graceful shutdown; SIGUSR1 reopens the log files (main thread only).

    Under the arbiter, the arbiter takes every signal itself (server/arbiter.py). A single process
    cannot load new code without dropping what it serves, so SIGHUP is logged and ignored with a hint
    (never the default action, which would kill the server); so are SIGTTIN and SIGTTOU (whose default
    action would stop it).
    """
    if threading.current_thread() is not threading.main_thread() or server.supervised:
        return
    _install_stop_handlers(server)

    def on_reopen(signum: int, frame: object) -> None:
        server.logfiles.reopen()

    def on_ignored(signum: int, frame: object) -> None:
        # Logged by the dispatcher's loop, not here: the handler may interrupt a logging call on this
        # thread (a reentrant write to the same stream raises; a handler with a plain lock deadlocks).
        server.call_soon(partial(log.warning, _IGNORED, signal.Signals(signum).name))

    signal.signal(signal.SIGUSR1, on_reopen)
    for signum in (signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(signum, on_ignored)


def _install_stop_handlers(server: Server, retire_on: int | None = None) -> None:
    """SIGINT and SIGTERM stop the server; `retire_on` (a worker process's) retires it instead."""
    def on_signal(signum: int, frame: object) -> None:
        # no logging here: the handler may interrupt a logging call on this thread
        if signum == retire_on:
            server.retire()
        else:
            server.shutdown()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def _app_name(app: Callable) -> str:
    return getattr(app, "__qualname__", None) or type(app).__qualname__
