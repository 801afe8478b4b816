"""Static files as a WSGI component: ``StaticFiles(directory, prefix="/static")``.

Works on its own under any WSGI server, and inside :class:`~miniweb.App` (``static_folder=``).
The one rule: never serve a byte from outside ``directory``. Every request path is decoded strictly,
checked segment by segment, then resolved (symlinks included) and checked again against the real root.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

from .errors import BadRequest, HTTPError, MethodNotAllowed, NotFound
from .request import decode_path
from .response import Response, error_response, send_file

__all__ = ["StaticFiles"]

logger = logging.getLogger(__name__)


class StaticFiles:
    """Serve the files under ``directory`` at URLs under ``prefix``, with caching headers."""

    def __init__(
        self, directory: str | os.PathLike[str], prefix: str = "/static", max_age: int = 3600
    ) -> None:
        self.root = os.path.realpath(directory)
        if not os.path.isdir(self.root):
            raise ValueError(f"static directory {self.root!r} does not exist")
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.max_age = max_age  # Cache-Control max-age, seconds; ETags make revalidation cheap after it

    def handles(self, environ: dict[str, Any]) -> bool:
        """Whether the request's path falls under ``prefix``."""
        path = environ.get("PATH_INFO", "")
        return path.startswith(self.prefix + "/")

    def resolve(self, path: str) -> str:
        """The real file for a decoded URL path, or ``NotFound``/``BadRequest``."""
        if not path.startswith(self.prefix + "/"):
            raise NotFound()
        relative = path[len(self.prefix) + 1 :]
        if "\0" in relative:
            raise BadRequest("The path contains a NUL byte.")
        # Refuse rather than normalise: "..", ".", empty segments ("//etc/passwd" after the prefix would
        # be absolute), backslashes (separators on Windows) and drive letters have no business here.
        segments = relative.split("/")
        if (
            not relative
            or "\\" in relative
            or any(segment in ("", ".", "..") for segment in segments)
            or ":" in segments[0]
        ):
            raise NotFound()
        candidate = os.path.realpath(os.path.join(self.root, *segments))
        if os.path.commonpath([self.root, candidate]) != self.root or not os.path.isfile(candidate):
            raise NotFound()
        return candidate

    def response_for(self, environ: dict[str, Any]) -> Response:
        """The response for one request (raises HTTPError on refusal)."""
        method = environ.get("REQUEST_METHOD", "GET")
        path = decode_path(environ)
        filename = self.resolve(path)
        if method not in ("GET", "HEAD"):
            raise MethodNotAllowed(["GET", "HEAD"])
        try:
            return send_file(filename, environ, max_age=self.max_age)
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound() from None  # removed between the check and the open
        except PermissionError:
            logger.warning("static file %s is not readable", filename)
            raise NotFound() from None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            response = self.response_for(environ)
        except HTTPError as error:
            response = error_response(error)
        return response(environ, start_response)
