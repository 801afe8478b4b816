"""Signed-cookie sessions: ``request.session``, a dict kept by the browser, verified with ``secret_key``.

The cookie is ``<payload>.<timestamp>.<signature>``:
- payload: the session as compact JSON, base64url-encoded (readable by the user, so never put secrets
  in it; the signature makes it tamper-proof, not private);
- timestamp: Unix seconds when it was written; older than ``max_age`` (or dated in the future beyond a
  small clock skew) and it is ignored;
- signature: HMAC-SHA256 over ``"miniweb.session." + payload + "." + timestamp`` with the app's
  ``secret_key`` (the prefix keeps a session signature from ever being usable as a CSRF one). Old keys
  listed in ``secret_key_fallbacks`` still verify, so a key can be rotated without logging everyone out.

Nothing lives in server memory: any process holding the key serves the next request. A tampered,
expired or otherwise unreadable cookie gives an empty session (never an error page). The cookie is
parsed only when ``request.session`` is first touched, and written only when the session was changed.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .hmacs import HmacKey

if TYPE_CHECKING:
    from .request import Request
    from .response import Response

__all__ = ["Session", "SessionConfig", "SessionSigner", "SessionTooLarge"]

_PREFIX = b"miniweb.session."
_CLOCK_SKEW = 60  # seconds a cookie may be dated ahead of us (another host's clock), not more


class SessionTooLarge(ValueError):
    """The session does not fit in a cookie; keep large data in the database and its id in the session."""


@dataclass(frozen=True)
class SessionConfig:
    """How the session cookie is set. ``secure=None`` means "Secure when the request came over https"."""

    cookie_name: str = "miniweb_session"
    max_age: int = 31 * 24 * 3600  # like Flask's permanent sessions; re-signed (extended) on each write
    path: str = "/"
    domain: str | None = None
    secure: bool | None = None
    samesite: str = "Lax"  # sent on top-level navigation from other sites, not on their POSTs or iframes
    max_bytes: int = 4093  # RFC 6265 §6.1 asks browsers for >= 4096 bytes per cookie, name included


class Session(dict[str, Any]):
    """A dict that remembers whether it was changed (only then is the cookie written).

    Changing a value inside (``session["cart"].append(x)``) is invisible to it: set ``modified = True``.
    """

    def __init__(self, data: Iterable[tuple[str, Any]] | dict[str, Any] = (), new: bool = True) -> None:
        super().__init__(data)
        self.modified = False
        #: True when the request brought no valid session cookie.
        self.new = new
        self._on_regenerate: Callable[[], None] | None = None

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.modified = True

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.modified = True

    def clear(self) -> None:
        """Empty the session (logout): the response deletes the cookie."""
        super().clear()
        self.modified = True

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self.modified = True
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        item = super().popitem()
        self.modified = True
        return item

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.modified = True
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self.modified = True

    def regenerate(self) -> None:
        """Call on login (and on any change of privilege): drop everything the session held before
        and give the browser a fresh CSRF nonce, so nothing planted in the browser before the login
        (OWASP: session fixation) survives it. Then store the user: ``session["user_id"] = ...``."""
        self.clear()
        if self._on_regenerate is not None:
            self._on_regenerate()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Serialises, signs, verifies and parses session cookies for one app."""

    def __init__(self, keys: Sequence[bytes], config: SessionConfig) -> None:
        if not keys or not all(keys):
            raise ValueError("sessions need a non-empty secret_key")
        # The first signs; all of them verify (rotation). Each with its pads and the prefix hashed once.
        self._keys = tuple(HmacKey(key, _PREFIX) for key in keys)
        self.config = config

    def dumps(self, data: dict[str, Any], now: float | None = None) -> str:
        """The cookie value for ``data``; ``SessionTooLarge`` if the cookie would not fit a browser."""
        try:
            payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise TypeError(f"the session holds a value JSON cannot store: {exc}") from None
        message = f"{_b64encode(payload)}.{int(time.time() if now is None else now)}".encode("ascii")
        value = f"{message.decode('ascii')}.{_b64encode(self._keys[0].sign(message))}"
        size = len(self.config.cookie_name) + 1 + len(value)
        if size > self.config.max_bytes:
            raise SessionTooLarge(
                f"the session cookie would be {size} bytes, over the {self.config.max_bytes}-byte limit "
                "browsers keep; store large data server-side and only its id in the session"
            )
        return value

    def loads(self, value: str, now: float | None = None) -> dict[str, Any] | None:
        """The data in a cookie value, or None if it is tampered, expired, or not ours."""
        message, dot, signature = value.rpartition(".")
        payload, dot2, stamp = message.partition(".")
        if not (dot and dot2 and stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            return None
        try:
            raw_signature = _b64decode(signature)
        except (binascii.Error, ValueError):
            return None
        message_bytes = message.encode("ascii", "replace")
        if not any(key.verify(message_bytes, raw_signature) for key in self._keys):
            return None
        age = (time.time() if now is None else now) - int(stamp)
        if not -_CLOCK_SKEW <= age <= self.config.max_age:
            return None
        try:
            data = json.loads(_b64decode(payload))
        except (binascii.Error, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def open(self, request: Request) -> Session:
        value = request.cookies.get(self.config.cookie_name)
        if value:
            data = self.loads(value)
            if data is not None:
                return Session(data, new=False)
        return Session()

    def save(self, request: Request, session: Session, response: Response) -> None:
        """Write the cookie if the session changed: the new contents, or a deletion once emptied."""
        if not session.modified:
            return
        config = self.config
        if not session:
            if not session.new:
                response.delete_cookie(config.cookie_name, path=config.path, domain=config.domain)
            return
        secure = request.scheme == "https" if config.secure is None else config.secure
        response.set_cookie(
            config.cookie_name,
            self.dumps(session),
            max_age=config.max_age,
            path=config.path,
            domain=config.domain,
            secure=secure,
            httponly=True,  # scripts never need it; an XSS cannot then carry it away
            samesite=config.samesite,
        )
