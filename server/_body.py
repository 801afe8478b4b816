"""Request body framing (RFC 9112 §6 and §7): a fixed Content-Length, or chunked with trailers.

Sans-I/O like `http11.py`: `read(buf)` takes what body bytes `buf` holds, deletes them from its front and
leaves the rest (the next pipelined request) in place. Neither reader loops over single bytes.
"""

from __future__ import annotations

import enum
import re

from server._grammar import TOKEN_PATTERN, ProtocolError, check_incomplete_bytes, parse_fields, split_lines
from server.config import Config

__all__ = ["BodyReader", "ChunkedReader", "LengthReader"]

_TOKEN = TOKEN_PATTERN.encode()
_QUOTED_STRING = rb'"(?:[\t !\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*"'
# RFC 9112 §7.1: chunk-size [ chunk-ext ], with chunk-size = 1*HEXDIG (no sign, no "0x", no spaces) and
# chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ). Extensions are checked and
# then ignored: we define none.
_CHUNK_SIZE_LINE = re.compile(
    rb"([0-9A-Fa-f]+)(?:[ \t]*;[ \t]*%s(?:[ \t]*=[ \t]*(?:%s|%s))?)*" % (_TOKEN, _TOKEN, _QUOTED_STRING)
).fullmatch


class BodyReader:
    """Reads one request body out of the connection's buffer."""

    __slots__ = ("done",)
    done: bool  # True once the whole body (and, for chunked, the trailers) was consumed

    def read(self, buf: bytearray) -> bytes:
        """Consume from buf as much body as is available; return the body bytes (b"" if none yet).

        Bytes after the end of the body stay in buf (the next pipelined request). Raises ProtocolError.
        """
        raise NotImplementedError


class LengthReader(BodyReader):
    """A body of exactly Content-Length bytes (RFC 9112 §6.2)."""

    __slots__ = ("_remaining",)

    def __init__(self, length: int) -> None:
        self._remaining = length
        self.done = length == 0

    def read(self, buf: bytearray) -> bytes:
        n = min(len(buf), self._remaining)
        data = _take(buf, n)
        self._remaining -= n
        self.done = self._remaining == 0
        return data


def _take(buf: bytearray, n: int) -> bytes:
    """The first n bytes of buf, deleted from it (one copy when they are all of it: the common case)."""
    if n == len(buf):
        data = bytes(buf)
        buf.clear()
    else:
        data = bytes(buf[:n])
        del buf[:n]
    return data


class _State(enum.Enum):
    SIZE_LINE = enum.auto()  # expecting "<hex size>[;ext...]\r\n"
    DATA = enum.auto()  # inside a chunk's data
    DATA_CRLF = enum.auto()  # expecting the CRLF that ends a chunk's data
    TRAILERS = enum.auto()  # after the last chunk: trailer fields, then an empty line
    DONE = enum.auto()


class ChunkedReader(BodyReader):
    """A chunked body (RFC 9112 §7.1): strict chunk-size lines, bounded extensions, trailers discarded."""

    __slots__ = ("_config", "_state", "_chunk_left", "_received", "_searched", "_trailer_lines")

    def __init__(self, config: Config) -> None:
        self.done = False
        self._config = config
        self._state = _State.SIZE_LINE
        self._chunk_left = 0  # data bytes still to come in the current chunk
        self._received = 0  # decoded body bytes so far, against max_body_bytes
        self._searched = 0  # buf[:_searched] was searched for the end of the trailer section ...
        self._trailer_lines = 0  # ... and holds this many complete trailer lines

    def read(self, buf: bytearray) -> bytes:
        pieces = []
        while buf:
            state = self._state
            if state is _State.DATA:
                n = min(len(buf), self._chunk_left)
                pieces.append(_take(buf, n))
                self._chunk_left -= n
                if self._chunk_left:
                    break
                self._state = _State.DATA_CRLF
            elif state is _State.SIZE_LINE:
                if not self._read_size_line(buf):
                    break
            elif state is _State.DATA_CRLF:
                if buf[:2] != b"\r\n"[: len(buf)]:
                    raise ProtocolError("chunk data not followed by CRLF")
                if len(buf) < 2:
                    break
                del buf[:2]
                self._state = _State.SIZE_LINE
            elif state is _State.TRAILERS:
                if not self._read_trailers(buf):
                    break
            else:  # DONE: what is left belongs to the next request
                break
        return b"".join(pieces)

    def _read_size_line(self, buf: bytearray) -> bool:
        limit = self._config.max_chunk_line
        lf = buf.find(b"\n", 0, limit + 2)
        if lf < 0:
            if len(buf) > limit + 1:
                raise ProtocolError(f"chunk size line longer than {limit} bytes")
            return False
        if buf[lf - 1 : lf] != b"\r":
            raise ProtocolError("bare LF in chunk size line (lines must end with CRLF)")
        match = _CHUNK_SIZE_LINE(buf, 0, lf - 1)
        if match is None:
            raise ProtocolError(f"malformed chunk size line {bytes(buf[: min(lf - 1, 100)])!r}")
        # int() of hex has no digit limit; the line is already bounded by max_chunk_line.
        size = int(match.group(1), 16)
        del buf[: lf + 1]
        if size > self._config.max_body_bytes - self._received:
            raise ProtocolError(f"chunked body larger than {self._config.max_body_bytes} bytes", 413)
        self._received += size
        self._chunk_left = size
        self._state = _State.DATA if size else _State.TRAILERS
        return True

    def _read_trailers(self, buf: bytearray) -> bool:
        """Consume the trailer section (RFC 9112 §7.1.2): parsed like header fields, then discarded."""
        if buf[:2] == b"\r\n":  # no trailers: the common case
            del buf[:2]
            self._finish()
            return True
        config = self._config
        # Back up three bytes: the CRLFCRLF (or a CRLF, or a bare CR) may straddle old and new bytes.
        start = max(0, self._searched - 3)
        end = buf.find(b"\r\n\r\n", start)
        if end < 0:
            check_incomplete_bytes(buf, start)
            if len(buf) > config.max_header_bytes:
                raise ProtocolError(f"trailer section larger than {config.max_header_bytes} bytes", 431)
            searched = len(buf) - buf.endswith(b"\r")  # a CR at the end is counted with its LF, next time
            self._trailer_lines += buf.count(b"\r\n", self._searched, searched)
            self._searched = searched
            if self._trailer_lines > config.max_header_count:
                raise ProtocolError(f"more than {config.max_header_count} trailer fields", 431)
            return False
        if end + 4 > config.max_header_bytes:
            raise ProtocolError(f"trailer section larger than {config.max_header_bytes} bytes", 431)
        lines = split_lines(buf[:end])
        if len(lines) > config.max_header_count:
            raise ProtocolError(f"more than {config.max_header_count} trailer fields", 431)
        parse_fields(lines)  # validated like header fields; no WSGI field carries trailers, so dropped
        del buf[: end + 4]
        self._finish()
        return True

    def _finish(self) -> None:
        self._state = _State.DONE
        self.done = True
