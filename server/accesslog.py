"""One access-log line per request in Combined Log Format (as nginx and gunicorn write it).

    127.0.0.1 - - [22/Nov/2026:15:24:09 +0000] "GET /areas/1 HTTP/1.1" 200 1234 "-" "curl/8.5.0"

Lines go to the "server.access" logger at INFO; the CLI routes that logger to stdout through a
`LineHandler`. When the access log is off the server never calls in here: no cost on the hot path.
"""

from __future__ import annotations

import logging
import re
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
    """A StreamHandler for complete lines: writes each message as is, skipping the Formatter.

    An access line is already formatted; this halves the cost of emitting it, which matters at tens of
    thousands of requests per second. Each line is flushed at once, so `tail -f` and log shippers see it.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = self.stream
            stream.write(record.getMessage() + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)
