"""Turning an exception into a response for an App: an errorhandler, else the default page.

An ``HTTPError`` is an answer (404, 403...), rendered as it is; any other exception is a failure:
logged with its traceback on the ``miniweb.app`` logger and answered with a 500 that leaks nothing
(the debug page with ``App(debug=True)``). Handlers are found most specific first, as in Flask; for a
request routed to a route group (``Blueprint.errorhandler``), the group's handlers are looked at before
the app's, in Flask's order (``find_handler``). An app without group handlers pays nothing for them:
they are looked up only when an error is being handled, and only if the group has any.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from .error_pages import render_error
from .errors import HTTPError, InternalServerError
from .messages import Messages
from .request import Request
from .response import Response

__all__ = ["ErrorHandlers", "ErrorHandling", "ErrorKey", "check_error_key", "find_handler"]

# The name users configure (README, docs/errors.md): the App's logger since miniweb began.
logger = logging.getLogger("miniweb.app")

ErrorKey = int | type[BaseException]
ErrorHandlers = dict[ErrorKey, Callable[..., Any]]


def check_error_key(key: object, what: str = "errorhandler") -> None:
    """Refuse a key that no error can have: a status outside 400-599, or something not an exception class."""
    if isinstance(key, int) and not isinstance(key, bool):
        if not 400 <= key <= 599:
            raise ValueError(f"{what}({key}): error handlers are for 4xx and 5xx statuses")
    elif not (isinstance(key, type) and issubclass(key, BaseException)):
        raise TypeError(f"{what}() takes a status code or an exception class, got {key!r}")


def _code_of(cls: type) -> int | None:
    """The status an HTTPError class stands for (``NotFound`` -> 404); None for codeless classes such as
    ``HTTPError`` itself or ``class AppError(HTTPError)`` that sets no ``code`` of its own."""
    for klass in cls.__mro__:
        if klass is HTTPError:
            return None
        if "code" in klass.__dict__:
            return klass.code  # type: ignore[attr-defined, no-any-return]
    return None


def find_handler(exc: BaseException, scopes: Sequence[ErrorHandlers]) -> Callable[..., Any] | None:
    """The errorhandler for ``exc`` in ``scopes`` (the route group's handlers, then the app's), as Flask's
    ``App._find_error_handler`` orders them.

    For an ``HTTPError`` with code ``c``, per scope: a handler for one of its classes tied to ``c``
    (``NotFound`` for 404, most derived first), then ``errorhandler(c)``; only when no scope has one,
    handlers for codeless classes (``HTTPError``, ``Exception``), per scope. So the app's
    ``errorhandler(404)`` wins over the group's ``errorhandler(HTTPError)``. For other exceptions: the
    nearest class in its MRO, the group's handlers before the app's (the group's ``Exception`` before the
    app's ``ValueError``). Empty scopes are left out by the caller.
    """
    mro = type(exc).__mro__
    if isinstance(exc, HTTPError):
        code = exc.code
        for handlers in scopes:
            for cls in mro:
                handler = handlers.get(cls)
                if handler is not None and _code_of(cls) == code:
                    return handler  # the class handler for this very code
            handler = handlers.get(code)
            if handler is not None:
                return handler
        for handlers in scopes:
            for cls in mro:
                handler = handlers.get(cls)
                if handler is not None and _code_of(cls) is None:
                    return handler  # HTTPError, Exception...: only if no scope has a code handler
        return None
    for handlers in scopes:
        for cls in mro:
            handler = handlers.get(cls)
            if handler is not None:
                return handler
    return None


class ErrorHandling:
    """Mixed into App, which provides the handlers, ``debug``, ``messages`` and ``make_response``."""

    _error_handlers: ErrorHandlers
    debug: bool
    messages: Messages
    make_response: Callable[[Any], Response]  # request_cycle.RequestCycle

    def _handler_scopes(self, request: Request) -> list[ErrorHandlers]:
        """Where to look for an errorhandler: the route group's handlers (if the request was routed to a
        group that has some), then the app's; empty ones left out."""
        route = request.route
        group = route.group if route is not None else None
        scopes = [group.error_handlers] if group is not None and group.error_handlers else []
        if self._error_handlers:
            scopes.append(self._error_handlers)
        return scopes

    def _handle_exception(self, request: Request, exc: Exception) -> Response:
        """Turn an exception into a response: an errorhandler (group's, app's), else the default page."""
        scopes = self._handler_scopes(request)
        handler = find_handler(exc, scopes) if scopes else None
        if isinstance(exc, HTTPError):
            error: HTTPError = exc
        else:
            error = InternalServerError()
            if handler is None:
                logger.error("unhandled exception in %r", request, exc_info=exc)
                handler = next((handlers[500] for handlers in scopes if 500 in handlers), None)
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
