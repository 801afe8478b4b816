"""`--access-logfile` / `--error-logfile`, and SIGUSR1's "reopen the log files" (for logrotate).

Each file is opened onto a standard descriptor: the access log onto 1 (stdout, where the access-log
writer already goes), the error log onto 2 (stderr: the logging module, tracebacks of a crashing
worker, and the `faulthandler` stack dumps of a worker killed by `--timeout`). Reopening is therefore one
`open` + `dup2` per file: no Python object changes, nothing to lock, safe inside a signal handler, and
lines still buffered are written to the new file. Every process (the arbiter and each worker) reopens
its own descriptors, because after fork they no longer share them.
"""

from __future__ import annotations

import logging
import os

__all__ = ["LogFiles"]

log = logging.getLogger(__name__)

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND  # O_APPEND: several processes append whole lines
_MODE = 0o640


class LogFiles:
    """The log files named on the command line, each attached to its standard descriptor."""

    def __init__(self, access: str | None = None, error: str | None = None) -> None:
        self._files = [(path, fd) for path, fd in ((access, 1), (error, 2)) if path]

    def __bool__(self) -> bool:
        return bool(self._files)

    def open(self) -> None:
        """Attach every file (creating it if needed); OSError if one cannot be opened."""
        for path, target in self._files:
            fd = os.open(path, _FLAGS, _MODE)
            try:
                os.dup2(fd, target)
            finally:
                os.close(fd)

    def reopen(self) -> None:
        """Open every file afresh by name (logrotate moved the old one away). Never raises."""
        for path, target in self._files:
            try:
                fd = os.open(path, _FLAGS, _MODE)
            except OSError as exc:
                os.write(2, f"cannot reopen log file {path}: {exc}\n".encode(errors="replace"))
                continue
            os.dup2(fd, target)
            os.close(fd)
