"""Logging set-up in one call, and the optional one-line-per-request log.

Library modules only ever call ``logging.getLogger(__name__)``; handlers, level and format are the
application's choice, made once with :func:`configure_logging`.

Per-request lines: a server writes its own access log (``python -m server``, gunicorn, nginx), so an
``App`` writes none unless built with ``App(request_log=True)``. Then each request gets one line on the
``miniweb.request`` logger at INFO, written when the server closes the response (PEP 3333: after the
last byte), so its duration covers the whole response, a streamed body included::

    GET /areas/12 200 0.4ms
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["DEFAULT_FORMAT", "configure_logging", "logged_body"]

DEFAULT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

request_logger = logging.getLogger("miniweb.request")


def configure_logging(
    level: int | str = "INFO", filename: str | None = None, fmt: str | None = None
) -> logging.Handler:
    """Send log records at ``level`` and above to stderr, or to ``filename`` (appended, UTF-8).

    Configures the root logger, so the app's own loggers follow too. Idempotent: calling it again
    replaces the handler it installed before, and when the root logger already has a handler writing
    to the same place (``python -m server`` sets one up on stderr, as ``logging.basicConfig`` does),
    that handler is kept and returned instead of adding a second one, so no line is printed twice;
    only the level is applied then (the host's format stays).
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_miniweb", False)]:
        root.removeHandler(old)
        old.close()
    root.setLevel(level.upper() if isinstance(level, str) else level)
    existing = _handler_writing_to(root, filename)
    if existing is not None:
        return existing
    handler: logging.Handler = (
        logging.FileHandler(filename, encoding="utf-8") if filename else logging.StreamHandler(sys.stderr)
    )
    handler._miniweb = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter(fmt or DEFAULT_FORMAT))
    root.addHandler(handler)
    return handler


def _handler_writing_to(root: logging.Logger, filename: str | None) -> logging.Handler | None:
    """A handler someone else put on ``root`` that writes to ``filename`` (or stderr when None)."""
    for handler in root.handlers:
        if filename is None:
            if getattr(handler, "stream", None) is sys.stderr:
                return handler
        elif isinstance(handler, logging.FileHandler) and handler.baseFilename == os.path.abspath(filename):
            return handler
    return None


class _LoggedBody:
    """The response iterable, passed through; its ``close()`` writes the request's log line."""

    __slots__ = ("_body", "_method", "_path", "_statuses", "_started", "_logged")

    def __init__(
        self, body: Iterable[bytes], method: str, path: str, statuses: list[str], started: float
    ) -> None:
        self._body, self._method, self._path = body, method, path
        self._statuses, self._started, self._logged = statuses, started, False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            if not self._logged:
                self._logged = True
                request_logger.info(
                    "%s %s %s %.1fms",
                    self._method,
                    self._path,
                    self._statuses[-1].partition(" ")[0] if self._statuses else "-",
                    (time.monotonic() - self._started) * 1000,
                )


def logged_body(
    body: Iterable[bytes], environ: dict[str, Any], statuses: list[str], started: float
) -> Iterable[bytes]:
    """``body`` wrapped so that closing it logs the request (``started`` from ``time.monotonic()``).

    ``statuses``: the status lines the app passed to ``start_response`` (the last one counts; read
    at close, when it is surely known). Returns ``body`` itself when ``miniweb.request`` is not enabled
    for INFO. The wrapper hides a ``wsgi.file_wrapper`` from the server, so with the request log on,
    files are sent by iteration rather than ``sendfile``: the log is for development; production uses
    the server's access log.
    """
    if not request_logger.isEnabledFor(logging.INFO):
        return body
    raw_path = environ.get("PATH_INFO", "").encode("latin-1", "replace")
    path = raw_path.decode("utf-8", "backslashreplace")  # a log line shows bad bytes, never fails
    return _LoggedBody(body, environ.get("REQUEST_METHOD", ""), path, statuses, started)
