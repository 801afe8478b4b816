"""Flash messages: a note for the user's next page ("Saved."), kept in the signed session cookie.

``flash(request, "已收藏", "success")`` before a redirect; the next page calls
``get_flashed_messages(request)`` (templates: ``get_flashed_messages()``), which returns them once and
removes them. Stored in the session, so they survive the redirect to any process on any host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jinja2

if TYPE_CHECKING:
    from .request import Request

__all__ = ["flash", "get_flashed_messages", "template_get_flashed_messages"]

_KEY = "_flashes"


def flash(request: Request, message: str, category: str = "info") -> None:
    """Queue ``message`` for the next page that shows flashed messages."""
    session = request.session
    session.setdefault(_KEY, []).append([category, str(message)])
    session.modified = True  # the list changed in place, which the session cannot see


def get_flashed_messages(
    request: Request, with_categories: bool = False, category_filter: tuple[str, ...] | list[str] = ()
) -> list[Any]:
    """The queued messages (``(category, message)`` pairs with ``with_categories``), removed from the
    session. Calling it again during the same request gives the same messages (a layout and a page
    may both ask). Without a ``secret_key`` there is no session, hence no messages."""
    flashes = request.__dict__.get("_flashes")
    if flashes is None:
        flashes = []
        if request.has_session_support():
            stored = request.session.pop(_KEY, None) if _KEY in request.session else None
            if isinstance(stored, list):
                flashes = [(str(item[0]), str(item[1])) for item in stored if len(item) == 2]
        request.__dict__["_flashes"] = flashes
    if category_filter:
        flashes = [item for item in flashes if item[0] in category_filter]
    if with_categories:
        return list(flashes)
    return [message for _, message in flashes]


@jinja2.pass_context
def template_get_flashed_messages(
    context: jinja2.runtime.Context, with_categories: bool = False, category_filter: Any = ()
) -> list[Any]:
    """``get_flashed_messages()`` in templates, for the ``request`` the template was rendered with."""
    request = context.get("request")
    if request is None:
        return []
    return get_flashed_messages(request, with_categories, category_filter)
