"""Stateless CSRF protection: a signed double-submit cookie (OWASP CSRF cheat sheet).

- Each browser gets a random nonce in an HttpOnly cookie (``miniweb_csrf``).
- A form's token is ``"<timestamp>.<HMAC-SHA256(secret_key, nonce + timestamp)>"``.
- A state-changing request must carry a token (form field ``csrf_token`` or header ``X-CSRF-Token``)
  whose signature matches the nonce in *its own* cookie and is younger than ``max_age``.

Another site can make the browser send the cookie, but can neither read it nor compute the signature
without the key; nothing is stored on the server, so any process sharing ``secret_key`` can verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from typing import TYPE_CHECKING

from .errors import Forbidden
from .messages import message

if TYPE_CHECKING:
    from .request import Request
    from .response import Response

__all__ = ["CsrfProtect", "UNSAFE_METHODS"]

#: Methods that may change state (RFC 9110 §9.2.1: everything not "safe") and are therefore checked.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NONCE = re.compile(r"^[A-Za-z0-9_-]{24}$")
_STAMP = re.compile(r"^[0-9]{1,12}$")  # Unix seconds; a bound keeps int() cheap and safe


class CsrfProtect:
    """Issues and checks tokens for one app."""

    cookie_name = "miniweb_csrf"
    field_name = "csrf_token"
    header_name = "X-CSRF-Token"

    def __init__(self, secret_key: bytes, max_age: int = 24 * 3600) -> None:
        if not secret_key:
            raise ValueError("CSRF protection needs a non-empty secret_key")
        self._key = secret_key
        self.max_age = max_age

    def _sign(self, nonce: str, timestamp: int) -> str:
        digest = hmac.new(self._key, f"{nonce}.{timestamp}".encode("ascii"), hashlib.sha256).digest()
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
        """A token for forms in this response. Wall-clock time: the verifying process may be another one."""
        timestamp = int(time.time())
        return f"{timestamp}.{self._sign(self._nonce(request), timestamp)}"

    def verify(self, request: Request) -> None:
        """Raise ``Forbidden`` unless the request carries a valid, unexpired token for its cookie."""
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
        if not 0 <= time.time() - int(stamp) <= self.max_age:
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
