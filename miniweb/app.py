"""The App: a WSGI callable that routes requests to handlers and turns results and errors into responses.

One request, in order (``wsgi_app``, which also records the app's mount point for ``url_for``):
  static files? -> StaticFiles, done
  Request(environ) -> route match (404/405 kept for later) -> before_request hooks (a Response
  short-circuits) -> routing error raised -> CSRF check (unsafe methods) -> handler -> Response
  errors -> errorhandler or default page; after_request hooks; teardown_request hooks ALWAYS; log line.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar
from urllib.parse import quote

import jinja2

from .csrf import UNSAFE_METHODS, CsrfProtect
from .errors import HTTPError, InternalServerError, MethodNotAllowed
from .flash import template_get_flashed_messages
from .request import Request
from .response import Response, encode_chunks, error_response, json_default, json_response
from .routing import Route, Router, url_prefix
from .security import SecurityHeaders
from .sessions import SessionConfig, SessionSigner
from .static import StaticFiles
from .templating import create_environment

__all__ = ["App"]

logger = logging.getLogger(__name__)
request_logger = logging.getLogger("miniweb.request")

F = TypeVar("F", bound=Callable[..., Any])
ErrorKey = int | type[BaseException]

# The app handling the current request and its SCRIPT_NAME, for url_for. A ContextVar, not a thread-local:
# each thread (and each asyncio task or greenlet) sees its own; wsgi_app resets it when the request ends.
_mount: ContextVar[tuple[App, str] | None] = ContextVar("miniweb.mount", default=None)


class App:
    """A miniweb application. Instances are WSGI applications: ``app(environ, start_response)``.

    Relative ``template_folder``/``static_folder`` are taken from ``root_path``, which defaults to the
    directory of the module that creates the App (as Flask does), so the app runs from any directory.
    """

    def __init__(
        self,
        template_folder: str | os.PathLike[str] | None = "templates",
        static_folder: str | os.PathLike[str] | None = None,
        static_url: str = "/static",
        secret_key: str | bytes | None = None,
        max_body_bytes: int = 1_000_000,
        debug: bool = False,
        root_path: str | None = None,
        max_form_fields: int = 1000,
        csrf_max_age: int = 24 * 3600,
        secret_key_fallbacks: Sequence[str | bytes] = (),
        session: SessionConfig | None = None,
        csrf_trusted_origins: Sequence[str] = (),
        security_headers: SecurityHeaders | None = SecurityHeaders(),  # noqa: B008 - frozen, shared
    ) -> None:
        if root_path is None:
            caller = sys._getframe(1).f_globals.get("__file__")
            root_path = os.path.dirname(os.path.abspath(caller)) if caller else os.getcwd()
        self.root_path = root_path
        self.template_folder = os.path.join(root_path, template_folder) if template_folder else None
        self.static_url = "/" + static_url.strip("/")
        self.static_files = (
            StaticFiles(os.path.join(root_path, static_folder), self.static_url) if static_folder else None
        )
        self.secret_key = secret_key
        self.max_body_bytes = max_body_bytes  # bodies above this get 413 before they are read
        self.max_form_fields = max_form_fields  # bounds the work a form or query string can cause
        self.csrf_max_age = csrf_max_age
        #: Old keys that still verify sessions (rotate: new key first, the old one here for a while).
        self.secret_key_fallbacks = tuple(secret_key_fallbacks)
        self.session_config = session or SessionConfig()
        self.csrf_trusted_origins = tuple(csrf_trusted_origins)
        self._session_signer: SessionSigner | None = None
        #: Added to every response that does not set them itself (None: none added).
        self.security_headers = security_headers
        self.debug = debug
        #: Turns values JSON cannot hold into ones it can, for dicts/lists returned by handlers.
        self.json_default = json_default
        self.router = Router()
        self._error_handlers: dict[ErrorKey, Callable[..., Any]] = {}
        self._before: list[Callable[[Request], Any]] = []
        self._after: list[Callable[[Request, Response], Response]] = []
        self._teardown: list[Callable[[Request, BaseException | None], None]] = []
        self._jinja_env: jinja2.Environment | None = None
        self._csrf: CsrfProtect | None = None

    # --- registration -------------------------------------------------------------------------------------

    def route(
        self, pattern: str, methods: Iterable[str] | None = None, name: str | None = None, csrf: bool = True
    ) -> Callable[[F], F]:
        """Register ``handler(request, *groups, **named_groups)`` for paths fully matching ``pattern``.

        Returns the handler unchanged, so one function may carry several routes.
        """
        method_set = frozenset(m.upper() for m in (methods or ["GET"]))

        def decorator(handler: F) -> F:
            self.add_route(pattern, handler, method_set, name or handler.__name__, csrf)
            return handler

        return decorator

    def add_route(
        self,
        pattern: str,
        handler: Callable[..., Any],
        methods: Iterable[str] = ("GET",),
        name: str | None = None,
        csrf: bool = True,
    ) -> Route:
        route = Route(pattern, frozenset(m.upper() for m in methods), handler, name or handler.__name__, csrf)
        self._check_csrf_key(route)
        self.router.add(route)
        return route

    def _check_csrf_key(self, route: Route) -> None:
        """A CSRF-protected route that accepts unsafe methods needs the key now, not at the first POST."""
        if route.csrf and not self.secret_key and not route.methods.isdisjoint(UNSAFE_METHODS):
            raise RuntimeError(
                f"route {route.name!r} accepts {', '.join(sorted(route.methods & UNSAFE_METHODS))} and is "
                "CSRF-protected, which needs App(secret_key=...) (set it before registering routes), "
                "or mark an API route csrf=False"
            )

    def errorhandler(self, key: ErrorKey) -> Callable[[F], F]:
        """Register ``handler(request, error)`` for an HTTP status code or an exception class."""

        def decorator(handler: F) -> F:
            self._error_handlers[key] = handler
            return handler

        return decorator

    def before_request(self, hook: F) -> F:
        """``hook(request)`` before each handler; returning a Response (or str…) skips the handler."""
        self._before.append(hook)
        return hook

    def after_request(self, hook: F) -> F:
        """``hook(request, response) -> response`` after each handled request, errors included."""
        self._after.append(hook)
        return hook

    def teardown_request(self, hook: F) -> F:
        """``hook(request, exc_or_None)`` at the end of every request, whatever happened.

        ``exc`` is the unexpected exception that made the request fail, or None (HTTP errors are
        answers, not failures). Hooks run once the response is built, before its body is sent: a
        streamed body must not need what a teardown hook releases.
        """
        self._teardown.append(hook)
        return hook

    # --- helpers for handlers -----------------------------------------------------------------------------

    def url_for(self, name: str, *args: Any, **kwargs: Any) -> str:
        """The URL path of route ``name`` with its groups filled; extra keyword arguments form the query.

        While this app handles a request, the path starts with the request's mount point (SCRIPT_NAME,
        PEP 3333), so links and redirects stay inside the app when it is served under a prefix such as
        ``/demo``; elsewhere (a script, a test, a body streamed after the handler returned) there is no
        prefix. Raises ``BuildError``.
        """
        return self._mount_prefix() + self.router.build(name, args, kwargs)

    def static_url_for(self, filename: str) -> str:
        """The URL path of a file under ``static_url``, mount point included as for ``url_for``."""
        return f"{self._mount_prefix()}{self.static_url}/{quote(filename.lstrip('/'), safe='/')}"

    def _mount_prefix(self) -> str:
        """The percent-encoded SCRIPT_NAME of the request this app is handling, else ``""``."""
        mount = _mount.get()
        if mount is None or mount[0] is not self or not mount[1]:
            return ""  # not in a request of this app (another app's URLs are not ours), or mounted at "/"
        return url_prefix(mount[1])

    @property
    def jinja_env(self) -> jinja2.Environment:
        if self._jinja_env is None:
            if self.template_folder is None:
                raise RuntimeError("App(template_folder=...) is needed to render templates")
            self._jinja_env = create_environment(
                self.template_folder,
                auto_reload=self.debug,
                names={
                    "url_for": self.url_for,
                    "static_url": self.static_url_for,
                    "get_flashed_messages": template_get_flashed_messages,
                },
            )
        return self._jinja_env

    @property
    def csrf(self) -> CsrfProtect:
        if self._csrf is None:
            if not self.secret_key:
                raise RuntimeError(
                    "App(secret_key=...) is required for CSRF protection (or route(..., csrf=False))"
                )
            key = self.secret_key.encode("utf-8") if isinstance(self.secret_key, str) else self.secret_key
            self._csrf = CsrfProtect(key, self.csrf_max_age, self.csrf_trusted_origins)
        return self._csrf

    @property
    def session_signer(self) -> SessionSigner | None:
        """Signs and reads session cookies; None without a ``secret_key``."""
        if self._session_signer is None and self.secret_key:
            keys = [
                key.encode("utf-8") if isinstance(key, str) else key
                for key in (self.secret_key, *self.secret_key_fallbacks)
            ]
            self._session_signer = SessionSigner(keys, self.session_config)
        return self._session_signer

    def csrf_token(self, request: Request) -> str:
        """A CSRF token for forms in the response to ``request``."""
        return self.csrf.token(request)

    def render(self, request: Request, template: str, **context: Any) -> Response:
        """Render a template to a 200 text/html response; ``request``, ``url_for``, ``csrf_token`` and
        ``static_url`` are available in every template."""
        context.setdefault("request", request)
        if self.secret_key:
            context.setdefault("csrf_token", self.csrf_token(request))
        return Response(self.jinja_env.get_template(template).render(context))

    # --- the request cycle --------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.wsgi_app(environ, start_response)

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """The request cycle; ``url_for`` takes the mount point from the SCRIPT_NAME that reaches it."""
        started = time.monotonic()
        token = _mount.set((self, environ.get("SCRIPT_NAME", "")))
        try:
            if self.static_files is not None and self.static_files.handles(environ):
                try:
                    response = self.static_files.response_for(environ)
                except HTTPError as error:
                    response = self._handle_exception(Request(environ), error)
            else:
                response = self._respond(Request(environ, self.max_body_bytes, self.max_form_fields))
        finally:
            _mount.reset(token)  # the next request on this thread starts without a mount point
        if self.security_headers is not None:
            self.security_headers.apply(response, environ.get("wsgi.url_scheme") == "https")
        if request_logger.isEnabledFor(logging.INFO):
            raw_path = environ.get("PATH_INFO", "").encode("latin-1", "replace")
            path = raw_path.decode("utf-8", "backslashreplace")  # a log line shows bad bytes, never fails
            request_logger.info(
                "%s %s %d %.1fms",
                environ.get("REQUEST_METHOD"),
                path,
                response.status_code,
                (time.monotonic() - started) * 1000,
            )
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        unhandled: BaseException | None = None
        request.app = self
        try:
            try:
                response = self._dispatch(request)
            except Exception as exc:
                if not isinstance(exc, HTTPError):
                    unhandled = exc
                response = self._handle_exception(request, exc)
            try:
                for hook in self._after:
                    response = hook(request, response)
                self._save_state(request, response)
            except Exception as exc:
                unhandled = exc
                response = self._handle_exception(request, exc)
        finally:
            for teardown in self._teardown:
                try:
                    teardown(request, unhandled)
                except Exception:
                    logger.exception("teardown_request hook %r failed", teardown)
        return response

    def _save_state(self, request: Request, response: Response) -> None:
        """Cookies for the state this request changed: the session (if touched) and the CSRF nonce."""
        session = request.__dict__.get("session")  # never opened: nothing to parse, nothing to write
        if session is not None:
            response.headers.add("Vary", "Cookie")  # caches must not serve one user's page to another
            self.session_signer.save(request, session, response)  # type: ignore[union-attr]
        if getattr(request, "_csrf_new_nonce", False):
            self.csrf.set_cookie(request, response)

    def _dispatch(self, request: Request) -> Response:
        method = request.method
        routing_error: HTTPError | None = None
        try:
            route, args, kwargs = self.router.match(method, request.path)
        except HTTPError as error:  # 400 (bad path), 404, 405: hooks still run first
            routing_error = error
        for hook in self._before:
            result = hook(request)
            if result is not None:
                return self.make_response(result)
        if routing_error is not None:
            if method == "OPTIONS" and isinstance(routing_error, MethodNotAllowed):
                return Response(b"", 204, routing_error.headers, content_type=None)  # RFC 9110 §9.3.7
            raise routing_error
        request.route = route
        if method in UNSAFE_METHODS and route.csrf:
            self.csrf.verify(request)
        return self.make_response(route.handler(request, *args, **kwargs))

    def make_response(self, result: Any) -> Response:
        """A handler's return value as a Response: str/bytes -> HTML, dict/list -> JSON, any other
        iterable (a generator) -> streamed HTML chunks; or ``(body, status)``, ``(body, status, headers)``."""
        if isinstance(result, Response):
            return result
        if isinstance(result, (str, bytes)):
            return Response(result)
        if isinstance(result, (dict, list)):
            return json_response(result, default=self.json_default)
        if isinstance(result, tuple) and 2 <= len(result) <= 3:
            response = self.make_response(result[0])
            response.status_code = int(result[1])
            headers = result[2] if len(result) == 3 else ()
            for name, value in headers.items() if isinstance(headers, dict) else headers:
                response.headers[name] = value
            return response
        if hasattr(result, "__iter__"):  # a generator or any iterable of str/bytes: streamed as it comes
            return Response(encode_chunks(result))
        raise TypeError(
            f"a handler returned {type(result).__name__}; return str, bytes, dict, list, an iterable "
            "of str/bytes, or Response"
        )

    def _find_handler(self, exc: BaseException) -> Callable[..., Any] | None:
        for cls in type(exc).__mro__:
            if cls in self._error_handlers:
                return self._error_handlers[cls]
        if isinstance(exc, HTTPError):
            return self._error_handlers.get(exc.code)
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
                return error_response(InternalServerError())
            if response.status_code == 200:
                response.status_code = error.code
            for name, value in error.headers:
                response.headers.setdefault(name, value)
            return response
        detail = None
        if self.debug and not isinstance(exc, HTTPError):
            detail = "".join(traceback.format_exception(exc))
        return error_response(error, detail)
