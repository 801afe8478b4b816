"""A small, strict ``multipart/form-data`` parser (RFC 7578, framing from RFC 2046 §5.1.1).

The body is parsed as a stream: chunks (64 KiB reads of ``wsgi.input``) in, ``(fields, files)`` out,
or :class:`BadRequest` saying what is wrong. A delimiter may be cut by a chunk edge, so the last
``len(delimiter) - 1`` bytes of the buffer are held back until the next chunk shows what they are. File
parts are written as they arrive into a ``SpooledTemporaryFile`` (memory up to ``SPOOL_BYTES``, 500 KiB as
in Flask/werkzeug, a temporary file beyond), so an upload costs the server disk, not memory. Text fields
stay in memory (bounded by the app's ``max_body_bytes``). No ``cgi`` module (deprecated, PEP 594) and no
``email`` parser (it guesses charsets and forgives broken framing).
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from collections.abc import Iterable
from typing import BinaryIO
from urllib.parse import unquote

from .datastructures import FileStorage, MultiDict
from .errors import BadRequest
from .messages import message

__all__ = ["MAX_PART_HEADER_BYTES", "SPOOL_BYTES", "parse_multipart", "parse_options_header"]

#: File parts larger than this go to a temporary file (werkzeug's default threshold is also 500 KiB).
SPOOL_BYTES = 500 * 1024
#: The header block of one part (Content-Disposition, Content-Type) may not be longer than this.
MAX_PART_HEADER_BYTES = 16 * 1024

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
        raise BadRequest(message("multipart.not_utf8", what=what)) from None


def _parse_headers(head: bytes) -> tuple[str, str | None, str]:
    """A part's header block -> (field name, filename or None, content type)."""
    headers: dict[str, str] = {}
    for line in _decode(head, "part headers").split("\r\n"):
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise BadRequest(message("multipart.bad_header"))
        headers[name.strip().lower()] = value.strip()
    disposition, params = parse_options_header(headers.get("content-disposition", ""))
    if disposition != "form-data" or "name" not in params:
        raise BadRequest(message("multipart.no_disposition"))
    content_type = headers.get(
        "content-type", "text/plain" if "filename" not in params else "application/octet-stream"
    )
    return params["name"], params.get("filename"), content_type


class _Source:
    """The body as a buffer that is refilled from the chunks on demand (``more()`` is False at the end)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        # Prefixing CRLF lets the first delimiter (which may open the body) look like every other one.
        self.buf = bytearray(b"\r\n")

    def more(self) -> bool:
        for chunk in self._chunks:
            if chunk:
                self.buf += chunk
                return True
        return False


def parse_multipart(
    body: bytes | Iterable[bytes],
    content_type: str,
    max_parts: int = 1000,
    *,
    spool_bytes: int = SPOOL_BYTES,
    max_header_bytes: int = MAX_PART_HEADER_BYTES,
) -> tuple[MultiDict, MultiDict]:
    """Split a ``multipart/form-data`` body into text fields and uploaded files (at most ``max_parts``).

    ``body`` is the whole body or an iterable of its chunks (read lazily, one at a time). Text fields are
    kept in memory; file parts go to ``SpooledTemporaryFile(max_size=spool_bytes)`` (on disk beyond).
    """
    _, params = parse_options_header(content_type)
    boundary = params.get("boundary", "")
    if not _BOUNDARY.match(boundary):
        raise BadRequest(message("multipart.bad_boundary"))
    delimiter = b"\r\n--" + boundary.encode("ascii")
    keep = len(delimiter) - 1  # bytes that may be the start of a delimiter cut by a chunk edge
    source = _Source([body] if isinstance(body, bytes | bytearray) else body)
    buf = source.buf
    fields, files = MultiDict(), MultiDict()

    # The preamble, which RFC 2046 says to ignore: skip to the first delimiter.
    while (at := buf.find(delimiter)) < 0:
        del buf[: max(0, len(buf) - keep)]
        if not source.more():
            raise BadRequest(message("multipart.truncated"))
    del buf[: at + len(delimiter)]
    parts = 0
    while True:
        # After a delimiter: "--" (the close delimiter; the rest is the epilogue), or optional transport
        # padding (spaces/tabs), then CRLF.
        while len(buf) < 2 or (buf[:2] != b"--" and (line_end := buf.find(b"\r\n")) < 0):
            if len(buf) > max_header_bytes or not source.more():
                raise BadRequest(message("multipart.no_line_break"))
        if buf[:2] == b"--":
            return fields, files
        if buf[:line_end].strip(b" \t"):
            raise BadRequest(message("multipart.no_line_break"))
        del buf[: line_end + 2]
        parts += 1
        if parts > max_parts:
            raise BadRequest(message("multipart.too_many_parts", limit=max_parts))

        # The part's headers, up to the blank line (none at all when the part starts with CRLF).
        while True:
            blank = 0 if buf[:2] == b"\r\n" else buf.find(b"\r\n\r\n")
            next_delimiter = buf.find(delimiter)
            if next_delimiter >= 0 and (blank < 0 or next_delimiter <= blank):
                raise BadRequest(message("multipart.no_blank_line"))
            if blank >= 0:
                break
            if len(buf) > max_header_bytes:
                raise BadRequest(message("multipart.headers_too_large", limit=max_header_bytes))
            if not source.more():
                raise BadRequest(message("multipart.no_blank_line"))
        if blank > max_header_bytes:
            raise BadRequest(message("multipart.headers_too_large", limit=max_header_bytes))
        name, filename, part_type = _parse_headers(bytes(buf[:blank]))
        del buf[: blank + (2 if blank == 0 else 4)]

        # The payload, up to the next delimiter; all but the last `keep` bytes can go out at once.
        sink: BinaryIO = (
            io.BytesIO() if filename is None else tempfile.SpooledTemporaryFile(max_size=spool_bytes)  # noqa: SIM115 - owned by FileStorage
        )
        while (at := buf.find(delimiter)) < 0:
            if len(buf) > keep:
                sink.write(buf[: len(buf) - keep])
                del buf[: len(buf) - keep]
            if not source.more():
                sink.close()
                raise BadRequest(message("multipart.truncated"))
        sink.write(buf[:at])
        del buf[: at + len(delimiter)]
        if filename is None:
            fields.add(name, _decode(sink.getvalue(), f"field {name!r}"))  # type: ignore[attr-defined]
        elif filename or sink.tell():  # browsers send an empty, nameless part for an empty file input
            files.add(name, FileStorage(sink, filename, part_type, name))
        else:
            sink.close()
