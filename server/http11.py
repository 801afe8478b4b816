"""The HTTP/1.1 request grammar (RFC 9112), sans-I/O: bytes in, a parsed request head out.

Nothing here touches a socket. The caller appends whatever it received to a `bytearray` and asks:

    buf ──► maybe_read_head(buf, config) ──► RequestHead | None ("need more data") | raise ProtocolError
            (or HeadParser(config).maybe_read(buf), which remembers how far it looked)
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
from server._grammar import TOKEN, ProtocolError, check_incomplete_bytes, parse_fields, split_lines
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
    """A parsed request line and header section, with the framing facts the connection acts on."""

    method: str  # as sent (a token; case-sensitive per RFC 9110 §9.1)
    target: str  # request-target as sent (latin-1 str)
    path: str  # still percent-encoded; "/" for an absolute-form target without path; "*" for OPTIONS *
    query: str  # raw query without "?" ("" if none)
    version: str  # "HTTP/1.1" or "HTTP/1.0"
    # (name lower-cased, value with surrounding OWS stripped), in order; with an absolute-form target,
    # ("host", its authority) last instead of any Host field (RFC 9112 §3.2.2)
    headers: list[tuple[str, str]]
    host: str | None  # absolute-form authority wins over the Host header (RFC 9112 §3.2.2)
    keep_alive: bool  # RFC 9112 §9.3
    expect_continue: bool  # "Expect: 100-continue" on HTTP/1.1
    content_length: int | None  # None when absent or chunked
    chunked: bool  # Transfer-Encoding: chunked


# RFC 9112 §3: request-line = method SP request-target SP HTTP-version; HTTP-version = "HTTP/" DIGIT "."
# DIGIT, case-sensitive (§2.3). The target may carry obs-text (see the module docstring).
_VERSION = re.compile(r"HTTP/[0-9]\.[0-9]").fullmatch
_COMMON_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"))
# RFC 3986 §3.2: authority = host [":" port], host = IP-literal / IPv4address / reg-name. No userinfo:
# RFC 9110 §4.2.4 forbids it in http(s) URIs. An empty host is allowed (RFC 9112 §3.2).
_AUTHORITY = re.compile(
    r"(?:\[[0-9A-Za-z:._~%!$&'()*+,;=-]+\]|[0-9A-Za-z._~%!$&'()*+,;=-]*)(?::[0-9]*)?"
).fullmatch
# RFC 3986 §3: scheme "://" authority path-abempty [ "?" query ]
_ABSOLUTE_FORM = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)(?:\?([^#]*))?")
_LEADING_EMPTY_LINES = re.compile(rb"(?:\r\n)*")
_DIGITS = re.compile(r"[0-9]+")
# The fields that say how long the body is or what becomes of the connection (RFC 9112 §6, §9.3; RFC 9110
# §10.1.1). A head with none of them, the common GET, skips their rules.
_CONNECTION_FIELDS = frozenset(("content-length", "transfer-encoding", "connection", "expect"))


class HeadParser:
    """`maybe_read_head` for one connection, remembering what it already checked.

    Use one per connection: while a head arrives in pieces, each call looks only at the new bytes (for
    the end of the head, bad bytes, CRLFs to count), so a slow client costs O(n), not O(n²). Between
    calls that return None the caller may only append to `buf`; after a head is returned the parser is
    fresh for the next one.
    """

    __slots__ = ("config", "_small_head", "_searched", "_fields_start", "_counted", "_field_lines", "_host")

    def __init__(self, config: Config) -> None:
        self.config = config
        # A head no longer than this is within both size limits, so the usual head costs one comparison
        # (the header section is the head minus its request line, plus the final CRLF).
        self._small_head = min(config.max_request_line, config.max_header_bytes - 2)
        # The Host last validated on this connection: keep-alive clients repeat it, so it is checked once
        # per connection. Per parser, not process-wide, so a head's fate never depends on other clients'
        # traffic, and no lock is needed (a connection, and its parser, belongs to one thread at a time).
        self._host: str | None = None
        self._reset()

    def _reset(self) -> None:
        self._searched = 0  # buf[:_searched] was searched (for CRLFCRLF, bad bytes, the request line)
        self._fields_start = 0  # where the field lines start, once the request line is complete
        self._counted = 0  # CRLFs of field lines in buf[_fields_start:_counted] ...
        self._field_lines = 0  # ... are this many

    def maybe_read(self, buf: bytearray) -> RequestHead | None:
        """Same contract as `maybe_read_head`."""
        config = self.config
        lead = _leading_empty_lines(buf, config) if buf and buf[0] == 13 else 0  # 13: CR
        # Back up three bytes: the CRLFCRLF may straddle the old and the new bytes.
        searched = self._searched
        end = buf.find(b"\r\n\r\n", searched - 3 if searched > lead + 3 else lead)
        if end < 0:
            self._check_incomplete(buf, lead)
            return None
        if searched:  # the head came in pieces: forget what was checked of it
            self._reset()

        # The head is buf[lead:end], its final CRLFCRLF at end: parse it, then consume it.
        lines = split_lines(buf[lead:end])
        if end - lead > self._small_head or len(lines) > config.max_header_count:
            _check_limits(lines, end - lead, config)
        method, target, version = _parse_request_line(lines[0])
        del lines[0]  # the field lines remain
        headers = parse_fields(lines)

        fields = dict(headers)
        if len(fields) != len(headers):  # some name repeated; rare, so off the fast path
            fields = _combine(headers)
        host = fields.get("host")
        if host is None or host != self._host:
            host = self._host = _host(host, version)
        if target[0] == "/" and "#" not in target:  # origin-form, the common case (see _parse_target)
            path, _, query = target.partition("?")
        else:
            path, query, authority = _parse_target(method, target)
            if authority is not None:
                # RFC 9112 §3.2.2: the absolute-form's authority replaces the Host field, also in the fields
                # passed on (so a WSGI app's HTTP_HOST is the authority, at no cost to other requests).
                host = authority
                headers = [field for field in headers if field[0] != "host"]
                headers.append(("host", authority))
        if _CONNECTION_FIELDS.isdisjoint(fields):  # no body, nothing said about the connection: a plain GET
            content_length, chunked, expect_continue = None, False, False
            keep_alive = version == "HTTP/1.1"  # RFC 9112 §9.3: 1.1 persists by default, 1.0 does not
        else:
            content_length, chunked, keep_alive, expect_continue = _connection_facts(fields, version, config)
        del buf[: end + 4]  # only now: a refused head stays, so the access log can show its request line
        return RequestHead(
            method, target, path, query, version, headers, host, keep_alive, expect_continue,
            content_length, chunked,
        )  # fmt: skip

    def _check_incomplete(self, buf: bytearray, lead: int) -> None:
        """Fail early on an incomplete head: bad bytes, an over-long request line or header section."""
        config = self.config
        # Back up a few bytes: a CRLF or a bare CR may straddle the old and the new bytes.
        start = max(lead, self._searched - 3)
        check_incomplete_bytes(buf, start)
        self._searched = len(buf)
        if not self._fields_start:
            limit = config.max_request_line
            line_end = buf.find(b"\r\n", start, lead + limit + 2)
            if line_end < 0:
                if len(buf) - lead - buf.endswith(b"\r") > limit:  # a final CR may start the CRLF
                    raise ProtocolError(f"request line longer than {limit} bytes", 414)
                return
            _parse_request_line(buf[lead:line_end].decode("latin-1"))
            self._fields_start = self._counted = line_end + 2
        if len(buf) - self._fields_start > config.max_header_bytes:
            raise ProtocolError(f"header section larger than {config.max_header_bytes} bytes", 431)
        counted = len(buf) - buf.endswith(b"\r")  # a CR at the end is counted with its LF, next time
        self._field_lines += buf.count(b"\r\n", self._counted, counted)
        self._counted = counted
        if self._field_lines > config.max_header_count:
            raise ProtocolError(f"more than {config.max_header_count} header fields", 431)


def maybe_read_head(buf: bytearray, config: Config) -> RequestHead | None:
    """If buf holds a complete request head, delete it from buf and return it; None = need more data.

    Raises ProtocolError (with the right status) as soon as the bytes so far are bad or over a limit —
    a request line with no CRLF within max_request_line bytes is a 414 at once, a header section past
    max_header_bytes a 431, without waiting for the end. Stateless, so an incomplete head is checked
    from its start on every call; a connection fed in many small pieces should keep a `HeadParser`.
    """
    return HeadParser(config).maybe_read(buf)


def body_reader(head: RequestHead, config: Config) -> BodyReader | None:
    """The reader for this request's body, or None if it has none (RFC 9112 §6.3).

    A declared length is within config.max_body_bytes (the head was refused with 413 otherwise); a
    chunked body is held to it as it arrives.
    """
    if head.chunked:
        return ChunkedReader(config)
    if head.content_length:
        return LengthReader(head.content_length)
    return None


def _leading_empty_lines(buf: bytearray, config: Config) -> int:
    """How many bytes of empty lines precede the request line (RFC 9112 §2.2 says to ignore them)."""
    lead = _LEADING_EMPTY_LINES.match(buf).end()
    # The tolerance is for a stray CRLF after a previous body; a flood of them is not a client bug.
    if lead > config.max_request_line:
        raise ProtocolError("too many empty lines before the request line")
    return lead


def _check_limits(lines: list[str], size: int, config: Config) -> None:
    """The size limits of a complete head of `size` bytes (without its final CRLFCRLF)."""
    line_length = len(lines[0])
    if line_length > config.max_request_line:
        raise ProtocolError(f"request line longer than {config.max_request_line} bytes", 414)
    # The header section: the field lines with their CRLFs, plus the final empty line.
    if size - line_length + 2 > config.max_header_bytes:
        raise ProtocolError(f"header section larger than {config.max_header_bytes} bytes", 431)
    if len(lines) - 1 > config.max_header_count:
        raise ProtocolError(f"more than {config.max_header_count} header fields", 431)


def _connection_facts(
    fields: dict[str, str], version: str, config: Config
) -> tuple[int | None, bool, bool, bool]:
    """(content_length, chunked, keep_alive, expect_continue) of a head with a `_CONNECTION_FIELDS` field."""
    if "content-length" in fields or "transfer-encoding" in fields:
        content_length, chunked = _framing(fields, version, config)
    else:  # no body (RFC 9112 §6.3 step 7)
        content_length, chunked = None, False
    connection = fields.get("connection")
    # RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
    if version == "HTTP/1.1":
        keep_alive = connection is None or "close" not in _tokens(connection)
        # RFC 9110 §10.1.1: only 100-continue is defined; a 1.0 request's expectation MUST be ignored.
        expect = fields.get("expect")
        expect_continue = expect is not None and "100-continue" in _tokens(expect)
    else:
        tokens = _tokens(connection) if connection is not None else ()
        keep_alive = "keep-alive" in tokens and "close" not in tokens
        expect_continue = False
    return content_length, chunked, keep_alive, expect_continue


def _combine(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Field lines with the same name joined into one comma-separated value (RFC 9110 §5.3).

    Host is the exception: it is a single value, and two of them are refused (RFC 9112 §3.2).
    """
    fields: dict[str, str] = {}
    for name, value in headers:
        if name not in fields:
            fields[name] = value
        elif name == "host":
            raise ProtocolError("more than one Host header")
        else:
            fields[name] += ", " + value
    return fields


def _parse_request_line(line: str) -> tuple[str, str, str]:
    """(method, target, version) of a request line without CTLs; HTTP/1.x above 1.1 is served as 1.1."""
    try:
        method, target, version = line.split(" ")
    except ValueError:  # not three parts
        raise ProtocolError(f"malformed request line {line[:100]!r}") from None
    if method not in _COMMON_METHODS:
        if TOKEN(method) is None:
            raise ProtocolError(f"invalid method {method[:100]!r}")
        if method == "CONNECT":
            # We are an origin server, not a proxy: CONNECT is a method we do not implement (RFC 9110
            # §9.3.6, §15.6.2), whatever its authority-form target, so 501 says it better than 400.
            raise ProtocolError("CONNECT is not supported", 501)
    # What is left of VCHAR/obs-text once split() and the CTL check have run: refuse an empty target
    # and HTAB (allowed in field values, so not caught by the CTL check).
    if not target or "\t" in target:
        raise ProtocolError(f"invalid request-target {target[:100]!r}")
    if version != "HTTP/1.1" and version != "HTTP/1.0":
        if _VERSION(version) is None:
            raise ProtocolError(f"malformed HTTP version {version[:100]!r}")
        # RFC 9110 §2.5: a 1.x request with a minor version we do not know is served as our highest 1.x.
        if version[5] != "1":
            raise ProtocolError(f"HTTP version {version} not supported", 505)
        version = "HTTP/1.1"
    return method, target, version


def _parse_target(method: str, target: str) -> tuple[str, str, str | None]:
    """(path, query, authority or None) of a request-target (RFC 9112 §3.2) other than a plain origin-form
    one: `maybe_read` splits an origin-form target without "#" itself (the common case, no call)."""
    if target[0] == "/":  # origin-form, so with a fragment, which a request-target cannot carry
        raise ProtocolError("fragment in request-target")
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
    if not authority or _AUTHORITY(authority) is None:
        raise ProtocolError(f"invalid authority {authority!r} in request-target")
    return path or "/", query or "", authority


def _host(host: str | None, version: str) -> str | None:
    """The Host field's value, checked (RFC 9112 §3.2: required on HTTP/1.1, a valid authority)."""
    if host is None:
        if version == "HTTP/1.1":
            raise ProtocolError("missing Host header")
        return None
    if _AUTHORITY(host) is None:
        raise ProtocolError(f"invalid Host header {host[:100]!r}")
    return host


def _framing(fields: dict[str, str], version: str, config: Config) -> tuple[int | None, bool]:
    """(content_length, chunked), following RFC 9112 §6.1 and §6.3 strictly (both prevent smuggling).

    Only for fields with a Content-Length or a Transfer-Encoding: `_connection_facts` checks first.
    """
    codings = fields.get("transfer-encoding")
    if codings is not None:
        if version == "HTTP/1.0":
            # RFC 9112 §6.1: a 1.0 message with Transfer-Encoding has faulty framing.
            raise ProtocolError("Transfer-Encoding in an HTTP/1.0 request")
        if "content-length" in fields:
            raise ProtocolError("both Content-Length and Transfer-Encoding")
        # Only "chunked" alone: we decode no other coding (RFC 9112 §6.1: 501), and chunked twice
        # would be a coding applied twice. Empty list elements ("chunked," / ", chunked") are refused
        # as well, although RFC 9110 §5.6.1.2 lets a recipient ignore a few: in the field that decides
        # where a request ends, refusing fails closed (no proxy can read the list differently from us
        # and smuggle a request past it), as h11 and gunicorn do.
        if [coding.lower() for coding in _list(codings)] != ["chunked"]:
            raise ProtocolError(f"unsupported Transfer-Encoding {codings[:100]!r}", 501)
        return None, True
    lengths = fields["content-length"]  # present: the caller's check, and no Transfer-Encoding
    # RFC 9112 §6.3 step 5: a list of identical values ("5, 5") is that value; anything else is fatal.
    value = lengths
    if "," in value:
        values = set(_list(value))
        if len(values) != 1:
            raise ProtocolError(f"conflicting Content-Length values {lengths[:100]!r}")
        value = values.pop()
    if _DIGITS.fullmatch(value) is None:
        raise ProtocolError(f"invalid Content-Length {value[:100]!r}")
    # The one check of a declared length against max_body_bytes: here, with the head, so the 413 goes out
    # before any 100 Continue and the client need not send the body. A digit string longer than the
    # limit's is over it, which is tested first: int() refuses strings of thousands of digits.
    limit = config.max_body_bytes
    if len(value.lstrip("0")) > len(str(limit)) or int(value) > limit:
        raise ProtocolError(f"Content-Length {value[:100]} exceeds the limit of {limit}", 413)
    return int(value), False


def _list(value: str) -> list[str]:
    """The elements of a comma-separated field value (RFC 9110 §5.6.1)."""
    return [item.strip(" \t") for item in value.split(",")]


def _tokens(value: str) -> set[str]:
    """A case-insensitive token list (Connection, Expect) as a set of lower-case tokens."""
    value = value.lower()
    if "," not in value:  # the common case: a single token
        return {value}
    return set(_list(value))
