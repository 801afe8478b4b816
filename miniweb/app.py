"""The App: a WSGI application built from routes, hooks and error handlers.

This module is the App's construction and registration (routes, blueprints, hooks, errorhandlers) and
the components it makes on first use (templates, CSRF, sessions). The rest of the App lives along the
request cycle: ``request_cycle.py`` (one request, environ to response), ``error_handling.py`` (exceptions
to responses), ``urls.py`` (``url_for`` and the mount point).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import jinja2

from .blueprints import Blueprint
from .csrf import UNSAFE_METHODS, CsrfProtect
from .error_handling import ErrorHandlers, ErrorHandling, ErrorKey, check_error_key
from .flash import template_get_flashed_messages
from .htmlbytes import render_bytes
from .messages import Messages
from .patterns import check_pattern
from .request import Request
from .request_cycle import RequestCycle
from .response import Response, json_default
from .routing import Route, Router
from .security import SecurityHeaders
from .sessions import SessionConfig, SessionSigner
from .shortcuts import MethodShortcuts
from .signatures import check_hook
from .static import STAT_INTERVAL, StaticFiles
from .templating import create_environment
from .urls import UrlBuilding

__all__ = ["App"]

F = TypeVar("F", bound=Callable[..., Any])


class App(RequestCycle, ErrorHandling, UrlBuilding, MethodShortcuts):
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
        # Its stat_interval follows debug (the setter below): STAT_INTERVAL outside debug, 0 in it.
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
        self._jinja_env: jinja2.Environment | None = None
        self.debug = debug  # the setter: the static files' check interval, the templates' reload
        #: Turns values JSON cannot hold into ones it can, for dicts/lists returned by handlers.
        self.json_default = json_default
        # The framework's texts (error pages, CSRF, form errors) in the app's words: see messages.py.
        self.messages = Messages(messages)
        # One "miniweb.request" line per request (miniweb.logs); off: the server's access log is the one.
        self.request_log = request_log
        self.router = Router()
        self._error_handlers: ErrorHandlers = {}
        self._before: list[Callable[[Request], Any]] = []
        self._after: list[Callable[[Request, Response], Response]] = []
        self._teardown: list[Callable[[Request, BaseException | None], None]] = []
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
        over one for a class without a code (``HTTPError``, ``Exception``), as in Flask. For a request routed
        to a route group, the group's handlers (``Blueprint.errorhandler``) are tried before the app's at
        each of those steps (``error_handling.find_handler``).
        """
        check_error_key(key)

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

    @property
    def debug(self) -> bool:
        """The debug page for errors, templates reloaded when their files change, and static files
        checked on every revalidation; set it at construction or later (``app.debug = True``), as in Flask."""
        return self._debug

    @debug.setter
    def debug(self, value: bool) -> None:
        self._debug = value
        # Outside debug a revalidation stats each file at most once a second (STAT_INTERVAL: a change is
        # seen by 304s up to a second late, by a 200 at once); in debug on every request.
        if self.static_files is not None:
            self.static_files.stat_interval = 0.0 if value else STAT_INTERVAL
        if self._jinja_env is not None:
            self._jinja_env.auto_reload = value

    # --- components made on first use, and helpers for handlers ---------------------------------------

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
        ``static_url`` are available in every template. ``HtmlBytes`` values (htmlbytes.py) go into the
        page as the bytes they hold, not through the template's text."""
        context.setdefault("request", request)
        if self.secret_key:
            context.setdefault("csrf_token", self.csrf_token(request))
        return Response(render_bytes(self.jinja_env.get_template(template), context))
