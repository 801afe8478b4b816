"""What the request head and the chunked trailers share: the error type and the field-line grammar.

Kept apart from `http11.py` so the body readers (`_body.py`) can use both without an import cycle.
The checks run over a whole section at C speed (`str.isprintable` and `str.split`; `bytes.translate`
when that is not enough) rather than a regular expression over every character: on this path that is
most of the parsing cost.
"""

from __future__ import annotations

import re

__all__ = ["TOKEN", "TOKEN_PATTERN", "ProtocolError", "check_incomplete_bytes", "parse_fields", "split_lines"]


class ProtocolError(Exception):
    """A request we will not serve. `status` is the response to send (then close)."""

    status: int  # 400, 408, 413, 414, 431, 501, 505

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# RFC 9110 §5.6.2: token = 1*tchar. Field names, methods and chunk extension names are tokens.
TOKEN_PATTERN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
TOKEN = re.compile(TOKEN_PATTERN).fullmatch

# CTLs other than HTAB, CR and LF (RFC 5234 B.1): never allowed in a request line or field line
# (RFC 9110 §5.5). CR and LF are allowed only as CRLF, which `split_lines` checks by counting.
_CTL = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# The same, plus a CR not followed by LF and an LF not preceded by CR, for incomplete sections: searched
# so bad input fails at once, not at the timeout. "\r(?=[^\n])" needs a following byte, so a CR at the
# end of the buffer still waits for its LF.
_BAD_BYTE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?=[^\n])|(?<!\r)\n")

# Field names most requests carry, as sent by browsers, curl and HTTP libraries: a lookup in this fixed
# table both validates the name and lower-cases it. Other names take the regular expression.
_COMMON_NAME_LIST = (
    "host", "user-agent", "accept", "accept-encoding", "accept-language", "accept-charset", "connection",
    "keep-alive", "content-length", "content-type", "transfer-encoding", "expect", "cookie", "referer",
    "origin", "authorization", "cache-control", "pragma", "upgrade", "if-modified-since", "if-none-match",
    "if-match", "if-unmodified-since", "if-range", "range", "upgrade-insecure-requests", "dnt", "te", "via",
    "forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip",
    "x-requested-with", "x-request-id", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest",
    "sec-fetch-user", "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "priority",
)  # fmt: skip
_COMMON_NAMES = {
    spelling: name for name in _COMMON_NAME_LIST for spelling in (name, name.title(), name.upper())
}


def check_incomplete_bytes(buf: bytearray, start: int) -> None:
    """Raise ProtocolError 400 if buf[start:] holds a byte no head or trailer section may contain."""
    bad = _BAD_BYTE.search(buf, start)
    if bad is None:
        return
    byte = bad.group()
    if byte[:1] == b"\r":
        raise ProtocolError("bare CR (lines must end with CRLF)")
    if byte == b"\n":
        raise ProtocolError("bare LF (lines must end with CRLF)")
    raise ProtocolError(f"control character {byte!r} in a header or request line")


def split_lines(section: bytearray) -> list[str]:
    """The lines of a complete section (no final CRLF), decoded as latin-1 (PEP 3333).

    ProtocolError 400 on a control character, a bare CR or a bare LF.
    """
    text = section.decode("latin-1")
    # Fast path: with its CRLFs taken out, a clean section is printable (str.isprintable is false for
    # every CTL, CR and LF), so one C scan clears it. HTAB and some obs-text (0x80-0xA0, 0xAD) are not
    # "printable" yet allowed: those sections take the exact check below.
    if not text.replace("\r\n", "").isprintable():
        _check_section(section, text)
    return text.split("\r\n")


def _check_section(section: bytearray, text: str) -> None:
    """The exact check behind `split_lines`' fast path: no CTL but HTAB; CR and LF only as CRLF."""
    bad = section.translate(None, _CTL)
    if bad != section:  # something was deleted
        ctl = section.translate(None, bad)[:1]
        raise ProtocolError(f"control character {bytes(ctl)!r} in a header or request line")
    # Every CR and LF must belong to a CRLF.
    crlfs = text.count("\r\n")
    if text.count("\r") != crlfs or text.count("\n") != crlfs:
        raise ProtocolError("bare CR or LF (lines must end with CRLF)")


def parse_fields(lines: list[str]) -> list[tuple[str, str]]:
    """[(lower-case name, value without surrounding OWS)] of the field lines `lines`.

    RFC 9112 §5: field-line = field-name ":" OWS field-value OWS, field-name a token. So whitespace
    before the colon and obs-fold (a line starting with SP/HTAB) are refused; the value's characters
    were checked by `split_lines` (RFC 9110 §5.5: no CTL but HTAB).
    """
    fields = []
    for line in lines:
        name, colon, value = line.partition(":")
        lower = _COMMON_NAMES.get(name)
        if lower is None:
            if TOKEN(name) is None:
                raise ProtocolError(_field_error(line))
            lower = name.lower()
        if not colon:
            raise ProtocolError(_field_error(line))
        fields.append((lower, value.strip(" \t")))
    return fields


def _field_error(line: str) -> str:
    """Why a field line was refused, in words a client developer can act on."""
    if line[:1] in (" ", "\t"):
        return "obs-fold (a header line starting with whitespace) is not allowed"
    name, colon, _ = line.partition(":")
    if not colon:
        return f"header line without a colon: {line[:100]!r}"
    if not name:
        return "empty header name"
    if name != name.rstrip(" \t"):
        return f"whitespace between header name {name.rstrip()[:100]!r} and colon"
    return f"invalid header name {name[:100]!r}"
