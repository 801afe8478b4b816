"""HTTP errors as exceptions that carry their status and render themselves.

Raise them anywhere in a handler (``raise NotFound("没有这个地区")``); the app turns them into a
small HTML page with the right status. The description is HTML-escaped: it often quotes user input.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from http import HTTPStatus

__all__ = [
    "HTTPError",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "MethodNotAllowed",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "InternalServerError",
    "ServiceUnavailable",
    "reason_phrase",
]


def reason_phrase(code: int) -> str:
    """The standard reason phrase for ``code`` (RFC 9110 §15), or "Unknown" for unregistered codes."""
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"


class HTTPError(Exception):
    """An HTTP error response: ``HTTPError(418, "no coffee here")``; subclasses fix ``code``."""

    code: int = 500
    description: str = ""

    def __init__(
        self,
        code: int | None = None,
        description: str | None = None,
        headers: Iterable[tuple[str, str]] | None = None,
    ) -> None:
        if code is not None:
            if not 400 <= int(code) <= 599:
                raise ValueError(f"HTTPError code must be a 4xx or 5xx status, got {code!r}")
            self.code = int(code)
        if description is not None:
            self.description = description
        self.headers: list[tuple[str, str]] = list(headers or ())
        super().__init__(self.code, self.description)

    @property
    def name(self) -> str:
        return reason_phrase(self.code)

    def __str__(self) -> str:
        return (
            f"{self.code} {self.name}: {self.description}" if self.description else f"{self.code} {self.name}"
        )

    def render_html(self, detail: str | None = None) -> str:
        """A minimal, self-contained error page; ``detail`` (a traceback in debug mode) is escaped too."""
        title = f"{self.code} {html.escape(self.name)}"
        parts = [
            '<!doctype html>\n<html><head><meta charset="utf-8">',
            f"<title>{title}</title></head>\n<body><h1>{title}</h1>\n",
        ]
        if self.description:
            parts.append(f"<p>{html.escape(self.description)}</p>\n")
        if detail:
            parts.append(f"<pre>{html.escape(detail)}</pre>\n")
        parts.append("</body></html>\n")
        return "".join(parts)


class _FixedCode(HTTPError):
    """Base for errors whose code is part of their class: ``NotFound("why")``."""

    def __init__(
        self, description: str | None = None, headers: Iterable[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(None, description, headers)


class BadRequest(_FixedCode):
    code = 400
    description = "The request could not be understood."


class MissingKey(BadRequest, KeyError):
    """``request.form["x"]`` with no such field: a 400 for the client, still a KeyError for Python code."""

    def __init__(self, key: str) -> None:
        super().__init__(f"Missing field {key!r}.")
        self.key = key

    __str__ = HTTPError.__str__


class Unauthorized(_FixedCode):
    code = 401
    description = "Authentication is required."


class Forbidden(_FixedCode):
    code = 403
    description = "You are not allowed to do this."


class NotFound(_FixedCode):
    code = 404
    description = "The requested URL was not found on this server."


class MethodNotAllowed(HTTPError):
    """405 with the ``Allow`` header listing what the resource does accept (RFC 9110 §15.5.6)."""

    code = 405
    description = "The method is not allowed for this URL."

    def __init__(self, allowed: Iterable[str], description: str | None = None) -> None:
        self.allowed = sorted(set(allowed))
        super().__init__(None, description, [("Allow", ", ".join(self.allowed))])


class PayloadTooLarge(_FixedCode):
    code = 413
    description = "The request body is too large."


class UnsupportedMediaType(_FixedCode):
    code = 415
    description = "The request body has an unsupported media type."


class InternalServerError(_FixedCode):
    code = 500
    description = "The server hit an unexpected error and could not complete the request."


class ServiceUnavailable(_FixedCode):
    code = 503
    description = "The service is temporarily unavailable; try again later."
