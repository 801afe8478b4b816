"""Security headers added to every response unless the response already sets them.

Defaults (OWASP Secure Headers project):
- ``X-Content-Type-Options: nosniff`` — browsers trust our Content-Type instead of guessing (an upload
  served as text/plain must not run as a script).
- ``Referrer-Policy: strict-origin-when-cross-origin`` — other sites see our origin, never our paths
  and query strings (which may carry search terms or ids).
- ``X-Frame-Options: DENY`` and ``Content-Security-Policy: frame-ancestors 'none'`` — no other page can
  frame ours (clickjacking); the first for old browsers, the second is the standard (CSP Level 2).

``SecurityHeaders(content_security_policy="default-src 'self'")`` sets a policy for the whole app
(``frame-ancestors 'none'`` is appended unless the policy names frame-ancestors or ``frame_options`` is
None). A handler can send its own value of any of these headers: the app's is then not added.
``App(security_headers=None)`` adds none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING

from .datastructures import check_header

if TYPE_CHECKING:
    from .response import Response

__all__ = ["SecurityHeaders"]

_name = itemgetter(0)
_CACHE_LIMIT = 256  # distinct sets of header names remembered; past this the cache starts over

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SecurityHeaders:
    """Which security headers the app adds; a field set to None leaves that header out."""

    content_type_options: str | None = "nosniff"
    referrer_policy: str | None = "strict-origin-when-cross-origin"
    frame_options: str | None = "DENY"
    content_security_policy: str | None = None
    #: e.g. ``"max-age=31536000; includeSubDomains"``; only sent on https responses (RFC 6797 §7.2).
    strict_transport_security: str | None = None
    #: Anything else, as ``(name, value)`` pairs (``("Permissions-Policy", "geolocation=()")``).
    extra: tuple[tuple[str, str], ...] = ()
    _pairs: tuple[tuple[str, str, str], ...] = field(init=False, repr=False, compare=False)
    # (header names a response sets, https) -> the pairs to add to it. A response's names are nearly
    # always one of a few sets (Content-Type + Content-Length...), so the work per response is one
    # tuple and one lookup. Shared by threads: a race at worst computes an entry twice (same value).
    _added: dict[tuple[tuple[str, ...], bool], Pairs] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        csp = self.content_security_policy
        if self.frame_options is not None and (csp is None or "frame-ancestors" not in csp):
            csp = f"{csp.rstrip().rstrip(';')}; frame-ancestors 'none'" if csp else "frame-ancestors 'none'"
        named = (
            ("X-Content-Type-Options", self.content_type_options),
            ("Referrer-Policy", self.referrer_policy),
            ("X-Frame-Options", self.frame_options),
            ("Content-Security-Policy", csp),
            *self.extra,
        )
        # (lower-case name, name, value), checked once: a bad value is an error when the app is built.
        pairs = tuple((name.lower(), name, value) for name, value in named if value is not None)
        for _, name, value in pairs:
            check_header(name, value)
        if self.strict_transport_security is not None:
            check_header("Strict-Transport-Security", self.strict_transport_security)
        object.__setattr__(self, "_pairs", pairs)

    def missing(self, names: tuple[str, ...], https: bool = False) -> Pairs:
        """The headers to add to a response that sets the headers ``names`` itself (any case)."""
        key = (names, https)
        added = self._added.get(key)
        if added is None:
            present = {name.lower() for name in names}
            found = [(name, value) for lower, name, value in self._pairs if lower not in present]
            hsts = self.strict_transport_security
            if https and hsts and "strict-transport-security" not in present:
                found.append(("Strict-Transport-Security", hsts))
            added = tuple(found)
            if len(self._added) >= _CACHE_LIMIT:  # bounded, should an app make header names up
                self._added.clear()
            self._added[key] = added
        return added

    def apply(self, response: Response, https: bool = False) -> None:
        """Add the headers this response does not set itself."""
        items = response._items  # the list response.headers views
        names = tuple(map(_name, items))
        added = self._added.get((names, https))
        items += self.missing(names, https) if added is None else added
