"""A small, strict ``multipart/form-data`` parser (RFC 7578, framing from RFC 2046 §5.1.1).

The body is already in memory and bounded by ``max_body_bytes``, so this parses bytes, not a stream:
bytes in, ``(fields, files)`` out, or :class:`BadRequest` saying what is wrong. No ``cgi`` module
(deprecated, PEP 594) and no ``email`` parser (it guesses charsets and forgives broken framing).
"""

from __future__ import annotations

import contextlib
import re
from urllib.parse import unquote

from .datastructures import FileStorage, MultiDict
from .errors import BadRequest

__all__ = ["parse_multipart", "parse_options_header"]

# A header parameter: name=token or name="quoted string" (RFC 9110 §5.6.6); backslash escapes allowed.
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
# RFC 2046 §5.1.1: a boundary is 1 to 70 characters, not ending in a space. Its grammar allows fewer
# characters than this, but some clients (WebTest's "$", for one) stray; any visible ASCII is harmless.
_BOUNDARY = re.compile(r"^[\x20-\x7e]{0,69}[\x21-\x7e]$")


def parse_options_header(value: str) -> tuple[str, dict[str, str]]:
    """``'form-data; name="a"'`` -> ``("form-data", {"name": "a"})``; keys lower-cased.

    ``filename*=UTF-8''...`` (RFC 8187) is decoded and wins over ``filename``.
    """
    main, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for match in _PARAM.finditer(";" + rest):
        key, raw = match.group(1).lower(), match.group(2).strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        if key.endswith("*"):
            charset, _, encoded = raw.partition("''")
            if charset.lower() not in ("utf-8", "us-ascii") or not encoded:
                continue
            # An undecodable extended value is ignored: the plain parameter, if any, stands.
            with contextlib.suppress(UnicodeDecodeError):
                params[key[:-1]] = unquote(encoded, encoding="utf-8", errors="strict")
            continue
        params.setdefault(key, raw)
    return main.strip().lower(), params


def _decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"The multipart {what} is not valid UTF-8.") from None


def _parse_part(part: bytes) -> tuple[str, str | None, str, bytes]:
    """One part -> (field name, filename or None, content type, payload)."""
    head, sep, payload = part.partition(b"\r\n\r\n")
    if not sep:
        if part.startswith(b"\r\n"):  # a part with no headers at all
            head, payload = b"", part[2:]
        else:
            raise BadRequest("A multipart part has no blank line after its headers.")
    headers: dict[str, str] = {}
    for line in _decode(head, "part headers").split("\r\n"):
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise BadRequest("A multipart part has a malformed header line.")
        headers[name.strip().lower()] = value.strip()
    disposition, params = parse_options_header(headers.get("content-disposition", ""))
    if disposition != "form-data" or "name" not in params:
        raise BadRequest('Each multipart part needs "Content-Disposition: form-data; name=...".')
    content_type = headers.get(
        "content-type", "text/plain" if "filename" not in params else "application/octet-stream"
    )
    return params["name"], params.get("filename"), content_type, payload


def parse_multipart(body: bytes, content_type: str, max_parts: int = 1000) -> tuple[MultiDict, MultiDict]:
    """Split a ``multipart/form-data`` body into text fields and uploaded files (at most ``max_parts``)."""
    _, params = parse_options_header(content_type)
    boundary = params.get("boundary", "")
    if not _BOUNDARY.match(boundary):
        raise BadRequest("The multipart body has a missing or invalid boundary.")
    delimiter = b"\r\n--" + boundary.encode("ascii")
    # Prefixing CRLF lets the first delimiter (which may open the body) look like every other one.
    chunks = (b"\r\n" + body).split(delimiter, max_parts + 1)
    if len(chunks) > max_parts + 1 and not chunks[-1].startswith(b"--"):
        raise BadRequest(f"The multipart body has more than {max_parts} parts.")
    fields, files = MultiDict(), MultiDict()
    closed = False
    for chunk in chunks[1:]:  # chunks[0] is the preamble, which RFC 2046 says to ignore
        if chunk.startswith(b"--"):
            closed = True  # the close delimiter; anything after it is the epilogue
            break
        # After the delimiter: optional transport padding (spaces/tabs), then CRLF.
        line_end = chunk.find(b"\r\n")
        if line_end < 0 or chunk[:line_end].strip(b" \t"):
            raise BadRequest("A multipart delimiter is not followed by a line break.")
        name, filename, part_type, payload = _parse_part(chunk[line_end + 2 :])
        if filename is None:
            fields.add(name, _decode(payload, f"field {name!r}"))
        elif filename or payload:  # browsers send an empty, nameless part for an empty file input
            files.add(name, FileStorage(payload, filename, part_type, name))
    if not closed:
        raise BadRequest("The multipart body is truncated (no closing boundary).")
    return fields, files
