"""Trusted HTML kept as UTF-8 bytes, and a template rendered to bytes with such parts spliced in.

Why: Jinja2 joins a page's pieces into one ``str`` and the response encodes it to UTF-8. With any
Chinese text on the page the whole ``str`` is two bytes a character, so a large ASCII part (a map's
42 KB of SVG paths) is copied into it, widened, and then goes through CPython's UCS-2 encoder at ~11
instructions a character — on every request, though the part itself was cached. Encoded once and
spliced in as bytes, it costs a ``memcpy`` in the final ``b"".join``.

- ``HtmlBytes(*chunks)``: trusted HTML as UTF-8 chunks (chunks may be shared: the same outline bytes in
  many maps). In any Jinja2 render it is its text (``__html__``), so ``template.render`` — and another
  framework rendering the same context — gives what it always gave; it is false when it holds nothing.
- ``render_bytes(template, context)``: ``template.render(context).encode()``, made cheaper. Each top-level
  ``HtmlBytes`` value of ``context`` is replaced by a short marker (NUL, a random token of this process,
  its index, ``;``), the page is rendered and split at the markers, the text between them encoded, and
  the chunks spliced in. The token is never sent, so no input can forge a marker; a piece that merely
  starts like one is kept as text. A template may output such a value (``{{ x }}``) or test it
  (``{% if x %}``); a filter or attribute applied to it would see the marker, so pass those a str.
"""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from typing import Any

import jinja2
from markupsafe import Markup

__all__ = ["HtmlBytes", "render_bytes"]

_PREFIX = "\x00" + secrets.token_hex(8) + ":"


class HtmlBytes:
    """Trusted HTML as UTF-8 bytes chunks: encoded once, spliced into ``render_bytes`` pages as bytes."""

    __slots__ = ("chunks",)

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks

    @classmethod
    def of(cls, html: str) -> HtmlBytes:
        """Trusted HTML text (a ``Markup``, a macro's output) encoded once."""
        return cls(str(html).encode("utf-8"))

    def __html__(self) -> str:
        return b"".join(self.chunks).decode("utf-8")

    def __bool__(self) -> bool:
        return any(self.chunks)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HtmlBytes):
            return NotImplemented
        return b"".join(self.chunks) == b"".join(other.chunks)

    def __hash__(self) -> int:
        return hash(b"".join(self.chunks))

    def __repr__(self) -> str:
        return f"HtmlBytes({sum(map(len, self.chunks))} bytes in {len(self.chunks)} chunks)"


def render_bytes(template: jinja2.Template, context: MutableMapping[str, Any]) -> bytes:
    """``template.render(context).encode("utf-8")``, with ``HtmlBytes`` values spliced in as bytes.

    ``context`` is the caller's own dict: its ``HtmlBytes`` values are replaced by their markers.
    """
    parts: dict[str, HtmlBytes] = {}
    for name, value in context.items():
        if type(value) is HtmlBytes and value:  # an empty one stays: false, and renders as ""
            key = str(len(parts))
            parts[key] = value
            context[name] = Markup(f"{_PREFIX}{key};")
    text = template.render(context)
    if not parts:
        return text.encode("utf-8")
    pieces = text.split(_PREFIX)
    out = [pieces[0].encode("utf-8")]
    for piece in pieces[1:]:
        key, sep, rest = piece.partition(";")
        found = parts.get(key) if sep else None
        if found is None:  # not one of ours (unreachable without the token): text, as it was
            out.append((_PREFIX + piece).encode("utf-8"))
        else:
            out += found.chunks
            out.append(rest.encode("utf-8"))
    return b"".join(out)
