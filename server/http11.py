"""The HTTP/1.1 request grammar (RFC 9112), sans-I/O: bytes in, a parsed request head out.

Nothing here touches a socket. The caller appends whatever it received to a `bytearray` and asks:

    buf ──► maybe_read_head(buf, config) ──► RequestHead | None ("need more data") | raise ProtocolError
    buf ──► body_reader(head, config).read(buf) ──► body bytes, until `.done`

Both consume what they parse from the front of `buf` and leave the rest (the next pipelined request).
Every `ProtocolError` carries the status to answer with before closing the connection. The rules that
prevent request smuggling (RFC 9112 §6.3, §11.2) are enforced here, once, for every caller.

Strictness choices: lines end with CRLF only (a bare CR or LF is rejected, as waitress does, rather than
accepted as RFC 9112 §2.2 allows: two parsers disagreeing about line ends is how smuggling starts), and
the request-target may carry obs-text bytes (0x80-0xFF), since real clients send raw UTF-8 paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from server._body import BodyReader, ChunkedReader, LengthReader
from server._grammar import ProtocolError, check_incomplete_bytes, parse_fields, split_lines
from server.config import Config

__all__ = [
    "BodyReader",
    "HeadParser",
    "ProtocolError",
    "RequestHead",
    "body_reader",
    "maybe_read_head",
]


@dataclass(slots=True)
class RequestHead:
    method: str  # as sent (a token; case-sensitive per RFC 9110 §9.1)
    target: str  # request-target as sent (latin-1 str)
    path: str  # still percent-encoded; "/" for an absolute-form target without path; "*" for OPTIONS *
    query: str  # raw query without "?" ("" if none)
    version: str  # "HTTP/1.1" or "HTTP/1.0"
    headers: list[tuple[str, str]]  # (name lower-cased, value with surrounding OWS stripped), in order
    host: str | None  # absolute-form authority wins over the Host header (RFC 9112 §3.2.2)
    keep_alive: bool  # RFC 9112 §9.3
    expect_continue: bool  # "Expect: 100-continue" on HTTP/1.1
    content_length: int | None  # None when absent or chunked
    chunked: bool  # Transfer-Encoding: chunked


# RFC 9112 §3: request-line = method SP request-target SP HTTP-version. The target allows VCHAR and
# obs-text (see the module docstring); the version's shape is checked here, its value below.
_REQUEST_LINE = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([\x21-\x7e\x80-\xff]+) (HTTP/[0-9]\.[0-9])")
# RFC 3986 §3.2: authority = host [":" port], host = IP-literal / IPv4address / reg-name. No userinfo:
# RFC 9110 §4.2.4 forbids it in http(s) URIs. An empty host is allowed (RFC 9112 §3.2).
_AUTHORITY = re.compile(r"(?:\[[0-9A-Za-z:._~%!$&'()*+,;=-]+\]|[0-9A-Za-z._~%!$&'()*+,;=-]*)(?::[0-9]*)?")
# RFC 3986 §3: scheme "://" authority path-abempty [ "?" query ]
_ABSOLUTE_FORM = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)(?:\?([^#]*))?")
_LEADING_EMPTY_LINES = re.compile(rb"(?:\r\n)*")
_DIGITS = re.compile(r"[0-9]+")
_FRAMING_FIELDS = frozenset(("host", "content-length", "transfer-encoding", "connection", "expect"))


class HeadParser:
    """`maybe_read_head` for one connection, remembering how far it already searched.

    Use one per connection when heads may arrive in many pieces: each call then scans only the new
    bytes for the end of the head. The caller may only append to `buf` between calls that return None.
    """

    __slots__ = ("config", "_searched")

    def __init__(self, config: Config) -> None:
        self.config = config
        self._searched = 0

    def maybe_read(self, buf: bytearray) -> RequestHead | None:
        lead = _leading_empty_lines(buf, self.config)
        end = buf.find(b"\r\n\r\n", max(lead, self._searched))
        if end < 0:
            _check_incomplete(buf, lead, max(lead, self._searched - 1), self.config)
            self._searched = max(0, len(buf) - 3)  # the CRLFCRLF may straddle old and new bytes
            return None
        self._searched = 0
        return _parse_head(buf, lead, end, self.config)


def maybe_read_head(buf: bytearray, config: Config) -> RequestHead | None:
    """If buf holds a complete request head, delete it from buf and return it; None = need more data.

    Raises ProtocolError (with the right status) as soon as the bytes so far are bad or over a limit.
    Stateless: each call searches `buf` from its start (bounded by the limits); a connection that is fed
    in many small pieces should keep a `HeadParser` instead.
    """
    lead = _leading_empty_lines(buf, config)
    end = buf.find(b"\r\n\r\n", lead)
    if end < 0:
        _check_incomplete(buf, lead, lead, config)
        return None
    return _parse_head(buf, lead, end, config)


def body_reader(head: RequestHead, config: Config) -> BodyReader | None:
    """The reader for this request's body, or None if it has none (RFC 9112 §6.3).

    A Content-Length above config.max_body_bytes raises ProtocolError 413 at once, so the caller can
    refuse before sending any 100 Continue.
    """
    if head.chunked:
        return ChunkedReader(config)
    if head.content_length:
        if head.content_length > config.max_body_bytes:
            raise ProtocolError(
                f"Content-Length {head.content_length} exceeds the limit of {config.max_body_bytes}", 413
            )
        return LengthReader(head.content_length)
    return None


def _leading_empty_lines(buf: bytearray, config: Config) -> int:
    """How many bytes of empty lines precede the request line (RFC 9112 §2.2 says to ignore them)."""
    if buf[:1] != b"\r":
        return 0
    lead = _LEADING_EMPTY_LINES.match(buf).end()
    # The tolerance is for a stray CRLF after a previous body; a flood of them is not a client bug.
    if lead > config.max_request_line:
        raise ProtocolError("too many empty lines before the request line")
    return lead


def _check_incomplete(buf: bytearray, lead: int, start: int, config: Config) -> None:
    """Fail early on an incomplete head: bad bytes, an over-long request line or header section."""
    check_incomplete_bytes(buf, start)
    limit = config.max_request_line
    line_end = buf.find(b"\r\n", lead, lead + limit + 2)
    if line_end < 0:
        if len(buf) - lead - buf.endswith(b"\r") > limit:  # a final CR may be the start of the CRLF
            raise ProtocolError(f"request line longer than {limit} bytes", 414)
        return
    _parse_request_line(buf[lead:line_end].decode("latin-1"))
    fields_start = line_end + 2
    if len(buf) - fields_start > config.max_header_bytes:
        raise ProtocolError(f"header section larger than {config.max_header_bytes} bytes", 431)
    if buf.count(b"\r\n", fields_start) > config.max_header_count:
        raise ProtocolError(f"more than {config.max_header_count} header fields", 431)


def _parse_head(buf: bytearray, lead: int, end: int, config: Config) -> RequestHead:
    """Parse the complete head buf[lead:end] (end is where its final CRLFCRLF starts) and consume it."""
    text = buf[lead:end].decode("latin-1")  # PEP 3333: header bytes travel as latin-1 str
    del buf[: end + 4]
    lines = split_lines(text)
    request_line = lines[0]
    if len(request_line) > config.max_request_line:
        raise ProtocolError(f"request line longer than {config.max_request_line} bytes", 414)
    # The header section: the field lines with their CRLFs, plus the final empty line.
    if len(text) - len(request_line) + 2 > config.max_header_bytes:
        raise ProtocolError(f"header section larger than {config.max_header_bytes} bytes", 431)
    if len(lines) - 1 > config.max_header_count:
        raise ProtocolError(f"more than {config.max_header_count} header fields", 431)

    method, target, version = _parse_request_line(request_line)
    del lines[0]
    headers = parse_fields(lines)

    framing: dict[str, list[str]] = {}
    for name, value in headers:
        if name in _FRAMING_FIELDS:
            framing.setdefault(name, []).append(value)

    host = _host(framing.get("host"), version)
    path, query, authority = _parse_target(method, target)
    if authority is not None:
        host = authority  # RFC 9112 §3.2.2: the absolute-form's authority replaces the Host field
    content_length, chunked = _framing(framing, version, config)
    connection = framing.get("connection")
    # RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
    if version == "HTTP/1.1":
        keep_alive = connection is None or "close" not in _tokens(connection)
        # RFC 9110 §10.1.1: only 100-continue is defined; a 1.0 request's expectation MUST be ignored.
        expect = framing.get("expect")
        expect_continue = expect is not None and "100-continue" in _tokens(expect)
    else:
        tokens = _tokens(connection) if connection is not None else ()
        keep_alive = "keep-alive" in tokens and "close" not in tokens
        expect_continue = False
    return RequestHead(
        method, target, path, query, version, headers, host, keep_alive, expect_continue,
        content_length, chunked,
    )  # fmt: skip


def _parse_request_line(line: str) -> tuple[str, str, str]:
    """(method, target, version) of a request line; HTTP/1.x above 1.1 is answered as 1.1."""
    match = _REQUEST_LINE.fullmatch(line)
    if match is None:
        raise ProtocolError(f"malformed request line {line[:100]!r}")
    method, target, version = match.groups()
    if method == "CONNECT":
        # We are an origin server, not a proxy: CONNECT is a method we do not implement (RFC 9110
        # §9.3.6, §15.6.2), whatever its authority-form target, so 501 says it better than 400.
        raise ProtocolError("CONNECT is not supported", 501)
    if version != "HTTP/1.1" and version != "HTTP/1.0":
        # RFC 9110 §2.5: a 1.x request with a minor version we do not know is served as our highest 1.x.
        if version[5] != "1":
            raise ProtocolError(f"HTTP version {version} not supported", 505)
        version = "HTTP/1.1"
    return method, target, version


def _parse_target(method: str, target: str) -> tuple[str, str, str | None]:
    """(path, query, authority or None) of a request-target (RFC 9112 §3.2)."""
    if target[0] == "/":  # origin-form
        if "#" in target:
            raise ProtocolError("fragment in request-target")
        path, _, query = target.partition("?")
        return path, query, None
    if target == "*":  # asterisk-form
        if method != "OPTIONS":
            raise ProtocolError('request-target "*" is only allowed with OPTIONS')
        return "*", "", None
    match = _ABSOLUTE_FORM.fullmatch(target)
    if match is None:
        raise ProtocolError(f"request-target {target[:100]!r} is neither origin-form nor absolute-form")
    scheme, authority, path, query = match.groups()
    if scheme.lower() not in ("http", "https"):
        raise ProtocolError(f"unsupported URI scheme {scheme!r} in request-target")
    if not authority or _AUTHORITY.fullmatch(authority) is None:
        raise ProtocolError(f"invalid authority {authority!r} in request-target")
    return path or "/", query or "", authority


def _host(values: list[str] | None, version: str) -> str | None:
    """The Host field's value, checked (RFC 9112 §3.2: exactly one on HTTP/1.1, a valid authority)."""
    if values is None:
        if version == "HTTP/1.1":
            raise ProtocolError("missing Host header")
        return None
    if len(values) > 1:
        raise ProtocolError("more than one Host header")
    host = values[0]
    if _AUTHORITY.fullmatch(host) is None:
        raise ProtocolError(f"invalid Host header {host[:100]!r}")
    return host


def _framing(framing: dict[str, list[str]], version: str, config: Config) -> tuple[int | None, bool]:
    """(content_length, chunked), following RFC 9112 §6.1 and §6.3 strictly (both prevent smuggling)."""
    lengths = framing.get("content-length")
    codings = framing.get("transfer-encoding")
    if codings is not None:
        if version == "HTTP/1.0":
            # RFC 9112 §6.1: a 1.0 message with Transfer-Encoding has faulty framing.
            raise ProtocolError("Transfer-Encoding in an HTTP/1.0 request")
        if lengths is not None:
            raise ProtocolError("both Content-Length and Transfer-Encoding")
        # Only "chunked" alone: we decode no other coding (RFC 9112 §6.1: 501), and chunked twice
        # would be a coding applied twice.
        if [coding.lower() for coding in _list(codings)] != ["chunked"]:
            raise ProtocolError(f"unsupported Transfer-Encoding {', '.join(codings)[:100]!r}", 501)
        return None, True
    if lengths is None:
        return None, False
    # RFC 9112 §6.3 step 5: a list of identical values ("5, 5") is that value; anything else is fatal.
    values = set(_list(lengths))
    if len(values) != 1:
        raise ProtocolError("conflicting Content-Length values")
    value = values.pop()
    if _DIGITS.fullmatch(value) is None:
        raise ProtocolError(f"invalid Content-Length {value[:100]!r}")
    # A digit string longer than the limit's cannot be below it; checked before int(), which refuses
    # strings of thousands of digits.
    if len(value.lstrip("0")) > len(str(config.max_body_bytes)):
        raise ProtocolError(f"Content-Length exceeds the limit of {config.max_body_bytes}", 413)
    return int(value), False


def _list(values: list[str]) -> list[str]:
    """The elements of a comma-separated field across all its lines (RFC 9110 §5.6.1)."""
    return [item.strip(" \t") for value in values for item in value.split(",")]


def _tokens(values: list[str]) -> set[str]:
    """A case-insensitive token list (Connection, Expect) as a set of lower-case tokens."""
    return {item.lower() for item in _list(values)}
