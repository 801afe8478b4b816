"""One access-log line per request in Combined Log Format (as nginx and gunicorn write it).

    127.0.0.1 - - [22/Nov/2026:15:24:09 +0000] "GET /areas/1 HTTP/1.1" 200 1234 "-" "curl/8.5.0"

    worker: log_access(environ, ...) ──► a tuple of values at hand ──► deque (no lock, no system call)
    writer thread, FLUSH_INTERVAL later, CHUNK_LINES at a time:
        format ──► LineHandler(s): one write per chunk
               └─► any other logging set-up: one record a line

Lines go to the "server.access" logger at INFO; the CLI routes that logger to stdout through a
`LineHandler`. Workers do as little as possible: the server is pinned to one core under load, so a
`LogRecord` per request (with its time, thread, process fields) and a formatted line cost throughput
whichever thread pays them. The writer formats in chunks and, when every handler that would see the
line is a filter-free `LineHandler`, writes each in one call; any other configuration (caplog, a file
handler with a formatter, filters) gets the ordinary records, so the logger's set-up is honoured.

When the access log is off (`Config.access_log` False) the server never calls in here; a logger above
INFO costs one `isEnabledFor` per request.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Callable

__all__ = ["LineHandler", "flush", "log_access", "log_refused", "request_line_of"]

_log = logging.getLogger("server.access")
# Bytes a client could use to forge or break log lines: quotes, backslashes and control characters.
_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f-\x9f]')
FLUSH_INTERVAL = 0.1  # seconds a line may wait, so lines queued meanwhile share one write (nginx flush=)
# The writer formats and writes this many lines, then pauses so the workers get the GIL. A whole batch at
# once (3,000 lines at 30k req/s, ~3 ms of Python) held the GIL long enough to triple the keep-alive p99.
CHUNK_LINES = 256
CHUNK_PAUSE = 0.001  # seconds; still lets the writer keep up with 250,000 lines a second

# (time, remote addr, user, method, target, protocol, status, size, referer, user agent); for a
# request refused before it was parsed: (time, addr, None, raw request line or "-", None, None, ...).
_Entry = tuple
_paced_writers: weakref.WeakSet[_PacedWriter] = weakref.WeakSet()  # each one to reset after fork


class _PacedWriter:
    """A daemon thread, started on first use, that calls `write_batch()` `interval` seconds after a wake.

    Producers append to `queue`, then call `wake()` only while `wanted` is unset (no lock, no system call).
    """

    def __init__(self, name: str, interval: float, write_batch: Callable[[], None]) -> None:
        self.name, self.interval, self.write_batch = name, interval, write_batch
        self.queue: collections.deque = collections.deque()
        self.wanted = threading.Event()  # set: something is queued and the thread knows it
        self.lock = threading.Lock()  # starting the thread; the owner may also hold it to write a batch
        self._thread: threading.Thread | None = None
        _paced_writers.add(self)

    def wake(self) -> None:
        """Have the thread (started in this process if need be) write `interval` seconds from now."""
        if self._thread is None:
            with self.lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._write_later, name=self.name, daemon=True)
                    self._thread.start()
        self.wanted.set()

    def _write_later(self) -> None:
        while True:
            self.wanted.wait()
            time.sleep(self.interval)  # deliberate: lines queued meanwhile share this write
            self.wanted.clear()  # before taking the lines, so a line queued after is never stranded
            try:
                self.write_batch()
            except Exception:  # a closed or broken stream must not end the thread
                logging.getLogger(__name__).exception("cannot write the access log")


def _after_fork_in_child() -> None:
    # Threads do not survive fork (each writer restarts on its next wake); queued lines are the parent's.
    for writer in _paced_writers:
        writer._thread, writer.lock = None, threading.Lock()  # one its thread held would stay held here
        writer.queue.clear()
        writer.wanted.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def log_access(environ: dict, status: int, size: int) -> None:
    """Queue one request's line; `size` is the number of body bytes sent ("-" when none, like Apache's %b)."""
    if not _log.isEnabledFor(logging.INFO):
        return
    get = environ.get
    _queue.append((
        time.time(), environ["REMOTE_ADDR"], get("REMOTE_USER"), environ["REQUEST_METHOD"],
        environ["RAW_URI"], environ["SERVER_PROTOCOL"], status, size, get("HTTP_REFERER"),
        get("HTTP_USER_AGENT"),
    ))  # fmt: skip
    if not _wanted.is_set():  # the first line of a batch: make sure the writer will take it
        _writer.wake()


def log_refused(remote_addr: str, request_line: str, status: int, size: int) -> None:
    """Queue the line of a request the server answered with an error of its own (400, 408, 413...).

    `request_line` is what the client sent of it, or "" when nothing usable arrived (logged as "-").
    Not on the hot path: these come with a closed connection.
    """
    if _log.isEnabledFor(logging.INFO):
        _queue.append((time.time(), remote_addr, None, request_line or "-", None, None, status, size, None,
                       None))  # fmt: skip
        _writer.wake()


def request_line_of(buf: bytearray, limit: int) -> str:
    """What a refused request's buffer holds of its request line (at most `limit` bytes), for the log."""
    start = len(buf) - len(buf.lstrip(b"\r\n"))
    end = buf.find(b"\r\n", start, start + limit)
    return buf[start : end if end >= 0 else start + limit].decode("latin-1")


def flush() -> None:
    """Write every queued line now (at shutdown; the writer thread writes in paced chunks)."""
    while _write_chunk(len(_queue)):
        pass


def _write_chunk(limit: int) -> bool:
    """Format and write up to `limit` queued lines; False when there were none."""
    with _writer.lock:
        batch = []
        popleft = _queue.popleft
        with contextlib.suppress(IndexError):
            for _ in range(limit):
                batch.append(popleft())
        if batch:
            _deliver([_format(entry) for entry in batch])
        return bool(batch)


def _write_paced() -> None:
    # Only the lines queued so far: later ones wait for the next round and its shared write.
    for _ in range(0, len(_queue), CHUNK_LINES):
        _write_chunk(CHUNK_LINES)
        time.sleep(CHUNK_PAUSE)


_writer = _PacedWriter("access-log-writer", FLUSH_INTERVAL, _write_paced)
_queue, _wanted = _writer.queue, _writer.wanted  # short names for the hot path
atexit.register(flush)  # runs before logging's own shutdown (registered earlier), which flushes handlers


# --- formatting and delivery (the writer thread) --------------------------------------------------------

_time_cache: tuple[int, str] = (-1, "")


def _timestamp(when: float) -> str:
    """The request time as "[10/Oct/2000:13:55:36 +0000]", formatted at most once per second."""
    global _time_cache
    second = int(when)
    cached, text = _time_cache
    if cached != second:
        text = time.strftime("[%d/%b/%Y:%H:%M:%S %z]", time.localtime(second))
        _time_cache = (second, text)
    return text


def _escape(text: str) -> str:
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _format(entry: _Entry) -> str:
    when, addr, user, method, target, protocol, status, size, referer, agent = entry
    request = method if target is None else f"{method} {target} {protocol}"
    referer = referer or "-"
    agent = agent or "-"
    # One search over the three client-chosen fields (joined by a safe space) instead of three.
    if _UNSAFE.search(f"{request} {referer} {agent}") is not None:
        request, referer, agent = _escape(request), _escape(referer), _escape(agent)
    return (
        f'{addr} - {user or "-"} {_timestamp(when)} "{request}" {status} {size or "-"} "{referer}" "{agent}"'
    )


def _deliver(lines: list[str]) -> None:
    handlers = _line_handlers()
    if handlers is None:
        handle, make = _log.handle, _log.makeRecord
        for line in lines:
            handle(make(_log.name, logging.INFO, __file__, 0, line, None, None, "log_access"))
        return
    text = "\n".join(lines) + "\n"
    for handler in handlers:
        handler.write_text(text)


def _line_handlers() -> list[LineHandler] | None:
    """The handlers an access record would reach, if all are filter-free LineHandlers; else None.

    The same walk as `Logger.callHandlers`; a disabled logger, a filter or any other kind of handler
    means records, so that configuration applies exactly as it would to `logger.info(line)`.
    """
    if _log.disabled or _log.filters:
        return None
    found: list[LineHandler] = []
    logger: logging.Logger | None = _log
    while logger is not None:
        for handler in logger.handlers:
            if type(handler) is not LineHandler or handler.filters or handler.level > logging.INFO:
                return None
            found.append(handler)
        if not logger.propagate:
            break
        logger = logger.parent
    return found or None  # no handler at all: records, so logging's lastResort rules apply


class LineHandler(logging.StreamHandler):
    """A StreamHandler for complete lines, built for throughput (like nginx's `access_log ... flush=`).

    Worker threads never touch the stream: `emit` appends the message to a deque (no lock, no system
    call) and a small per-process writer thread writes everything queued `flush_interval` seconds after
    the first line, in one write. A stream shared by dozens of threads would make them queue on its
    lock, and a thread holding that lock while waiting for the GIL stalls every request for as long.
    The delay is too short for a person watching `tail -f` to notice; `logging.shutdown()` (at exit)
    writes whatever is left. The access log skips `emit` and hands its batches to `write_text`.
    """

    def __init__(self, stream=None, flush_interval: float = FLUSH_INTERVAL) -> None:
        super().__init__(stream)
        self._writer = _PacedWriter("line-handler-writer", flush_interval, self.flush)

    def handle(self, record: logging.LogRecord) -> bool:
        """Filter and emit without the handler lock: appending to a deque needs none."""
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self._writer.queue.append(record.getMessage())
        if not self._writer.wanted.is_set():
            self._writer.wake()

    def write_text(self, text: str) -> None:
        """Write complete lines now, after any lines `emit` queued, and flush the stream."""
        self.acquire()
        try:
            self._write_queued()
            self.stream.write(text)
            self.stream.flush()
        finally:
            self.release()

    def flush(self) -> None:
        """Write every queued line, then flush the stream."""
        self.acquire()
        try:
            self._write_queued()
            self.stream.flush()
        finally:
            self.release()

    def _write_queued(self) -> None:
        batch = []
        popleft = self._writer.queue.popleft
        with contextlib.suppress(IndexError):
            while True:
                batch.append(popleft())
        if batch:
            self.stream.write("\n".join(batch) + "\n")
