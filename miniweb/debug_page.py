"""The error page shown in debug mode: the traceback, each frame with the source lines around it.

Only ``App(debug=True)`` uses it, and only for HTML clients (error_pages.py decides; JSON clients get the
plain JSON error). Like werkzeug's debugger page without its console: every frame names its file, line
and function and quotes a few lines of source, the failing one marked; chained exceptions (``raise ...
from``, an error while handling another) come oldest first, as Python prints them. Every text from the
program (source lines, messages, local values) is HTML-escaped: it often quotes user input.

Locals are left out unless asked for (``with_locals=True``): they can hold passwords and keys, and a
debug page left on in production should leak as little as possible.
"""

from __future__ import annotations

import html
import linecache
import reprlib
import traceback
from types import TracebackType

from .errors import HTTPError
from .messages import Messages

__all__ = ["render_debug_page"]

CONTEXT_LINES = 3  # source lines shown before and after the failing one
_MAX_FRAMES = 100  # a deep recursion error still gives a page of bounded size

_STYLE = (
    "body{font-family:sans-serif;margin:2em}pre{margin:0}"
    ".frame{border:1px solid #ccc;margin:1em 0;padding:.5em}"
    ".where{font-family:monospace;font-weight:bold}"
    ".src{font-family:monospace;white-space:pre;border-collapse:collapse}"
    ".src td{padding:0 .5em}.src .no{color:#888;text-align:right}"
    ".src .here{background:#fdd;font-weight:bold}"
    ".locals{font-family:monospace;font-size:90%}"
)

_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 200


def _safe_repr(value: object) -> str:
    try:
        return _repr.repr(value)
    except Exception as exc:  # a broken __repr__ must not break the error page
        return f"<repr failed: {type(exc).__name__}>"


def _chain(exc: BaseException) -> list[tuple[BaseException, str | None]]:
    """``exc`` and the exceptions it was raised from or during, oldest first, each with the sentence
    Python prints between it and the next one."""
    chain: list[tuple[BaseException, str | None]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link: str | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            link = "The above exception was the direct cause of the following exception:"
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            link = "During handling of the above exception, another exception occurred:"
            current = current.__context__
        else:
            current = None
    chain.reverse()
    # Each link sentence belongs between an exception and the one after it: shift them by one.
    links = [link for _, link in chain]
    return [(item, links[i - 1] if i else None) for i, (item, _) in enumerate(chain)]


def _frame_html(tb: TracebackType, with_locals: bool) -> str:
    frame = tb.tb_frame
    code = frame.f_code
    lineno = tb.tb_lineno
    where = f"{code.co_filename}, line {lineno}, in {code.co_name}"
    parts = [f'<div class="frame"><div class="where">{html.escape(where)}</div>\n']
    lines = linecache.getlines(code.co_filename, frame.f_globals)
    if lines:
        first = max(1, lineno - CONTEXT_LINES)
        rows = []
        for number in range(first, min(len(lines), lineno + CONTEXT_LINES) + 1):
            css = ' class="here"' if number == lineno else ""
            text = html.escape(lines[number - 1].rstrip("\r\n"))
            rows.append(f'<tr{css}><td class="no">{number}</td><td>{text}</td></tr>')
        parts.append(f'<table class="src">{"".join(rows)}</table>\n')
    if with_locals and frame.f_locals:
        items = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(_safe_repr(value))}</td></tr>"
            for name, value in sorted(frame.f_locals.items())
        )
        parts.append(f'<table class="locals">{items}</table>\n')
    parts.append("</div>\n")
    return "".join(parts)


def render_debug_page(
    error: HTTPError, exc: BaseException, messages: Messages, with_locals: bool = False
) -> str:
    """The HTML page for ``exc``, which ``error`` (a 500) answers, titled in ``messages``' words."""
    title = f"{error.code} {html.escape(messages.title(error.code))}"
    parts = [
        '<!doctype html>\n<html><head><meta charset="utf-8">',
        f"<title>{title}</title><style>{_STYLE}</style></head>\n<body><h1>{title}</h1>\n",
    ]
    for item, link in _chain(exc):
        if link:
            parts.append(f"<p>{html.escape(link)}</p>\n")
        parts.append("<h2>Traceback (most recent call last)</h2>\n")
        tb = item.__traceback__
        frames: list[TracebackType] = []
        while tb is not None:
            frames.append(tb)
            tb = tb.tb_next
        if len(frames) > _MAX_FRAMES:
            half = _MAX_FRAMES // 2
            skipped = len(frames) - _MAX_FRAMES
            parts.extend(_frame_html(f, with_locals) for f in frames[:half])
            parts.append(f"<p>... {skipped} frames left out ...</p>\n")
            frames = frames[-half:]
        parts.extend(_frame_html(f, with_locals) for f in frames)
        message = "".join(traceback.format_exception_only(type(item), item)).rstrip()
        parts.append(f"<pre><strong>{html.escape(message)}</strong></pre>\n")
    parts.append("</body></html>\n")
    return "".join(parts)
