"""The request cycle of an App: one WSGI call, from environ to response (mixed into App).

One request, in order (``wsgi_app``):
  a path under ``static_url``? -> StaticFiles, straight to the server (no Request or Response object)
  Request(environ) -> route match (a 400/404/405/308 kept for later) -> the app's before_request hooks
  (a result answers instead) -> the routing miss answered -> the route group's before_request hooks ->
  CSRF check (unsafe methods on csrf=True routes) -> handler -> Response
  errors -> errorhandler or default page (``error_handling.py``); after_request hooks (group, then app);
  the session and CSRF cookies if this request touched them; teardown_request hooks ALWAYS;
  security headers; with request_log=True, the log line when the server closes the response.

What a request does not use costs it nothing, which keeps a hello near a bare function (``python -m
bench.overhead --instructions``, the figure to check a change against): no hooks is an empty loop, a
session never opened is neither parsed nor written, an ASCII path is not decoded, a plain path is one
dict lookup, a handler without groups is called without unpacking, the security headers to add are
worked out once per set of header names, the request log is a separate path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .csrf import UNSAFE_METHODS
from .errors import HTTPError, MethodNotAllowed
from .logs import logged_body
from .request import Request
from .response import Response, encode_chunks, json_response, redirect
from .routing import RequestRedirect, Router, path_url, url_prefix
from .urls import current_mount

if TYPE_CHECKING:
    from .csrf import CsrfProtect
    from .security import SecurityHeaders
    from .sessions import SessionSigner
    from .static import StaticFiles

__all__ = ["RequestCycle"]

logger = logging.getLogger("miniweb.app")  # the App's logger, as in error_handling.py (a documented name)


class RequestCycle:
    """``__call__``/``wsgi_app`` and the steps of one request; App provides the state they read."""

    router: Router
    static_files: StaticFiles | None
    security_headers: SecurityHeaders | None
    request_log: bool
    max_body_bytes: int
    max_form_fields: int
    json_default: Callable[[Any], Any]
    csrf: CsrfProtect
    session_signer: SessionSigner | None
    _before: list[Callable[[Request], Any]]
    _after: list[Callable[[Request, Response], Response]]
    _teardown: list[Callable[[Request, BaseException | None], None]]
    _handle_exception: Callable[[Request, Exception], Response]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if self.request_log:
            return self._logged(environ, start_response)
        return self.wsgi_app(environ, start_response)

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """The request cycle; ``url_for`` takes the mount point from the SCRIPT_NAME that reaches it."""
        static = self.static_files
        if static is not None and environ.get("PATH_INFO", "").startswith(static.under):
            return self._serve_static(static, environ, start_response)
        token = current_mount.set((self, environ))  # type: ignore[arg-type]
        try:
            response = self._respond(Request(environ, self.max_body_bytes, self.max_form_fields))
        finally:
            current_mount.reset(token)  # the next request on this thread starts without a mount point
        if self.security_headers is not None:
            self.security_headers.apply(response, environ.get("wsgi.url_scheme") == "https")
        return response(environ, start_response)

    def _serve_static(
        self, static: StaticFiles, environ: dict[str, Any], start_response: Any
    ) -> Iterable[bytes]:
        """A file straight to the server; a refusal (404, 405...) rendered as any error of the app."""
        security = self.security_headers
        https = environ.get("wsgi.url_scheme") == "https"
        try:
            if security is None:
                return static.serve(environ, start_response)[1]
            return static.serve(environ, start_response, security.missing(static.header_names, https))[1]
        except HTTPError as error:  # raised before any response was started
            request = Request(environ)
            request.app = self
            token = current_mount.set((self, environ))  # type: ignore[arg-type]
            try:
                response = self._handle_exception(request, error)
            finally:
                current_mount.reset(token)
        if security is not None:
            security.apply(response, https)
        return response(environ, start_response)

    def _logged(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """``wsgi_app`` with the ``miniweb.request`` line written when the server closes the body."""
        started = time.monotonic()
        statuses: list[str] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            statuses.append(status)
            return start_response(status, headers, exc_info)

        return logged_body(self.wsgi_app(environ, start), environ, statuses, started)

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
                route = request.route
                group = route.group if route is not None else None
                for hook in self._after if group is None else (*group.after_hooks, *self._after):
                    response = hook(request, response)
                state = request.__dict__  # a session never opened, a CSRF nonce never made: no cookie
                if "session" in state or "_csrf_new_nonce" in state:
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
        session = request.__dict__.get("session")
        if session is not None:
            response.headers.add("Vary", "Cookie")  # caches must not serve one user's page to another
            self.session_signer.save(request, session, response)  # type: ignore[union-attr]
        if request.__dict__.get("_csrf_new_nonce"):
            self.csrf.set_cookie(request, response)

    def _dispatch(self, request: Request) -> Response:
        method = request.method
        try:
            route, args, kwargs = self.router.match(method, request.path)
        except (HTTPError, RequestRedirect) as error:  # 400 (bad path), 404, 405, 308: hooks run first
            return self._miss(request, error)
        request.route = route  # before the app's hooks: their errors and answers belong to the group too
        for hook in self._before:
            result = hook(request)
            if result is not None:
                return self.make_response(result)
        group = route.group
        if group is not None:
            for hook in group.before_hooks:
                result = hook(request)
                if result is not None:
                    return self.make_response(result)
        if route.csrf and method in UNSAFE_METHODS:
            self.csrf.verify(request)
        if kwargs:
            result = route.handler(request, *args, **kwargs)
        elif args:
            result = route.handler(request, *args)
        else:
            result = route.handler(request)  # a plain path: nothing to unpack
        return result if isinstance(result, Response) else self.make_response(result)

    def _miss(self, request: Request, error: HTTPError | RequestRedirect) -> Response:
        """A path no route takes for this method: the app's before_request hooks first (a result
        answers instead), then 308 to the path with "/", 204 + Allow for OPTIONS, or the error raised."""
        for hook in self._before:
            result = hook(request)
            if result is not None:
                return self.make_response(result)
        if isinstance(error, RequestRedirect):
            return self._slash_redirect(request, error.path)
        if request.method == "OPTIONS" and isinstance(error, MethodNotAllowed):
            return Response(b"", 204, error.headers, content_type=None)  # RFC 9110 §9.3.7
        raise error

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
        if isinstance(result, (dict, list)):
            return json_response(result, default=self.json_default)
        if isinstance(result, (str, bytes)):
            return Response(result)
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
