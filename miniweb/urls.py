"""Building URLs back for an App: ``url_for``, ``static_url_for``, and the mount point they start with.

The app handling the current request and its environ (SCRIPT_NAME, scheme, host) are kept in a
ContextVar, not a thread-local: each thread (and each asyncio task or greenlet) sees its own. The request
cycle (``request_cycle.py``) sets it for the handler and resets it when the request ends, so a script, a
test or a body streamed after the handler returned sees no mount point.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .routing import BuildError, Router, url_prefix

if TYPE_CHECKING:
    from .app import App

__all__ = ["UrlBuilding", "current_mount"]

_CACHED_URLS = 256  # bound of the caches below (entries beyond it are built each time, not kept)
# SCRIPT_NAME -> url_prefix(SCRIPT_NAME): the same few mount points, percent-encoded once each.
_PREFIXES: dict[str, str] = {}
# A static file's name -> its percent-encoding (static_url_for), for the few names templates use.
_STATIC_NAMES: dict[str, str] = {}

#: ``(app, environ)`` of the request being handled, or None outside one.
current_mount: ContextVar[tuple[App, dict[str, Any]] | None] = ContextVar("miniweb.mount", default=None)


def _script_prefix(environ: dict[str, Any]) -> str:
    """``url_prefix(environ["SCRIPT_NAME"])``, each mount point percent-encoded once."""
    script_name = environ.get("SCRIPT_NAME")
    if not script_name:
        return ""
    prefix = _PREFIXES.get(script_name)
    if prefix is None:
        prefix = url_prefix(script_name)
        if len(_PREFIXES) < _CACHED_URLS:  # mount points are the server's configuration: a few
            _PREFIXES[script_name] = prefix
    return prefix


class UrlBuilding:
    """``url_for`` and ``static_url_for``, mixed into App (which provides ``router`` and ``static_url``)."""

    router: Router
    static_url: str

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
        mount = current_mount.get()
        prefix = "" if mount is None or mount[0] is not self else _script_prefix(mount[1])
        fast = self.router.fast_builds.get(name)
        if fast is not None and not _external:
            path = fast(args, kwargs)  # the common calls; None: the general path answers (or raises)
            if path is not None:
                return prefix + path if prefix else path
        path = self.router.build(name, args, kwargs)
        if prefix:
            path = prefix + path
        return self._origin() + path if _external else path

    def static_url_for(self, filename: str) -> str:
        """The URL path of a file under ``static_url``, mount point included as for ``url_for``."""
        name = _STATIC_NAMES.get(filename)
        if name is None:
            name = quote(filename.lstrip("/"), safe="/")
            if len(_STATIC_NAMES) < _CACHED_URLS:  # file names come from templates: a few
                _STATIC_NAMES[filename] = name
        return f"{self._mount_prefix()}{self.static_url}/{name}"

    def _mount_prefix(self) -> str:
        """The percent-encoded SCRIPT_NAME of the request this app is handling, else ``""``."""
        mount = current_mount.get()
        if mount is None or mount[0] is not self:
            return ""  # not in a request of this app (another app's URLs are not ours)
        return _script_prefix(mount[1])

    def _origin(self) -> str:
        """``scheme://host[:port]`` of the request being handled (PEP 3333's URL reconstruction)."""
        mount = current_mount.get()
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
