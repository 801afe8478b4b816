"""The response: status, headers, cookies and a body; plus redirect, JSON and file helpers.

A :class:`Response` is itself a WSGI application, so it can be returned from anywhere WSGI is spoken.
"""

from __future__ import annotations

import html
import json
import mimetypes
import os
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from email.utils import format_datetime, formatdate, parsedate_to_datetime
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, BinaryIO
from urllib.parse import quote
from uuid import UUID

from .datastructures import Headers, check_header
from .errors import HTTPError, reason_phrase
from .ranges import content_range, file_part, requested_range

__all__ = [
    "Response",
    "redirect",
    "json_response",
    "json_default",
    "send_file",
    "error_response",
    "encode_chunks",
]

_FILE_BLOCK = 64 * 1024
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 6265 §4.1.1: a token
_COOKIE_VALUE = re.compile(r"^[\x21\x23\x24\x26-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$")  # cookie-octet but "%"
# What quote() may leave as it is in a cookie value: the cookie-octet punctuation, "%" excepted (it
# marks our escapes, so a literal one is escaped too and every value reads back as it was set).
_COOKIE_SAFE = "".join(c for c in map(chr, range(0x21, 0x7F)) if c not in '"%,;\\' and not c.isalnum())
# Characters a Location URL may keep as they are; the rest (spaces, non-ASCII) is percent-encoded.
_URL_SAFE = "/:?#[]@!$&'()*+,;=%~-._"


# The content types miniweb itself uses: known to be clean, so not checked for CR/LF per response.
_KNOWN_TYPES = frozenset(
    ("text/html; charset=utf-8", "application/json", "text/plain", "text/plain; charset=utf-8")
)
_STATUS_LINES: dict[int, str] = {}  # status code -> "404 Not Found", made once per code (a hot path)


def _set_content_length(response: Response, length: int) -> None:
    """``response.headers["Content-Length"] = str(length)`` without the scan-and-rebuild when there is
    none yet. A number needs no CR/LF check; this runs for every in-memory body, so it is kept cheap."""
    items = response._items
    for name, _ in items:
        if name.lower() == "content-length":
            response.headers["Content-Length"] = str(length)
            return
    items.append(("Content-Length", str(length)))


class Response:
    """``Response(body="", status=200, headers=None, content_type="text/html; charset=utf-8")``.

    ``body`` may be ``str`` (sent as UTF-8), ``bytes``, or an iterable of bytes (streamed; ``close()`` is
    passed on to the server).
    """

    # The header list is the response's own (``_items``); ``headers`` is a Headers view over that same
    # list, made when first asked for: most responses are sent without anyone asking.
    _headers: Headers | None = None

    def __init__(
        self,
        body: str | bytes | Iterable[bytes] = "",
        status: int = 200,
        headers: Iterable[tuple[str, str]] | dict[str, str] | None = None,
        content_type: str | None = "text/html; charset=utf-8",
    ) -> None:
        self.status_code = status if type(status) is int else int(status)
        if isinstance(body, str):
            body = body.encode("utf-8")
        if headers is None:  # the common case: nothing to collide with, so no scan
            if not content_type:
                items = []
            else:
                if content_type not in _KNOWN_TYPES:  # those have no CR/LF: checked once, here
                    check_header("Content-Type", content_type)
                items = [("Content-Type", content_type)]
            self._items = items
            if type(body) is bytes:
                items.append(("Content-Length", str(len(body))))
                self._body: bytes | Iterable[bytes] = body
            else:
                self.body = body
            return
        self.headers = Headers(headers.items() if isinstance(headers, dict) else headers)
        if content_type and "Content-Type" not in self.headers:
            if content_type not in _KNOWN_TYPES:
                check_header("Content-Type", content_type)
            self._items.append(("Content-Type", content_type))
        self.body = body

    @property
    def headers(self) -> Headers:
        """The response headers, case-insensitive (``response.headers["Cache-Control"] = ...``)."""
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers.over(self._items)
        return headers

    @headers.setter
    def headers(self, headers: Headers) -> None:
        self._headers, self._items = headers, headers._items

    @property
    def body(self) -> bytes | Iterable[bytes]:
        return self._body

    @body.setter
    def body(self, value: str | bytes | Iterable[bytes]) -> None:
        if isinstance(value, str):
            value = value.encode("utf-8")
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = bytes(value)
            _set_content_length(self, len(value))
        self._body = value

    @property
    def text(self) -> str:
        """The body as text (for tests and after-request hooks); only for in-memory bodies."""
        if not isinstance(self._body, bytes):
            raise TypeError("the body is a stream, not text")
        return self._body.decode("utf-8")

    @property
    def status(self) -> str:
        """The WSGI status line, ``"404 Not Found"``."""
        code = self.status_code
        line = _STATUS_LINES.get(code)
        if line is None:
            line = f"{code} {reason_phrase(code)}"
            if 100 <= code <= 999:  # bounded: at most 900 entries
                _STATUS_LINES[code] = line
        return line

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    def set_cookie(
        self,
        name: str,
        value: str = "",
        max_age: int | timedelta | None = None,
        path: str = "/",
        secure: bool = False,
        httponly: bool = True,
        samesite: str | None = "Lax",
        expires: datetime | int | float | None = None,
        domain: str | None = None,
    ) -> None:
        """Add a ``Set-Cookie`` header (RFC 6265 §4.1). HttpOnly and SameSite=Lax unless told otherwise.

        Any text may be stored: what a cookie cannot carry (non-ASCII, spaces, quotes, commas, ``;``,
        ``\\``, and ``%`` itself) is percent-encoded as UTF-8, and ``request.cookies`` decodes it, so
        ``set_cookie("name", "Zoë 张")`` reads back as ``"Zoë 张"``. Browsers keep about 4 KB per cookie.
        """
        if not _COOKIE_NAME.match(name):
            raise ValueError(f"invalid cookie name {name!r}: a token, ASCII without spaces or ';'")
        if not _COOKIE_VALUE.match(value):
            value = quote(value, safe=_COOKIE_SAFE, encoding="utf-8", errors="strict")
        parts = [f"{name}={value}"]
        if domain:
            parts.append(f"Domain={domain}")
        if path:
            parts.append(f"Path={path}")
        if isinstance(max_age, timedelta):
            max_age = int(max_age.total_seconds())
        if max_age is not None:
            parts.append(f"Max-Age={int(max_age)}")
        if isinstance(expires, datetime):
            parts.append("Expires=" + format_datetime(expires.astimezone(UTC), usegmt=True))
        elif expires is not None:
            parts.append("Expires=" + formatdate(float(expires), usegmt=True))
        if secure:
            parts.append("Secure")
        if httponly:
            parts.append("HttpOnly")
        if samesite:
            if samesite.capitalize() not in ("Strict", "Lax", "None"):
                raise ValueError("samesite must be 'Strict', 'Lax', 'None' or None")
            if samesite.capitalize() == "None" and not secure:
                raise ValueError("browsers drop SameSite=None cookies that are not Secure")
            parts.append(f"SameSite={samesite.capitalize()}")
        self.headers.add("Set-Cookie", "; ".join(parts))

    def delete_cookie(self, name: str, path: str = "/", domain: str | None = None) -> None:
        """Tell the client to forget a cookie (same name, path and domain as when it was set)."""
        self.set_cookie(name, "", max_age=0, expires=0, path=path, domain=domain)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = self._body
        code = self.status_code
        if code == 204 or code == 304:
            # These never carry a body, and a Content-Length would describe one (RFC 9110 §8.6, §15.4.5).
            self.headers.pop("Content-Length", None)
            body = self._discard_body()
        elif environ.get("REQUEST_METHOD") == "HEAD":
            body = self._discard_body()  # same headers as GET, Content-Length included, no body (§9.3.2)
        # A copy of the list: a server may add to what it is given (wsgiref adds Content-Length).
        start_response(_STATUS_LINES.get(code) or self.status, list(self._items))
        if type(body) is bytes:
            return [body]
        return body

    def _discard_body(self) -> bytes:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()  # e.g. an open file from send_file
        return b""

    def __repr__(self) -> str:
        return f"<Response {self.status}>"


def redirect(url: str, status: int = 303) -> Response:
    """Redirect to ``url``; 303 See Other by default, the right answer after a POST (RFC 9110 §15.4.4)."""
    location = quote(url, safe=_URL_SAFE)  # non-ASCII or spaces cannot go into a header as they are
    link = html.escape(location)
    body = f'<!doctype html>\n<p>Redirecting to <a href="{link}">{link}</a>.</p>\n'
    return Response(body, status, [("Location", location)])


def json_default(obj: Any) -> Any:
    """What JSON cannot say natively: ``datetime``/``date``/``time`` as ISO 8601 strings, ``Decimal``
    and ``UUID`` as strings (exact; a float would round), sets as lists. Extend it per app:
    ``app.json_default = lambda o: o.to_json() if isinstance(o, Money) else json_default(o)``."""
    if isinstance(obj, (datetime, date, time)):
        return obj.isoformat()
    if isinstance(obj, (Decimal, UUID)):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _dumps(obj: Any, default: Callable[[Any], Any]) -> str:
    """``json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=default)``, less the
    ``JSONEncoder`` that call builds and the three Python calls it makes every time: the C encoder is
    made directly, as ``JSONEncoder.iterencode`` makes it (with a fresh ``markers`` dict, so circular
    structures are still refused). Without the C accelerator, ``json.dumps`` itself."""
    if c_make_encoder is None:  # pragma: no cover - CPython has it
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=default)
    encode = c_make_encoder({}, default, encode_basestring, None, ":", ",", False, False, True)
    return "".join(encode(obj, 0))


def json_response(obj: Any, status: int = 200, default: Callable[[Any], Any] = json_default) -> Response:
    """``obj`` as UTF-8 JSON (RFC 8259: no charset parameter needed); ``default`` for other types."""
    return Response(_dumps(obj, default), status, content_type="application/json")


class encode_chunks:  # noqa: N801 - used like a function: encode_chunks(gen)
    """A handler's iterable as bytes: ``str`` chunks become UTF-8, ``close()`` reaches the source
    (PEP 3333: the server calls it however the response ends, so a generator's ``finally`` runs)."""

    def __init__(self, source: Iterable[bytes | str]) -> None:
        self.source = source

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.source:
            yield chunk.encode("utf-8") if isinstance(chunk, str) else chunk

    def close(self) -> None:
        close = getattr(self.source, "close", None)
        if close is not None:
            close()


class _FileIterator:
    """Blocks of an open file, for servers without ``wsgi.file_wrapper``; ``close()`` closes the file."""

    def __init__(self, file: BinaryIO, block_size: int = _FILE_BLOCK) -> None:
        self.file, self.block_size = file, block_size

    def __iter__(self) -> Iterator[bytes]:
        while block := self.file.read(self.block_size):
            yield block

    def close(self) -> None:
        self.file.close()


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 §13.1.2): ``W/`` prefixes are ignored."""
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == bare for candidate in header.split(","))


def _not_modified(environ: dict[str, Any], etag: str, mtime: int) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; else If-Modified-Since, for GET/HEAD only."""
    if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
        return False
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        return _etag_matches(if_none_match, etag)
    since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if since:
        try:
            return mtime <= parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError, OverflowError):
            return False  # an unparseable date is ignored (§13.1.3)
    return False


def send_file(
    path: str | os.PathLike[str],
    environ_or_request: Any,
    mimetype: str | None = None,
    max_age: int | None = None,
    download_name: str | None = None,
) -> Response:
    """Serve a file with ETag and Last-Modified, answering 304 when the client's copy is current,
    and 206 for a ``Range`` request (``miniweb.ranges``: one range, ``If-Range``; 416 raised as an HTTPError).

    The body goes through ``wsgi.file_wrapper`` when the server offers one (ours uses ``sendfile``).
    ``path`` is trusted: never build it from user input (use :class:`StaticFiles` for that).
    """
    environ = getattr(environ_or_request, "environ", environ_or_request)
    file = open(path, "rb")  # noqa: SIM115 - closed by the server through the body's close()
    try:
        stat = os.fstat(file.fileno())
        mtime = int(stat.st_mtime)
        etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
        cache_control = [] if max_age is None else [("Cache-Control", f"public, max-age={int(max_age)}")]
        response = Response(status=304, content_type=None)
        if _not_modified(environ, etag, mtime):
            file.close()  # RFC 9110 §15.4.5: a 304 with an ETag carries no Last-Modified
            response.headers = Headers([("ETag", etag), *cache_control])
            response._body = b""
            return response
        headers = Headers([("ETag", etag), ("Last-Modified", formatdate(mtime, usegmt=True)), *cache_control])
        response.headers = headers
        if mimetype is None:
            guessed, encoding = mimetypes.guess_type(os.fspath(path))
            # A .gz file is not "text/plain with gzip encoding" to a browser saving it: send it as bytes.
            mimetype = guessed if guessed and not encoding else "application/octet-stream"
        if mimetype.startswith("text/") and "charset" not in mimetype:
            mimetype += "; charset=utf-8"
        headers.add("Content-Type", mimetype)
        headers.add("Accept-Ranges", "bytes")
        if download_name:
            headers.add(
                "Content-Disposition", f"attachment; filename*=UTF-8''{quote(download_name, safe='')}"
            )
        part = requested_range(environ, stat.st_size, etag, headers["Last-Modified"])  # RFC 9110 §14
        if part is not None:
            headers.add("Content-Range", content_range(part[0], part[1], stat.st_size))
            headers.add("Content-Length", str(part[1] - part[0]))
            response.status_code = 206
            response._body = file_part(environ, file, part[0], part[1], _FILE_BLOCK)
            return response
        headers.add("Content-Length", str(stat.st_size))
        wrapper = environ.get("wsgi.file_wrapper")
        response.status_code = 200
        response._body = wrapper(file, _FILE_BLOCK) if wrapper else _FileIterator(file)
        return response
    except BaseException:
        file.close()
        raise


def error_response(error: HTTPError, detail: str | None = None) -> Response:
    """The default page for an HTTP error, with the headers it carries (e.g. ``Allow``)."""
    return Response(error.render_html(detail), error.code, error.headers)
