"""Stateless CSRF protection: a signed double-submit cookie (OWASP CSRF cheat sheet).

- Each browser gets a random nonce in an HttpOnly cookie (``miniweb_csrf``).
- A form's token is ``"<timestamp>.<HMAC-SHA256(secret_key, nonce + "." + timestamp)>"``.
- A state-changing request whose ``Origin`` header (or, lacking one, ``Referer``) names another origin
  than the request's own ``scheme://host`` (or one of ``trusted_origins``) is refused first (OWASP's
  defence in depth: browsers set these headers themselves and scripts cannot forge them).
- A state-changing request must carry a token (form field ``csrf_token`` or header ``X-CSRF-Token``)
  whose signature matches the nonce in *its own* cookie and is younger than ``max_age``.

Another site can make the browser send the cookie, but can neither read it nor compute the signature
without the key; nothing is stored on the server, so any process sharing ``secret_key`` can verify.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .errors import Forbidden
from .hmacs import HmacKey
from .messages import message

if TYPE_CHECKING:
    from .request import Request
    from .response import Response

__all__ = ["CsrfProtect", "UNSAFE_METHODS", "rotate_nonce"]

#: Methods that may change state (RFC 9110 §9.2.1: everything not "safe") and are therefore checked.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NONCE = re.compile(r"^[A-Za-z0-9_-]{24}$")
_STAMP = re.compile(r"^[0-9]{1,12}$")  # Unix seconds; a bound keeps int() cheap and safe
_CLOCK_SKEW = 60  # seconds another host's clock may run ahead of ours (tokens are verified anywhere)
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def _normalise_origin(origin: str) -> str:
    """``HTTP://Example.org:80`` -> ``http://example.org`` (RFC 6454 §6.1 serialisation; default port
    dropped, as browsers do in Origin, so it compares with a Host header that carries ``:80``)."""
    scheme, sep, authority = origin.strip().lower().partition("://")
    authority = authority.rpartition("@")[2].rstrip("/")  # a Referer may carry userinfo or a path
    default = _DEFAULT_PORTS.get(scheme)
    if default and authority.endswith(default):
        authority = authority[: -len(default)]
    return f"{scheme}{sep}{authority}"


def rotate_nonce(request: Request) -> None:
    """Give this browser a new nonce (on login): tokens issued before no longer verify."""
    request._csrf_nonce = secrets.token_urlsafe(18)  # type: ignore[attr-defined]
    request._csrf_new_nonce = True  # type: ignore[attr-defined]


class CsrfProtect:
    """Issues and checks tokens for one app."""

    cookie_name = "miniweb_csrf"
    field_name = "csrf_token"
    header_name = "X-CSRF-Token"

    def __init__(
        self, secret_key: bytes, max_age: int = 24 * 3600, trusted_origins: Iterable[str] = ()
    ) -> None:
        if not secret_key:
            raise ValueError("CSRF protection needs a non-empty secret_key")
        self._key = HmacKey(secret_key)  # the pads hashed once, not on every token
        self.max_age = max_age
        #: Other origins whose pages may post here (``"https://admin.example.org"``).
        self.trusted_origins = frozenset(_normalise_origin(origin) for origin in trusted_origins)

    def check_origin(self, request: Request) -> None:
        """Raise ``Forbidden`` if the browser says the request comes from a page of another origin.

        Neither header present (old clients, some privacy settings, non-browser clients) is not a
        refusal: the token check decides. ``Origin: null`` (sandboxed frames, file: pages) is one.
        """
        environ = request.environ
        origin = environ.get("HTTP_ORIGIN")
        if origin is None:
            referer = environ.get("HTTP_REFERER")
            if not referer:
                return
            parts = urlsplit(referer)
            origin = f"{parts.scheme}://{parts.netloc}"
        claimed = _normalise_origin(origin)
        if claimed == _normalise_origin(f"{request.scheme}://{request.host}"):
            return
        if claimed in self.trusted_origins:
            return
        raise Forbidden(message("csrf.cross_origin", origin=origin[:100]))

    def _sign(self, nonce: str, timestamp: int) -> str:
        digest = self._key.sign(f"{nonce}.{timestamp}".encode("ascii"))
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def _nonce(self, request: Request) -> str:
        """This browser's nonce: from its cookie, or a fresh one the response will set."""
        nonce = getattr(request, "_csrf_nonce", None)
        if nonce is None:
            nonce = request.cookies.get(self.cookie_name, "")
            if not _NONCE.match(nonce):
                nonce = secrets.token_urlsafe(18)  # 144 random bits -> 24 URL-safe characters
                request._csrf_new_nonce = True  # type: ignore[attr-defined]
            request._csrf_nonce = nonce  # type: ignore[attr-defined]
        return nonce

    def token(self, request: Request) -> str:
        """A token for forms in this response. Wall-clock time: the verifying process may be another one.

        Made once per request (every render of the request, and every form in it, shows the same one),
        and again only if the nonce changed meanwhile (``rotate_nonce`` on login)."""
        nonce = self._nonce(request)
        made = request.__dict__.get("_csrf_token")
        if made is not None and made[0] == nonce:
            return made[1]
        timestamp = int(time.time())
        token = f"{timestamp}.{self._sign(nonce, timestamp)}"
        request.__dict__["_csrf_token"] = (nonce, token)
        return token

    def verify(self, request: Request) -> None:
        """Raise ``Forbidden`` unless the request comes from our own origin (as far as the browser
        says) and carries a valid, unexpired token for its cookie."""
        self.check_origin(request)
        token = request.headers.get(self.header_name)
        if token is None and request.is_form:
            token = request.form.get(self.field_name)
        if not token:
            raise Forbidden(message("csrf.missing"))
        nonce = request.cookies.get(self.cookie_name, "")
        stamp, _, signature = token.partition(".")
        if not (_NONCE.match(nonce) and _STAMP.match(stamp)):
            raise Forbidden(message("csrf.invalid"))
        expected = self._sign(nonce, int(stamp))
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace")):
            raise Forbidden(message("csrf.invalid"))
        # A token dated in the future is refused too, beyond a small skew between hosts' clocks.
        if not -_CLOCK_SKEW <= time.time() - int(stamp) <= self.max_age:
            raise Forbidden(message("csrf.expired"))

    def set_cookie(self, request: Request, response: Response) -> None:
        """Give the browser its nonce if this request created one."""
        if getattr(request, "_csrf_new_nonce", False):
            response.set_cookie(
                self.cookie_name,
                request._csrf_nonce,  # type: ignore[attr-defined]
                max_age=self.max_age,
                secure=request.scheme == "https",
                httponly=True,
                samesite="Lax",
            )
