"""The default answer for an HTTP error: JSON for clients that prefer it, an HTML page for everyone else.

Negotiation reads ``Accept`` (RFC 9110 §12.5.1): JSON is chosen when ``application/json`` (or an
``application/*+json`` type) has a higher quality than ``text/html``, or the same quality while HTML is
reached only through a wildcard. So browsers (``text/html,...,*/*;q=0.8``), curl (``*/*``) and clients
sending no ``Accept`` get HTML, while ``fetch(url, {headers: {Accept: "application/json"}})`` and axios
(``application/json, text/plain, */*``) get ``{"error": {"code": 404, "message": ...}}``.
Both forms say the same thing in the app's words (its :class:`~miniweb.messages.Messages`).
"""

from __future__ import annotations

import json

from .debug_page import render_debug_page
from .errors import HTTPError
from .messages import Messages
from .response import Response

__all__ = ["prefers_json", "render_error"]


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value.strip())))
            except ValueError:
                return 0.0  # a malformed weight: treat the range as not acceptable
    return 1.0


def prefers_json(accept: str | None) -> bool:
    """Whether an ``Accept`` value ranks JSON above HTML (the most specific matching range decides)."""
    if not accept or "json" not in accept:
        return False  # the common case, without parsing
    json_q = html_q = -1.0
    json_rank = html_rank = -1  # 2: exact type, 1: "type/*", 0: "*/*"
    for item in accept.split(","):
        media, *params = item.split(";")
        media = media.strip().lower()
        if not media:
            continue
        q = _quality(params)
        kind, _, sub = media.partition("/")
        if media == "application/json" or (kind == "application" and sub.endswith("+json")):
            rank_j = 2
        elif media in ("application/*", "*/*"):
            rank_j = 1 if media == "application/*" else 0
        else:
            rank_j = -1
        if rank_j > json_rank:
            json_rank, json_q = rank_j, q
        rank_h = {"text/html": 2, "text/*": 1, "*/*": 0}.get(media, -1)
        if rank_h > html_rank:
            html_rank, html_q = rank_h, q
    if json_q <= 0:
        return False
    # Equal weights: JSON when the client named it and reached HTML only through a wildcard (axios sends
    # "application/json, text/plain, */*"); a real tie (both named) stays HTML.
    return json_q > html_q or (json_q == html_q and json_rank > html_rank)


def render_error(
    error: HTTPError, accept: str | None, messages: Messages, debug_exc: BaseException | None = None
) -> Response:
    """The default response for ``error``, with the headers it carries (e.g. ``Allow``).

    ``debug_exc`` (the unexpected exception, passed only in debug mode) turns the HTML page into the
    debug page with its traceback (debug_page.py); JSON never carries it.
    """
    if prefers_json(accept):
        payload = {
            "error": {"code": error.code, "message": messages.description(error.code, error.description)}
        }
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        response = Response(body, error.code, error.headers, content_type="application/json")
    elif debug_exc is not None:
        response = Response(render_debug_page(error, debug_exc, messages), error.code, error.headers)
    else:
        response = Response(error.render_html(None, messages), error.code, error.headers)
    response.headers["Vary"] = "Accept"  # caches must not hand the HTML page to a JSON client (§12.5.5)
    return response
