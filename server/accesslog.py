"""One access-log line per request in Combined Log Format (as nginx and gunicorn write it).

    127.0.0.1 - - [22/Nov/2026:15:24:09 +0000] "GET /areas/1 HTTP/1.1" 200 1234 "-" "curl/8.5.0"

Lines go to the "server.access" logger at INFO; the CLI routes that logger to stdout through a
`LineHandler`. When the access log is off the server never calls in here: no cost on the hot path.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import re
import threading
import time

__all__ = ["LineHandler", "log_access"]

_log = logging.getLogger("server.access")
# Bytes a client could use to forge or break log lines: quotes, backslashes and control characters.
_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f-\x9f]')
_time_cache: tuple[int, str] = (-1, "")


def _escape(text: str) -> str:
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _now() -> str:
    """The request time as "[10/Oct/2000:13:55:36 +0000]", formatted at most once per second."""
    global _time_cache
    now = int(time.time())
    second, text = _time_cache
    if second != now:
        text = time.strftime("[%d/%b/%Y:%H:%M:%S %z]", time.localtime(now))
        _time_cache = (now, text)
    return text


def log_access(environ: dict, status: int, size: int) -> None:
    """Log one request; `size` is the number of body bytes sent ("-" when none, like Apache's %b).

    The record is made and handled directly: `Logger.info` would also walk the stack to find the
    caller (findCaller), a third of its cost, and an access line has no interesting caller.
    """
    if not _log.isEnabledFor(logging.INFO):
        return
    request = _escape(f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}")
    line = (
        f'{environ["REMOTE_ADDR"]} - {environ.get("REMOTE_USER") or "-"} {_now()} "{request}" {status} '
        f'{size or "-"} "{_escape(environ.get("HTTP_REFERER", "-"))}" '
        f'"{_escape(environ.get("HTTP_USER_AGENT", "-"))}"'
    )
    _log.handle(_log.makeRecord(_log.name, logging.INFO, __file__, 0, line, None, None, "log_access"))


class LineHandler(logging.StreamHandler):
    """A StreamHandler for complete lines, built for throughput (like nginx's `access_log ... flush=`).

    Worker threads never touch the stream: `emit` appends the message to a deque (no lock, no system
    call) and a small per-process writer thread writes everything queued `flush_interval` seconds after
    the first line, in one write. A stream shared by dozens of threads would make them queue on its
    lock, and a thread holding that lock while waiting for the GIL stalls every request for as long.
    The delay is too short for a person watching `tail -f` to notice; `logging.shutdown()` (at exit)
    writes whatever is left.
    """

    def __init__(self, stream=None, flush_interval: float = 0.1) -> None:
        super().__init__(stream)
        self.flush_interval = flush_interval
        self._lines: collections.deque[str] = collections.deque()
        self._pending = False
        self._wanted = threading.Event()
        self._writer_pid = 0  # the process whose writer thread runs (threads do not survive fork)

    def handle(self, record: logging.LogRecord) -> bool:
        """Filter and emit without the handler lock: appending to a deque needs none."""
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self._lines.append(record.getMessage())
        if not self._pending:
            self._pending = True
            if self._writer_pid != os.getpid():
                self._writer_pid = os.getpid()
                threading.Thread(target=self._write_later, name="access-log-writer", daemon=True).start()
            self._wanted.set()

    def flush(self) -> None:
        """Write every queued line, then flush the stream."""
        batch = []
        popleft = self._lines.popleft
        with contextlib.suppress(IndexError):
            while True:
                batch.append(popleft())
        self.acquire()
        try:
            if batch:
                self.stream.write("\n".join(batch) + "\n")
            self.stream.flush()
        finally:
            self.release()

    def _write_later(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            time.sleep(self.flush_interval)  # deliberate: lines queued meanwhile share this write
            self._pending = False  # before taking the lines, so a line queued after is never stranded
            try:
                self.flush()
            except Exception:  # a closed or broken stream must not end the thread
                logging.getLogger(__name__).exception("cannot write the access log")
