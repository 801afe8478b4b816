"""HTTP errors as exceptions that carry their status and render themselves.

Raise them anywhere in a handler (``raise NotFound("没有这个地区")``); the app turns them into a
small HTML page with the right status. The description is HTML-escaped: it often quotes user input.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from http import HTTPStatus
from typing import NoReturn

from .messages import Messages, message

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
    "abort",
]

_DEFAULT_MESSAGES = Messages()


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

    def render_html(self, detail: str | None = None, messages: Messages | None = None) -> str:
        """A minimal, self-contained error page in ``messages``' words (the defaults if None); the
        description and ``detail`` (a traceback in debug mode) are escaped: they often quote user input."""
        messages = messages or _DEFAULT_MESSAGES
        title = f"{self.code} {html.escape(messages.title(self.code))}"
        parts = [
            '<!doctype html>\n<html><head><meta charset="utf-8">',
            f"<title>{title}</title></head>\n<body><h1>{title}</h1>\n",
        ]
        description = messages.description(self.code, self.description)
        if description:
            parts.append(f"<p>{html.escape(description)}</p>\n")
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
    description = message("error.400")


class MissingKey(BadRequest, KeyError):
    """``request.form["x"]`` with no such field: a 400 for the client, still a KeyError for Python code."""

    def __init__(self, key: str) -> None:
        super().__init__(message("form.missing_field", key=key))
        self.key = key

    __str__ = HTTPError.__str__


class Unauthorized(_FixedCode):
    code = 401
    description = message("error.401")


class Forbidden(_FixedCode):
    code = 403
    description = message("error.403")


class NotFound(_FixedCode):
    code = 404
    description = message("error.404")


class MethodNotAllowed(HTTPError):
    """405 with the ``Allow`` header listing what the resource does accept (RFC 9110 §15.5.6)."""

    code = 405
    description = message("error.405")

    def __init__(self, allowed: Iterable[str], description: str | None = None) -> None:
        self.allowed = sorted(set(allowed))
        super().__init__(None, description, [("Allow", ", ".join(self.allowed))])


class PayloadTooLarge(_FixedCode):
    code = 413
    description = message("error.413")


class UnsupportedMediaType(_FixedCode):
    code = 415
    description = message("error.415")


class InternalServerError(_FixedCode):
    code = 500
    description = message("error.500")


class ServiceUnavailable(_FixedCode):
    code = 503
    description = message("error.503")


_BY_CODE: dict[int, type[_FixedCode]] = {
    cls.code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        PayloadTooLarge,
        UnsupportedMediaType,
        InternalServerError,
        ServiceUnavailable,
    )
}


def abort(
    code: int, description: str | None = None, headers: Iterable[tuple[str, str]] | None = None
) -> NoReturn:
    """Stop the handler with an HTTP error: ``abort(404)``, ``abort(403, "not yours")``.

    Raises the class for the code (``NotFound`` for 404, so ``errorhandler(NotFound)`` sees it), else
    ``HTTPError(code)``; 405 needs the allowed methods, so raise ``MethodNotAllowed([...])`` for it.
    """
    cls = _BY_CODE.get(code)
    if cls is not None:
        raise cls(description, headers)
    raise HTTPError(code, description, headers)
