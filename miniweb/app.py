"""The App: a WSGI callable that routes requests to handlers and turns results and errors into responses.

One request, in order (``wsgi_app``, which also records the app's mount point for ``url_for``):
  static files? -> StaticFiles, done
  Request(environ) -> route match (404/405 kept for later) -> before_request hooks (a Response
  short-circuits) -> routing error raised -> CSRF check (unsafe methods) -> handler -> Response
  errors -> errorhandler or default page; after_request hooks; teardown_request hooks ALWAYS;
  with request_log=True, the log line when the server closes the response.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar
from urllib.parse import quote

import jinja2

from .blueprints import Blueprint
from .csrf import UNSAFE_METHODS, CsrfProtect
from .error_pages import render_error
from .errors import HTTPError, InternalServerError, MethodNotAllowed
from .flash import template_get_flashed_messages
from .logs import logged_body
from .messages import Messages
from .patterns import check_pattern
from .request import Request
from .response import Response, encode_chunks, json_default, json_response, redirect
from .routing import BuildError, RequestRedirect, Route, Router, path_url, url_prefix
from .security import SecurityHeaders
from .sessions import SessionConfig, SessionSigner
from .shortcuts import MethodShortcuts
from .signatures import check_hook
from .static import StaticFiles
from .templating import create_environment

__all__ = ["App"]

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
ErrorKey = int | type[BaseException]

# The app handling the current request and its environ (SCRIPT_NAME, scheme, host), for url_for. A
# ContextVar, not a thread-local: each thread (and each asyncio task or greenlet) sees its own; wsgi_app
# resets it when the request ends.
_mount: ContextVar[tuple[App, dict[str, Any]] | None] = ContextVar("miniweb.mount", default=None)


def _code_of(cls: type) -> int | None:
    """The status an HTTPError class stands for (``NotFound`` -> 404); None for codeless classes such as
    ``HTTPError`` itself or ``class AppError(HTTPError)`` that sets no ``code`` of its own."""
    for klass in cls.__mro__:
        if klass is HTTPError:
            return None
        if "code" in klass.__dict__:
            return klass.code  # type: ignore[attr-defined, no-any-return]
    return None


class App(MethodShortcuts):
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
        messages: Mapping[str, str] | None = None,
        request_log: bool = False,
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
        # The framework's texts (error pages, CSRF, form errors) in the app's words: see messages.py.
        self.messages = Messages(messages)
        # One "miniweb.request" line per request (miniweb.logs); off: the server's access log is the one.
        self.request_log = request_log
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

        Returns the handler unchanged, so one function may carry several routes. Refused here, with a
        ``ValueError``/``TypeError`` saying what to write: a pattern not starting with "/", Flask/Bottle
        ``<...>`` placeholders, a name another handler has, a handler that cannot take the groups, a group
        annotated with a type other than int, float, uuid.UUID or str. See docs/routing.md.
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
        group: Any = None,
    ) -> Route:
        """Register a route without the decorator (``group``: the Blueprint adding it, if any)."""
        check_pattern(pattern)
        method_set = frozenset(m.upper() for m in methods)
        route = Route(pattern, method_set, handler, name or handler.__name__, csrf, group)
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

    def register_blueprint(self, blueprint: Blueprint) -> None:
        """Add a route group (its routes under its URL prefix, with its own hooks): see blueprints.py."""
        blueprint.register(self)

    def errorhandler(self, key: ErrorKey) -> Callable[[F], F]:
        """Register ``handler(request, error)`` for an HTTP status code or an exception class.

        For an HTTPError, a handler for its code (or a class of that code, such as ``NotFound``) wins
        over one for a class without a code (``HTTPError``, ``Exception``), as in Flask.
        """
        if isinstance(key, int) and not isinstance(key, bool):
            if not 400 <= key <= 599:
                raise ValueError(f"errorhandler({key}): error handlers are for 4xx and 5xx statuses")
        elif not (isinstance(key, type) and issubclass(key, BaseException)):
            raise TypeError(f"errorhandler() takes a status code or an exception class, got {key!r}")

        def decorator(handler: F) -> F:
            check_hook(handler, "errorhandler", "handler(request, error)")
            self._error_handlers[key] = handler
            return handler

        return decorator

    def before_request(self, hook: F) -> F:
        """``hook(request)`` before each handler; returning a Response (or str…) skips the handler."""
        check_hook(hook, "before_request", "hook(request)")
        self._before.append(hook)
        return hook

    def after_request(self, hook: F) -> F:
        """``hook(request, response) -> response`` after each handled request, errors included."""
        check_hook(hook, "after_request", "hook(request, response)")
        self._after.append(hook)
        return hook

    def teardown_request(self, hook: F) -> F:
        """``hook(request, exc_or_None)`` at the end of every request, whatever happened.

        ``exc`` is the unexpected exception that made the request fail, or None (HTTP errors are
        answers, not failures). Hooks run once the response is built, before its body is sent: a
        streamed body must not need what a teardown hook releases.
        """
        check_hook(hook, "teardown_request", "hook(request, exc)")
        self._teardown.append(hook)
        return hook

    # --- helpers for handlers -----------------------------------------------------------------------------

    def url_for(self, name: str, *args: Any, _external: bool = False, **kwargs: Any) -> str:
        """The URL path of route ``name`` with its groups filled (typed values such as ints are welcome).

        Keyword arguments that are not groups of the route become the query string, deliberately (as in
        Flask: ``url_for("search", q="北京", page=2)``); None values are left out. While this app handles
        a request, the path starts with the request's mount point (SCRIPT_NAME, PEP 3333), so links stay
        inside the app served under a prefix such as ``/demo``; elsewhere (a script, a test, a body
        streamed after the handler returned) there is no prefix. ``_external=True`` gives an absolute URL
        from the request's scheme and host (``wsgi.url_scheme`` and ``Host``, which a server sets from
        trusted proxies' headers); without a request it is a ``BuildError``. Raises ``BuildError``.
        """
        path = self._mount_prefix() + self.router.build(name, args, kwargs)
        return self._origin() + path if _external else path

    def static_url_for(self, filename: str) -> str:
        """The URL path of a file under ``static_url``, mount point included as for ``url_for``."""
        return f"{self._mount_prefix()}{self.static_url}/{quote(filename.lstrip('/'), safe='/')}"

    def _mount_prefix(self) -> str:
        """The percent-encoded SCRIPT_NAME of the request this app is handling, else ``""``."""
        mount = _mount.get()
        if mount is None or mount[0] is not self:
            return ""  # not in a request of this app (another app's URLs are not ours)
        script_name = mount[1].get("SCRIPT_NAME", "")
        return url_prefix(script_name) if script_name else ""

    def _origin(self) -> str:
        """``scheme://host[:port]`` of the request being handled (PEP 3333's URL reconstruction)."""
        mount = _mount.get()
        if mount is None or mount[0] is not self:
            raise BuildError("url_for(..., _external=True) needs a request of this app to take the host from")
        environ = mount[1]
        scheme = environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST")
        if not host:
            host = environ.get("SERVER_NAME", "localhost")
            port = environ.get("SERVER_PORT", "")
            if port and port != ("443" if scheme == "https" else "80"):
                host = f"{host}:{port}"
        return f"{scheme}://{host}"

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
        started = time.monotonic() if self.request_log else 0.0
        token = _mount.set((self, environ))
        try:
            if self.static_files is not None and self.static_files.handles(environ):
                if self.security_headers is not None:
                    https = environ.get("wsgi.url_scheme") == "https"
                    start_response = self.security_headers.wrap(start_response, https)
                try:  # straight to the server: no Response object on this hot path
                    status, body = self.static_files.serve(environ, start_response)
                except HTTPError as error:
                    response = self._handle_exception(Request(environ), error)
                else:
                    return logged_body(body, environ, status, started) if self.request_log else body
            else:
                response = self._respond(Request(environ, self.max_body_bytes, self.max_form_fields))
        finally:
            _mount.reset(token)  # the next request on this thread starts without a mount point
        if self.security_headers is not None:
            self.security_headers.apply(response, environ.get("wsgi.url_scheme") == "https")
        if self.request_log:
            return logged_body(response(environ, start_response), environ, response.status_code, started)
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
                group = request.route.group if request.route is not None else None
                for hook in self._after if group is None else (*group.after_hooks, *self._after):
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
        routing_error: HTTPError | RequestRedirect | None = None
        try:
            route, args, kwargs = self.router.match(method, request.path)
        except (HTTPError, RequestRedirect) as error:  # 400 (bad path), 404, 405, 308: hooks run first
            routing_error = error
        for hook in self._before:
            result = hook(request)
            if result is not None:
                return self.make_response(result)
        if routing_error is not None:
            if isinstance(routing_error, RequestRedirect):
                return self._slash_redirect(request, routing_error.path)
            if method == "OPTIONS" and isinstance(routing_error, MethodNotAllowed):
                return Response(b"", 204, routing_error.headers, content_type=None)  # RFC 9110 §9.3.7
            raise routing_error
        request.route = route
        if route.group is not None:
            for hook in route.group.before_hooks:
                result = hook(request)
                if result is not None:
                    return self.make_response(result)
        if method in UNSAFE_METHODS and route.csrf:
            self.csrf.verify(request)
        return self.make_response(route.handler(request, *args, **kwargs))

    def _slash_redirect(self, request: Request, path: str) -> Response:
        """308 to ``path`` (the request's path plus "/"), mount point and query string kept."""
        location = url_prefix(request.environ.get("SCRIPT_NAME", "")) + path_url(path)
        # QUERY_STRING is raw bytes carried as latin-1 (PEP 3333): re-encode those bytes, never as UTF-8.
        query = quote(request.environ.get("QUERY_STRING", "").encode("latin-1"), safe="&=+%;/?:@!$'()*,~")
        return redirect(f"{location}?{query}" if query else location, 308)

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
