"""The framework's own texts (error pages, CSRF refusals, form errors), replaceable by the app in one place.

Code that refuses a request raises with a *message* rather than a finished sentence::

    raise Forbidden(message("csrf.missing"))

A :class:`Message` is a ``str`` holding the English default (so ``str(error)``, logs and tests read as
before) that also remembers its key and parameters. When the app renders the error it looks the key up in
*its* :class:`Messages` catalogue, so ``App(messages={"csrf.missing": "表单已过期，请刷新页面后重试。"})``
changes every page and JSON error that says it, whichever module raised it.

Keys: every key of ``DEFAULTS`` below, plus ``"error.<code>"`` (the description shown when an error
carries none of its own) and ``"title.<code>"`` (the page title; the reason phrase by default) for any
status from 400 to 599. An override may use only the ``{placeholders}`` its default uses; an unknown key
or placeholder is refused when set, not when the first error is rendered.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

__all__ = ["DEFAULTS", "Message", "Messages", "message"]

#: The English defaults. Keep each sentence self-contained: a translator sees one entry at a time.
DEFAULTS: dict[str, str] = {
    # Descriptions for errors raised without one (NotFound(), abort(404), the router's 404/405).
    "error.400": "The request could not be understood.",
    "error.401": "Authentication is required.",
    "error.403": "You are not allowed to do this.",
    "error.404": "The requested URL was not found on this server.",
    "error.405": "The method is not allowed for this URL.",
    "error.413": "The request body is too large.",
    "error.415": "The request body has an unsupported media type.",
    "error.500": "The server hit an unexpected error and could not complete the request.",
    "error.503": "The service is temporarily unavailable; try again later.",
    # CSRF refusals (403), raised by csrf.py.
    "csrf.missing": "The form is missing its CSRF token; reload the page and try again.",
    "csrf.invalid": "The CSRF token is invalid; reload the page and try again.",
    "csrf.expired": "The CSRF token has expired; reload the page and try again.",
    "csrf.cross_origin": "The request comes from another site ({origin}) and was refused.",
    # Request parsing (400, 413, 415), raised by request.py.
    "path.not_utf8": "The URL path is not valid UTF-8.",
    "query.not_utf8": "The query string is not valid UTF-8.",
    "query.too_many_fields": "The query string has more than {limit} fields.",
    "form.not_utf8": "The form body is not valid UTF-8.",
    "form.too_many_fields": "The form body has more than {limit} fields.",
    "form.missing_field": "Missing field {key!r}.",
    "body.bad_length": "The Content-Length header is not a number.",
    "body.too_large": "The request body is larger than {limit} bytes.",
    "json.expected": "Expected a JSON body (Content-Type: application/json).",
    "json.invalid": "The body is not valid JSON: {error}",
    "json.too_deep": "The JSON body is nested too deeply.",
    # multipart/form-data framing (400), raised by multipart.py; each names "multipart" for the log reader.
    "multipart.bad_boundary": "The multipart body has a missing or invalid boundary.",
    "multipart.too_many_parts": "The multipart body has more than {limit} parts.",
    "multipart.truncated": "The multipart body is truncated (no closing boundary).",
    "multipart.no_line_break": "A multipart delimiter is not followed by a line break.",
    "multipart.no_blank_line": "A multipart part has no blank line after its headers.",
    "multipart.headers_too_large": "A multipart part has more than {limit} bytes of headers.",
    "multipart.bad_header": "A multipart part has a malformed header line.",
    "multipart.no_disposition": 'Each multipart part needs "Content-Disposition: form-data; name=...".',
    "multipart.not_utf8": "The multipart {what} is not valid UTF-8.",
}

_PER_STATUS = re.compile(r"(error|title)\.([45][0-9][0-9])")


def _fields(text: str) -> set[str]:
    """The placeholder names a format string uses (``"{limit} of {key!r}"`` -> ``{"limit", "key"}``)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


class Message(str):
    """A framework message: its English default as the string value, plus its key and parameters."""

    key: str
    params: dict[str, Any]

    def __new__(cls, key: str, /, **params: Any) -> Message:
        self = super().__new__(cls, DEFAULTS[key].format(**params))
        self.key = key
        self.params = params
        return self

    def __reduce__(self) -> Any:  # pickle (and copy) rebuild it from the key, not from the text
        return (_rebuild, (self.key, self.params))


def _rebuild(key: str, params: dict[str, Any]) -> Message:
    return Message(key, **params)


def message(key: str, /, **params: Any) -> Message:
    """The message ``key`` with its parameters, for ``raise Forbidden(message("csrf.missing"))``."""
    return Message(key, **params)


class Messages:
    """One app's catalogue: the defaults, with the app's replacements on top."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self._texts: dict[str, str] = dict(DEFAULTS)
        if overrides:
            self.update(overrides)

    def update(self, overrides: Mapping[str, str]) -> None:
        """Replace texts; raises ``KeyError`` for an unknown key, ``ValueError`` for a wrong placeholder."""
        checked: dict[str, str] = {}
        for key, text in overrides.items():
            if key in DEFAULTS:
                allowed = _fields(DEFAULTS[key])
            elif _PER_STATUS.fullmatch(key):
                allowed = set()
            else:
                raise KeyError(
                    f"unknown message key {key!r}; known: error.<code>, title.<code>, {sorted(DEFAULTS)}"
                )
            if not isinstance(text, str):
                raise TypeError(f"message {key!r} must be a str, got {type(text).__name__}")
            extra = _fields(text) - allowed
            if extra:
                raise ValueError(
                    f"message {key!r} uses {sorted(extra)}; "
                    f"it may use only {sorted(allowed) or 'no placeholders'}"
                )
            checked[key] = text
        self._texts.update(checked)

    def __getitem__(self, key: str) -> str:
        return self._texts[key]

    def text(self, value: str) -> str:
        """``value`` in this catalogue's words when it is a :class:`Message`, else unchanged."""
        if isinstance(value, Message):
            return self._texts[value.key].format(**value.params)
        return value

    def description(self, code: int, description: str) -> str:
        """What an error page says: its own description (translated), else the status's default text."""
        if description:
            return self.text(description)
        return self._texts.get(f"error.{code}", "")

    def title(self, code: int) -> str:
        """The page title for ``code``: the app's ``title.<code>``, else the standard reason phrase."""
        text = self._texts.get(f"title.{code}")
        if text is not None:
            return text
        try:
            return HTTPStatus(code).phrase
        except ValueError:
            return "Unknown"
