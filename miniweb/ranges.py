"""Byte ranges (RFC 9110 §14): which part of a file a GET asks for, and a body that sends only that part.

    Range: bytes=0-1023 ─► requested_range() ─► None: the whole file (200)
                                          ├─► (start, stop): 206 + Content-Range, body = file_part()
                                          └─► RangeNotSatisfiable raised: 416, "Content-Range: bytes */size"

Used by ``send_file`` and ``StaticFiles``. The rules, in RFC 9110's order:
- Only GET has range semantics (§14.2); any other method, an unknown unit, or a header that does not
  parse is ignored: the whole representation is sent, as §14.2 allows ("a server MAY ignore").
- ``If-Range`` (§13.1.5) with an entity-tag uses the strong comparison; with a date, the range applies only
  if it equals Last-Modified exactly. When it does not match, the whole file is sent (200).
- One range (overlapping or adjacent ones are first merged) gets a 206. Several disjoint ranges are not
  served as ``multipart/byteranges``: the whole file is sent with 200 instead, which §14.2 allows and
  which browsers, media players and download managers (all of which ask for one range) never notice.
- None of the ranges overlapping the file is a 416 with ``Content-Range: bytes */size`` (§15.5.17).

The part is sent through ``wsgi.file_wrapper`` when the server has one: the file is positioned at the
start and wrapped in :class:`FileSlice` (``read`` stops at the end of the range; ``fileno``/``tell`` are the
file's), so a server using ``sendfile`` from the current offset for Content-Length bytes — ours, gunicorn's
and waitress's do — sends exactly the range without reading it into Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from .errors import HTTPError

__all__ = [
    "FileSlice",
    "RangeNotSatisfiable",
    "content_range",
    "file_part",
    "parse_ranges",
    "requested_range",
]

_SPEC = re.compile(r"([0-9]*)-([0-9]*)")  # ASCII digits only: str.isdigit() would take "²"
_MAX_RANGES = 100  # more specs than this in one header is no real client; ignore the header (§14.2 DoS note)


class RangeNotSatisfiable(HTTPError):
    """416: no requested range overlaps the file; carries ``Content-Range: bytes */size`` (§14.4)."""

    code = 416
    description = "The requested range is not satisfiable."

    def __init__(self, size: int) -> None:
        super().__init__(headers=[("Content-Range", f"bytes */{size}")])


def parse_ranges(header: str, size: int) -> list[tuple[int, int]] | None:
    """``bytes=...`` as satisfiable ``(start, stop)`` pairs (stop exclusive) for a file of ``size`` bytes.

    None when the header is to be ignored (not bytes, bad syntax, too many specs); ``[]`` when it parses but
    nothing in it is satisfiable. Ranges are clipped to the file, sorted, and overlapping or adjacent
    ones merged (§14.1.2 grammar: ``first-last``, ``first-``, ``-suffix``; whitespace around commas allowed).
    """
    unit, sep, specs = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = specs.split(",")
    if len(parts) > _MAX_RANGES:
        return None
    ranges: list[tuple[int, int]] = []
    for part in parts:
        part = part.strip()
        if not part:
            continue  # "bytes=0-1,,2-3": empty list elements are allowed (RFC 9110 §5.6.1)
        match = _SPEC.fullmatch(part)
        if match is None or match.group() == "-":
            return None
        first, last = match.groups()
        if not first:  # suffix-range: the last N bytes
            length = int(last)
            if length:
                ranges.append((max(0, size - length), size))
            continue
        start = int(first)
        if last and int(last) < start:
            return None  # "first > last" makes the whole header invalid (§14.1.1)
        stop = min(int(last) + 1, size) if last else size
        if start < size:
            ranges.append((start, stop))
    if not ranges and not any(part.strip() for part in parts):
        return None  # "bytes=" with no spec at all
    ranges.sort()
    merged = [ranges[0]] if ranges else []
    for start, stop in ranges[1:]:
        if start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(stop, merged[-1][1]))
        else:
            merged.append((start, stop))
    return merged


def _if_range_holds(if_range: str, etag: str, last_modified: str) -> bool:
    """§13.1.5: an entity-tag must match strongly (never a weak one); a date must equal Last-Modified."""
    if_range = if_range.strip()
    if if_range.startswith(('"', "W/")):
        return not if_range.startswith("W/") and not etag.startswith("W/") and if_range == etag
    return if_range == last_modified


def requested_range(
    environ: dict[str, Any], size: int, etag: str, last_modified: str
) -> tuple[int, int] | None:
    """The one byte range to send as a 206, or None for the whole file; raises RangeNotSatisfiable (416).

    ``etag`` and ``last_modified`` are the validators the response carries (for If-Range).
    """
    header = environ.get("HTTP_RANGE")
    if header is None or environ.get("REQUEST_METHOD") != "GET":
        return None
    if_range = environ.get("HTTP_IF_RANGE")
    if if_range is not None and not _if_range_holds(if_range, etag, last_modified):
        return None  # the client's copy is stale: it gets the whole new file
    ranges = parse_ranges(header, size)
    if ranges is None:
        return None
    if not ranges:
        raise RangeNotSatisfiable(size)
    if len(ranges) > 1:
        return None  # several disjoint parts: the whole file (see the module docstring)
    return ranges[0]


def content_range(start: int, stop: int, size: int) -> str:
    """The Content-Range value of a 206 (§14.4): ``bytes 0-1023/146515`` (last byte inclusive)."""
    return f"bytes {start}-{stop - 1}/{size}"


class FileSlice:
    """``length`` bytes of an open file from its current position: ``read`` stops there, ``close`` closes it.

    ``fileno``, ``tell`` and ``seek`` are the file's own, so a server can ``sendfile`` from ``tell()`` for
    the response's Content-Length (waitress also seeks to the end and back to measure what is left).
    """

    __slots__ = ("file", "remaining", "fileno", "tell", "seek", "close")

    def __init__(self, file: BinaryIO, length: int) -> None:
        self.file, self.remaining = file, length
        self.fileno, self.tell, self.seek, self.close = file.fileno, file.tell, file.seek, file.close

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self.remaining:
            size = self.remaining
        data = self.file.read(size) if size else b""
        self.remaining -= len(data)
        return data


class _SliceIterator:
    """Blocks of a FileSlice, for servers without ``wsgi.file_wrapper``."""

    def __init__(self, part: FileSlice, block_size: int) -> None:
        self.part, self.block_size = part, block_size

    def __iter__(self) -> Iterator[bytes]:
        while block := self.part.read(self.block_size):
            yield block

    def close(self) -> None:
        self.part.close()


def file_part(environ: dict[str, Any], file: BinaryIO, start: int, stop: int, block_size: int) -> Any:
    """The response body for bytes ``start``..``stop`` of ``file`` (closed with the body)."""
    file.seek(start)
    part = FileSlice(file, stop - start)
    wrapper: Callable[..., Any] | None = environ.get("wsgi.file_wrapper")
    return wrapper(part, block_size) if wrapper is not None else _SliceIterator(part, block_size)
