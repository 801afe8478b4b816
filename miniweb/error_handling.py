"""Turning an exception into a response for an App: the app's errorhandler, else the default page.

An ``HTTPError`` is an answer (404, 403...), rendered as it is; any other exception is a failure:
logged with its traceback on the ``miniweb.app`` logger and answered with a 500 that leaks nothing
(the debug page with ``App(debug=True)``). Handlers are found most specific first, as in Flask.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .error_pages import render_error
from .errors import HTTPError, InternalServerError
from .messages import Messages
from .request import Request
from .response import Response

__all__ = ["ErrorHandling", "ErrorKey"]

# The name users configure (README, docs/errors.md): the App's logger since miniweb began.
logger = logging.getLogger("miniweb.app")

ErrorKey = int | type[BaseException]


def _code_of(cls: type) -> int | None:
    """The status an HTTPError class stands for (``NotFound`` -> 404); None for codeless classes such as
    ``HTTPError`` itself or ``class AppError(HTTPError)`` that sets no ``code`` of its own."""
    for klass in cls.__mro__:
        if klass is HTTPError:
            return None
        if "code" in klass.__dict__:
            return klass.code  # type: ignore[attr-defined, no-any-return]
    return None


class ErrorHandling:
    """Mixed into App, which provides the handlers, ``debug``, ``messages`` and ``make_response``."""

    _error_handlers: dict[ErrorKey, Callable[..., Any]]
    debug: bool
    messages: Messages
    make_response: Callable[[Any], Response]  # request_cycle.RequestCycle

    def _find_handler(self, exc: BaseException) -> Callable[..., Any] | None:
        """The errorhandler for ``exc``, most specific first, as Flask does.

        For an ``HTTPError`` with code ``c``: a handler for one of its classes tied to ``c`` (``NotFound``
        for 404, most derived first), then ``errorhandler(c)``, then handlers for codeless classes
        (``HTTPError``, ``Exception``). For other exceptions: the nearest class in its MRO.
        """
        handlers = self._error_handlers
        if not handlers:
            return None
        if isinstance(exc, HTTPError):
            code = exc.code
            generic: Callable[..., Any] | None = None
            for cls in type(exc).__mro__:
                handler = handlers.get(cls)
                if handler is None:
                    continue
                if _code_of(cls) == code:
                    return handler  # the class handler for this very code
                if generic is None and _code_of(cls) is None:
                    generic = handler  # HTTPError, Exception...: only if no code handler
            return handlers.get(code) or generic
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]
        return None

    def _handle_exception(self, request: Request, exc: Exception) -> Response:
        """Turn an exception into a response: the app's errorhandler, else the default page."""
        handler = self._find_handler(exc)
        if isinstance(exc, HTTPError):
            error: HTTPError = exc
        else:
            error = InternalServerError()
            if handler is None:
                logger.error("unhandled exception in %r", request, exc_info=exc)
                handler = self._error_handlers.get(500)
            else:
                logger.warning("%r answered by its errorhandler: %r", request, exc)
        if handler is not None:
            try:
                response = self.make_response(handler(request, exc))
            except Exception:
                logger.exception("errorhandler %r failed", handler)
                return render_error(InternalServerError(), request.environ.get("HTTP_ACCEPT"), self.messages)
            if response.status_code == 200:
                response.status_code = error.code
            for name, value in error.headers:
                response.headers.setdefault(name, value)
            return response
        debug_exc = exc if self.debug and not isinstance(exc, HTTPError) else None
        return render_error(error, request.environ.get("HTTP_ACCEPT"), self.messages, debug_exc)
