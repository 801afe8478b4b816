"""Logging set-up in one call, and the one-line-per-request log.

Library modules only ever call ``logging.getLogger(__name__)``; handlers, level and format are the
application's choice, made once with :func:`configure_logging`.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["configure_logging", "DEFAULT_FORMAT"]

DEFAULT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(
    level: int | str = "INFO", filename: str | None = None, fmt: str | None = None
) -> logging.Handler:
    """Send log records at ``level`` and above to stderr, or to ``filename`` (appended, UTF-8).

    Configures the root logger, so the app's own loggers follow too. Calling it again replaces the
    handler it installed before rather than adding a second one.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_miniweb", False)]:
        root.removeHandler(old)
        old.close()
    handler: logging.Handler = (
        logging.FileHandler(filename, encoding="utf-8") if filename else logging.StreamHandler(sys.stderr)
    )
    handler._miniweb = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter(fmt or DEFAULT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
