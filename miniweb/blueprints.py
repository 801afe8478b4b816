"""Route groups: a URL prefix, a name prefix and their own before/after hooks (Flask's blueprints).

::

    admin = Blueprint("admin", url_prefix="/admin")

    @admin.before_request
    def require_login(request): ...           # runs only for the routes of this group

    @admin.get(r"/users/(?P<user_id>[0-9]+)")
    def user(request, user_id: int): ...      # serves /admin/users/7; url_for("admin.user", user_id=7)

    @admin.errorhandler(403)
    def no_entry(request, error): ...         # a 403 of this group's routes (the app's elsewhere)

    app.register_blueprint(admin)

The prefix is prepended to each pattern as regex text (``"/admin"`` + ``r"/users/..."``), so it is
written like a pattern and checked like one. Order per request: the app's ``before_request`` hooks, then
the group's (only once the route is known: a 404 runs the app's alone); after the handler (or a
``before_request`` hook's answer), the group's ``after_request`` hooks, then the app's. Routes are
registered when ``register_blueprint`` is called, in the order they were declared; a group belongs to one
app, and what it registers (routes, errorhandlers) is declared before that.

``errorhandler`` answers errors raised while handling a request routed to the group (its handlers, the
before/after hooks of that request, the app's included), before the app's handlers, in Flask's order
(``error_handling.find_handler``). A path no route matches (404), or matched under another method (405),
is routed to no group: the app's handlers answer it, as in Flask. ``app_errorhandler`` registers an
app-wide handler when the group is registered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from .error_handling import ErrorHandlers, ErrorKey, check_error_key
from .patterns import check_pattern
from .shortcuts import MethodShortcuts
from .signatures import check_hook

if TYPE_CHECKING:
    from .app import App

__all__ = ["Blueprint"]

F = TypeVar("F", bound=Callable[..., Any])


class Blueprint(MethodShortcuts):
    """A group of routes registered on an app under ``url_prefix``, their names under ``name + "."``."""

    def __init__(self, name: str, url_prefix: str = "") -> None:
        if not name or "." in name:
            raise ValueError(f"a Blueprint name must be non-empty without '.', got {name!r}")
        if url_prefix:
            check_pattern(url_prefix)
            if url_prefix.endswith("/"):
                raise ValueError(
                    f"url_prefix {url_prefix!r} must not end with '/': each route brings its own "
                    f"(write {url_prefix.rstrip('/')!r})"
                )
        self.name = name
        self.url_prefix = url_prefix
        self.before_hooks: list[Callable[..., Any]] = []
        self.after_hooks: list[Callable[..., Any]] = []
        #: Read by ``App._handle_exception`` for requests routed to this group (empty: only the app's).
        self.error_handlers: ErrorHandlers = {}
        self._app_error_handlers: list[tuple[ErrorKey, Callable[..., Any]]] = []
        self._routes: list[tuple[str, Callable[..., Any], frozenset[str], str, bool]] = []
        self._app: App | None = None

    def route(
        self, pattern: str, methods: Iterable[str] | None = None, name: str | None = None, csrf: bool = True
    ) -> Callable[[F], F]:
        """Like ``App.route``; the pattern is relative to ``url_prefix``."""
        check_pattern(pattern)
        method_set = frozenset(m.upper() for m in (methods or ["GET"]))

        def decorator(handler: F) -> F:
            self._check_not_registered("routes")
            self._routes.append((pattern, handler, method_set, name or handler.__name__, csrf))
            return handler

        return decorator

    def before_request(self, hook: F) -> F:
        """``hook(request)`` before each handler of this group; a non-None result answers instead."""
        check_hook(hook, "before_request", "hook(request)")
        self.before_hooks.append(hook)
        return hook

    def after_request(self, hook: F) -> F:
        """``hook(request, response) -> response`` after each request routed to this group."""
        check_hook(hook, "after_request", "hook(request, response)")
        self.after_hooks.append(hook)
        return hook

    def errorhandler(self, key: ErrorKey) -> Callable[[F], F]:
        """Like ``App.errorhandler`` (same keys, same ``handler(request, error)``), for errors raised while
        handling a request routed to this group; tried before the app's handlers (see the module's text)."""
        check_error_key(key)

        def decorator(handler: F) -> F:
            self._check_not_registered("errorhandlers")
            check_hook(handler, "errorhandler", "handler(request, error)")
            self.error_handlers[key] = handler
            return handler

        return decorator

    def app_errorhandler(self, key: ErrorKey) -> Callable[[F], F]:
        """``App.errorhandler(key)`` for the whole app, done when this group is registered (Flask's
        ``Blueprint.app_errorhandler``); key and signature are checked here."""
        check_error_key(key, "app_errorhandler")

        def decorator(handler: F) -> F:
            self._check_not_registered("errorhandlers")
            check_hook(handler, "app_errorhandler", "handler(request, error)")
            self._app_error_handlers.append((key, handler))
            return handler

        return decorator

    def _check_not_registered(self, what: str) -> None:
        if self._app is not None:
            raise RuntimeError(f"Blueprint {self.name!r} is registered already: add {what} before that")

    def register(self, app: App) -> None:
        """Add this group's routes to ``app`` (``app.register_blueprint(bp)`` calls this)."""
        if self._app is not None:
            raise RuntimeError(f"Blueprint {self.name!r} is registered on an app already")
        self._app = app
        for pattern, handler, methods, name, csrf in self._routes:
            body = pattern[1:] if pattern.startswith("^") else pattern
            app.add_route(self.url_prefix + body, handler, methods, f"{self.name}.{name}", csrf, group=self)
        for key, handler in self._app_error_handlers:
            app.errorhandler(key)(handler)
