"""The request: a thin, lazily-cached view over a WSGI ``environ`` (PEP 3333).

Nothing is parsed until asked for, and nothing twice. Decoding is strict everywhere: text that is not
UTF-8 is a 400 Bad Request, never silently dropped or replaced.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, quote, unquote

from .building import PATH_SAFE
from .csrf import rotate_nonce
from .datastructures import Headers, MultiDict
from .errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from .messages import message
from .multipart import parse_multipart, parse_options_header
from .sessions import Session

_T = TypeVar("_T")
_QUERY_SAFE = "%/?:@!$&'()*+,;=~"  # RFC 3986 §3.4's query characters, and "%" of the escapes already there


class cached_property(Generic[_T]):  # noqa: N801 - a drop-in for functools.cached_property
    """functools.cached_property without its per-access lock (Python 3.11 takes an RLock on every
    first access; 3.12 dropped it as useless). A Request belongs to one thread, so no lock is needed."""

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self.func, self.name, self.__doc__ = func, func.__name__, func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.func(instance)
        return value


__all__ = ["Request", "decode_path"]

_READ_CHUNK = 64 * 1024
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def decode_path(environ: dict[str, Any]) -> str:
    """PATH_INFO as real text.

    PEP 3333 hands the (already percent-decoded) path over as bytes-as-latin-1 str; the bytes are UTF-8
    (RFC 3986 §2.5), so re-encode and decode strictly. Invalid UTF-8 is the client's error: 400.
    """
    raw = environ.get("PATH_INFO", "")
    try:
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise BadRequest(message("path.not_utf8")) from None


def _parse_urlencoded(text: str, what: str, max_fields: int) -> MultiDict:  # what: "query" or "form"
    """``a=1&b=%E4%B8%AD+x`` -> MultiDict; ``+`` and ``%20`` are spaces (HTML §4.10.21.7)."""
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=max_fields
        )
    except UnicodeDecodeError:
        raise BadRequest(message(f"{what}.not_utf8")) from None
    except ValueError:
        raise BadRequest(message(f"{what}.too_many_fields", limit=max_fields)) from None
    return MultiDict(pairs)


class Request:
    """One HTTP request. Handlers get it as their first argument (no thread-local globals)."""

    #: The matched route (a ``miniweb.routing.Route``), once routing has found one.
    route: Any = None
    #: The App handling this request (set by the App; None for a Request built by hand).
    app: Any = None
    _body_streamed = False  # set once a multipart body has been parsed from wsgi.input

    def __init__(
        self, environ: dict[str, Any], max_body_bytes: int = 1_000_000, max_form_fields: int = 1000
    ) -> None:
        self.environ = environ
        #: ``GET``, ``POST``... (upper-case, as routes are registered).
        self.method: str = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "")
        if path.isascii():  # nothing to decode (and nothing to refuse): the cached ``path`` is known now
            self.path = path or "/"
        self.max_body_bytes = max_body_bytes
        self.max_form_fields = max_form_fields

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.environ.get('PATH_INFO', '')!r}>"

    @cached_property
    def state(self) -> SimpleNamespace:
        """Per-request data for the app (the demo keeps its database connection here)."""
        return SimpleNamespace()

    # --- the request line and headers -------------------------------------------------------------------

    @cached_property
    def path(self) -> str:
        """The decoded path (``/地区/1``), without the app's mount point (SCRIPT_NAME)."""
        return decode_path(self.environ) or "/"

    @property
    def script_name(self) -> str:
        """The app's mount point as the server passes it (PEP 3333: percent-decoded, bytes as latin-1).

        ``url_for`` puts it, percent-encoded again, in front of the URLs it builds.
        """
        return self.environ.get("SCRIPT_NAME", "")

    @property
    def query_string(self) -> str:
        """The raw query string, still percent-encoded."""
        return self.environ.get("QUERY_STRING", "")

    @cached_property
    def url_path(self) -> str:
        """This request's path as a URL path on this site: the mount point and the path, percent-encoded
        (``/demo/%E5%9C%B0%E5%8C%BA``), as ``url_for`` builds them: compare it with ``url_for(...)``."""
        environ = self.environ
        raw = environ.get("SCRIPT_NAME", "").rstrip("/") + environ.get("PATH_INFO", "")
        # PEP 3333: both are percent-decoded, their bytes carried as latin-1: encode the bytes again.
        return quote(raw.encode("latin-1"), safe=PATH_SAFE) if raw else "/"

    @cached_property
    def relative_url(self) -> str:
        """This request's URL without scheme and host: ``url_path`` and the query string as sent
        (``/demo/areas/440300?page=2&sort=name``): what to pass as ``next=`` to come back to this page.
        (Flask's ``request.full_path`` leaves out the mount point, and ends in "?" when there is no query.)"""
        query = self.environ.get("QUERY_STRING", "")
        if not query:
            return self.url_path
        # What a client sent unencoded ("#", spaces, quotes, raw bytes) is encoded; "%XX" and the query's
        # delimiters are kept. (quote() returns an all-safe string as it is, without a loop.)
        return f"{self.url_path}?{quote(query.encode('latin-1'), safe=_QUERY_SAFE)}"

    @property
    def scheme(self) -> str:
        return self.environ.get("wsgi.url_scheme", "http")

    @property
    def host(self) -> str:
        host = self.environ.get("HTTP_HOST")
        if host:
            return host
        port = self.environ.get("SERVER_PORT", "")
        default = "443" if self.scheme == "https" else "80"
        name = self.environ.get("SERVER_NAME", "localhost")
        return name if port in ("", default) else f"{name}:{port}"

    @property
    def remote_addr(self) -> str | None:
        return self.environ.get("REMOTE_ADDR")

    @cached_property
    def headers(self) -> Headers:
        """Request headers, case-insensitive: ``request.headers["User-Agent"]``."""
        return Headers.from_environ(self.environ)

    @cached_property
    def mimetype(self) -> str:
        """The Content-Type without parameters, lower-cased (``"application/json"``)."""
        return parse_options_header(self.environ.get("CONTENT_TYPE", ""))[0]

    @cached_property
    def cookies(self) -> dict[str, str]:
        """Cookies sent by the client, parsed as browsers send them (RFC 6265 §4.2.1, §5.4).

        Lenient on purpose, unlike paths and forms: other software on the same host may set cookies
        that are odd or not UTF-8, and refusing (or, like ``http.cookies``, dropping every cookie
        after) one of those would lock the user out. Undecodable bytes become U+FFFD; for a name
        sent twice, the first wins (the browser sends the most specific path first). Percent-escapes
        (which ``Response.set_cookie`` writes for what a cookie cannot carry) are decoded as UTF-8.
        """
        raw = self.environ.get("HTTP_COOKIE", "")
        if not raw:
            return {}
        raw = raw.encode("latin-1", "replace").decode("utf-8", "replace")  # PEP 3333 latin-1 -> UTF-8
        cookies: dict[str, str] = {}
        for pair in raw.split(";"):
            name, equals, value = pair.partition("=")
            name, value = name.strip(), value.strip()
            if not equals or not name:
                continue
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            if "%" in value:
                value = unquote(value, errors="replace")
            cookies.setdefault(name, value)
        return cookies

    # --- state kept by the browser ----------------------------------------------------------------------

    @cached_property
    def session(self) -> Session:
        """The signed-cookie session (a dict; see :mod:`miniweb.sessions`), read on first use only."""
        signer = self.app.session_signer if self.app is not None else None
        if signer is None:
            raise RuntimeError("request.session needs App(secret_key=...)")
        session = signer.open(self)
        session._on_regenerate = lambda: rotate_nonce(self)
        return session

    def has_session_support(self) -> bool:
        """Whether ``request.session`` can work here (the app has a ``secret_key``)."""
        return self.app is not None and bool(self.app.secret_key)

    # --- query and body ---------------------------------------------------------------------------------

    @cached_property
    def args(self) -> MultiDict:
        """The query string parameters (``?q=北京&page=2``)."""
        raw = self.query_string
        try:
            text = raw.encode("latin-1").decode("utf-8")  # raw non-ASCII bytes sent unescaped
        except UnicodeError:
            raise BadRequest(message("query.not_utf8")) from None
        return _parse_urlencoded(text, "query", self.max_form_fields)

    @cached_property
    def content_length(self) -> int | None:
        value = self.environ.get("CONTENT_LENGTH", "")
        if not value:
            return None
        if not (value.isascii() and value.isdigit()):  # RFC 9110 §8.6: 1*DIGIT; no sign, no "²"
            raise BadRequest(message("body.bad_length"))
        if len(value) > 18:  # more than any body we would take, and int() refuses 4,300+ digits
            raise PayloadTooLarge(message("body.too_large", limit=self.max_body_bytes))
        return int(value)

    def _body_chunks(self) -> Iterator[bytes]:
        """The body from ``wsgi.input`` in 64 KiB reads; more than ``max_body_bytes`` is a 413.

        A Content-Length above the limit is refused before anything is read.
        """
        length = self.content_length
        limit = self.max_body_bytes
        if length is not None and length > limit:
            raise PayloadTooLarge(message("body.too_large", limit=limit))
        stream = self.environ.get("wsgi.input")
        if stream is None:
            return
        if length is None:
            # No length: PEP 3333 says the body is empty unless the server marks the input terminated
            # (e.g. it de-chunked the body); then read to EOF, but one byte past the limit at most.
            if not self.environ.get("wsgi.input_terminated"):
                return
            length = limit + 1
        remaining = length
        received = 0
        while remaining > 0:
            chunk = stream.read(min(remaining, _READ_CHUNK))
            if not chunk:
                break  # the client sent less than it announced; the server reports that, we use what came
            received += len(chunk)
            if received > limit:
                raise PayloadTooLarge(message("body.too_large", limit=limit))
            remaining -= len(chunk)
            yield chunk

    @cached_property
    def body(self) -> bytes:
        """The raw body, read once; more than ``max_body_bytes`` is a 413.

        A multipart body is parsed as a stream by ``form``/``files``, so it is not kept: read
        ``request.body`` first if you need its bytes (then the parser uses them), not after.
        """
        if self._body_streamed:
            raise RuntimeError(
                "the multipart body was parsed as a stream by request.form/request.files and not kept; "
                "read request.body before them to have its bytes"
            )
        return b"".join(self._body_chunks())

    @cached_property
    def _form_and_files(self) -> tuple[MultiDict, MultiDict]:
        mimetype = self.mimetype
        if mimetype == "application/x-www-form-urlencoded":
            try:
                text = self.body.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(message("form.not_utf8")) from None
            return _parse_urlencoded(text, "form", self.max_form_fields), MultiDict()
        if mimetype == "multipart/form-data":
            content_type = self.environ.get("CONTENT_TYPE", "")
            if "body" in self.__dict__:  # already read whole by the app: parse those bytes
                return parse_multipart(self.body, content_type, self.max_form_fields)
            self._body_streamed = True
            return parse_multipart(self._body_chunks(), content_type, self.max_form_fields)
        return MultiDict(), MultiDict()

    @property
    def form(self) -> MultiDict:
        """Fields of an urlencoded or multipart body; empty for other bodies."""
        return self._form_and_files[0]

    @property
    def files(self) -> MultiDict:
        """Uploaded files (:class:`FileStorage`) of a multipart body."""
        return self._form_and_files[1]

    @property
    def is_form(self) -> bool:
        return self.mimetype in _FORM_TYPES

    @cached_property
    def json(self) -> Any:
        """The body parsed as JSON: 415 unless the Content-Type says JSON, 400 if it is not valid JSON."""
        mimetype = self.mimetype
        if not (
            mimetype == "application/json"
            or (mimetype.startswith("application/") and mimetype.endswith("+json"))
        ):
            raise UnsupportedMediaType(message("json.expected"))
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(message("json.invalid", error=exc)) from None
        except RecursionError:
            raise BadRequest(message("json.too_deep")) from None
