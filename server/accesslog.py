"""One access-log line per request in Combined Log Format (as nginx and gunicorn write it).

    127.0.0.1 - - [22/Nov/2026:15:24:09 +0000] "GET /areas/1 HTTP/1.1" 200 1234 "-" "curl/8.5.0"

Lines go to the "server.access" logger at INFO; the CLI routes that logger to stdout through a
`LineHandler`. When the access log is off the server never calls in here: no cost on the hot path.
"""

from __future__ import annotations

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
    """A StreamHandler for complete lines, built for throughput (nginx's `access_log ... flush=`).

    - Each message is written as is: an access line is already formatted, so no Formatter runs.
    - No system call under the handler lock: lines go into the stream's buffer, and a small daemon
      thread flushes it `flush_interval` seconds after the first unflushed line. A flush (a write
      syscall) per line, under a lock all worker threads share, would serialise them and cost a third
      of the throughput; the delay is too short for a person watching `tail -f` to notice.
    """

    def __init__(self, stream=None, flush_interval: float = 0.1) -> None:
        super().__init__(stream)
        self.flush_interval = flush_interval
        self._pending = False
        self._wanted = threading.Event()
        self._flusher_pid = 0  # the process whose flusher thread runs (threads do not survive fork)

    def handle(self, record: logging.LogRecord) -> bool:
        """Filter and emit without the handler lock: one write() of a whole line needs none.

        (A thread switch while holding a lock every worker wants would make all of them wait.)
        """
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(record.getMessage() + "\n")
        except Exception:
            self.handleError(record)
            return
        if not self._pending:
            self._pending = True
            if self._flusher_pid != os.getpid():
                self._flusher_pid = os.getpid()
                threading.Thread(target=self._flush_later, name="access-log-flush", daemon=True).start()
            self._wanted.set()

    def _flush_later(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            time.sleep(self.flush_interval)  # deliberate: lines written meanwhile share this flush
            self._pending = False
            self.flush()
