"""`Server` (bind, serve, shut down) and `serve()` (the same with signal handling), for the CLI and embedders.

    server = Server(app, Config(port=0))      # binds at once: server.port is known
    threading.Thread(target=server.serve_forever).start()
    ...
    server.shutdown()                          # from any thread: drain, then serve_forever() returns
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable

from server.config import Config
from server.dispatcher import Dispatcher
from server.listener import Listener, listener_for, open_listeners, raise_fd_limit, server_name
from server.wsgi import WSGIHandler

__all__ = ["Server", "serve"]

log = logging.getLogger(__name__)


class Server:
    """A WSGI server bound to its address; `serve_forever()` runs it until `shutdown()`."""

    def __init__(self, app: Callable, config: Config | None = None, *, sock: socket.socket | None = None,
                 listeners: list[Listener] | None = None) -> None:  # fmt: skip
        self.app = app
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
        self._stop = threading.Event()
        self._dispatcher: Dispatcher | None = None
        self._arbiter = None

    @property
    def url(self) -> str:
        """The first listener's URL: http(s)://host:port/, or unix:PATH."""
        return self.listeners[0].url

    def serve_forever(self) -> None:
        """Serve until shutdown() (or SIGTERM/SIGINT under `serve()`); returns after the drain."""
        if self.config.workers > 1:
            from server.prefork import Arbiter  # only the multi-process mode needs fork()

            self._arbiter = Arbiter(self)
            if self._stop.is_set():
                return
            self._arbiter.run()
        else:
            self.serve_in_this_process()

    def serve_in_this_process(self) -> None:
        """The single-process server: the dispatcher on this thread, the workers beside it."""
        handler = WSGIHandler(self.app, self.config, server_name(self.config.host), self.port)
        dispatcher = Dispatcher(self.listeners, handler, self.config, raise_fd_limit(self.config))
        self._dispatcher = dispatcher
        if self._stop.is_set():  # shutdown() came before the dispatcher existed
            dispatcher.shutdown()
        dispatcher.run()

    def shutdown(self) -> None:
        """Stop accepting, finish requests in flight (up to graceful_timeout), close idle connections.

        Safe from any thread and from a signal handler; serve_forever() returns when the drain is done.
        """
        self._stop.set()
        if self._dispatcher is not None:
            self._dispatcher.shutdown()
        if self._arbiter is not None:
            self._arbiter.stop()

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
    """SIGINT and SIGTERM start a graceful shutdown (only possible from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def on_signal(signum: int, frame: object) -> None:
        server.shutdown()  # no logging here: the handler may interrupt a logging call on this thread

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def _app_name(app: Callable) -> str:
    return getattr(app, "__qualname__", None) or type(app).__qualname__
