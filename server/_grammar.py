"""What the request head and the chunked trailers share: the error type and the field-line grammar.

Kept apart from `http11.py` so the body readers (`_body.py`) can use both without an import cycle.
"""

from __future__ import annotations

import re

__all__ = ["ProtocolError", "check_incomplete_bytes", "parse_fields", "split_lines"]


class ProtocolError(Exception):
    """A request we will not serve. `status` is the response to send (then close)."""

    status: int  # 400, 408, 413, 414, 431, 501, 505

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# Bytes that can never appear in a head or trailer section (CTLs other than HTAB, a CR not followed by LF,
# an LF not preceded by CR). Searched in incomplete sections so bad input fails at once, not at the
# timeout. "\r(?=[^\n])" needs a following byte, so a CR at the end of the buffer still waits for its LF.
_BAD_BYTE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?=[^\n])|(?<!\r)\n")

# RFC 9112 §5: field-line = field-name ":" OWS field-value OWS. field-name is a token (RFC 9110 §5.1), so
# whitespace before the colon and obs-fold (a line starting with SP/HTAB) cannot match; field-value is
# VCHAR/obs-text with inner SP/HTAB (RFC 9110 §5.5), so no CTL, CR, LF or NUL can match either.
_FIELD_LINE = re.compile(
    r"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*"
    r"((?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?)[ \t]*"
).fullmatch


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


def split_lines(text: str) -> list[str]:
    """The CRLF-separated lines of a complete section; ProtocolError 400 on a bare CR or LF."""
    lines = text.split("\r\n")
    # Every CR and LF must belong to a CRLF that split() consumed.
    if text.count("\r") != len(lines) - 1 or text.count("\n") != len(lines) - 1:
        raise ProtocolError("bare CR or LF (lines must end with CRLF)")
    return lines


def parse_fields(lines: list[str]) -> list[tuple[str, str]]:
    """[(lower-case name, value without surrounding OWS)] of field lines (CRLFs already removed)."""
    fields = []
    for line in lines:
        match = _FIELD_LINE(line)
        if match is None:
            raise ProtocolError(_field_error(line))
        name, value = match.groups()
        fields.append((name.lower(), value))
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
    if re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name) is None:
        return f"invalid header name {name[:100]!r}"
    return f"invalid character in the value of header {name[:100]!r}"
