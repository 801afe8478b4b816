"""`--reload` (development): watch the app's source files, and stand in for an app that failed to load.

    worker process: load the app ──ok──► serve it
                                └─error─► log the traceback, serve a 500 page saying so
                    watcher thread: every reload_interval, stat() every watched file
                                ──► a changed mtime: link.changed() ──► the arbiter starts a fresh worker

Watched: the file of every module in sys.modules once the app is loaded (the app's own modules and
everything they imported), the files named in a failed import's traceback (a syntax error's module is
never in sys.modules), and `--reload-extra` files. Polling mtimes needs only the standard library and
costs a few hundred stat() calls a second on one thread; it works on every filesystem.
"""

from __future__ import annotations

import html
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterable

__all__ = ["load_or_fail", "watch"]

log = logging.getLogger(__name__)


def load_or_fail(load: Callable[[], Callable]) -> tuple[Callable, list[str]]:
    """The app, or a stand-in answering 500; plus the files a failed load went through (to watch)."""
    try:
        return load(), []
    except Exception as exc:
        log.exception("the app failed to load; answering 500 until a watched file changes (--reload)")
        text = "".join(traceback.format_exception(exc))
        return _failed_app(text), _files_of(exc)


def watch(extra: Iterable[str], on_change: Callable[[], None], interval: float,
          also: Iterable[str] = ()) -> None:  # fmt: skip
    """Start a daemon thread calling `on_change()` once a watched file's mtime changes (or it vanishes)."""
    files = {*_module_files(), *also, *(os.path.abspath(path) for path in extra)}
    seen = {path: _mtime(path) for path in files}
    log.info("--reload: watching %d files", len(seen))

    def poll() -> None:
        stop = threading.Event()
        while not stop.wait(interval):
            for path, mtime in seen.items():
                if _mtime(path) != mtime:
                    log.info("--reload: %s changed; reloading", path)
                    on_change()
                    return

    threading.Thread(target=poll, name="reload-watcher", daemon=True).start()


def _module_files() -> set[str]:
    found = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and os.path.isfile(path):
            found.add(os.path.abspath(path))
    return found


def _files_of(exc: BaseException) -> list[str]:
    files = []
    while exc is not None:
        if isinstance(exc, SyntaxError) and exc.filename:
            files.append(os.path.abspath(exc.filename))
        files.extend(os.path.abspath(frame.filename) for frame in traceback.extract_tb(exc.__traceback__)
                     if os.path.isfile(frame.filename))  # fmt: skip
        exc = exc.__cause__ or exc.__context__
    return files


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _failed_app(text: str) -> Callable:
    """A WSGI app answering every request with 500 and the traceback (development only: --reload)."""
    page = (
        "<!doctype html><meta charset=utf-8><title>500 the app failed to load</title>"
        "<h1>500: the app failed to load</h1><p>Fix the error and save; the server reloads by itself "
        f"(--reload).</p><pre>{html.escape(text)}</pre>"
    ).encode()
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(page)))]

    def failed(environ: dict, start_response: Callable) -> list[bytes]:
        start_response("500 Internal Server Error", headers)
        return [page]

    return failed
