"""HMAC-SHA256 with the key worked in once: what signs CSRF tokens and session cookies.

HMAC (RFC 2104 §2) is ``H(K ^ opad || H(K ^ ipad || message))``, with K the key padded to SHA-256's
64-byte block (a longer key is hashed first). The two padded keys fill exactly one block each, so
hashing them is the same work for every message: ``HmacKey`` hashes them once, when it is made, and
keeps the two SHA-256 states. A signature then copies both states and feeds the message and the inner
digest: about half the instructions of ``hmac.digest(key, message, sha256)``, which sets the key up
again on every call (callgrind, the figures in docs/performance-history.md).

A fixed ``prefix`` (a purpose label such as ``b"miniweb.session."``, which keeps a signature made for one
use from ever verifying for another) is fed into the inner state once too: ``HmacKey(key, prefix).sign(m)``
is ``hmac.digest(key, prefix + m, sha256)``.

Verification compares with ``hmac.compare_digest`` (constant time: how much of a guess is right is not
told by how long the refusal takes).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["HmacKey"]

_BLOCK = 64  # SHA-256's block size in bytes (FIPS 180-4 §5.1.2); RFC 2104's B
# Each byte value XOR-ed with ipad / opad (RFC 2104 §2), as bytes.translate tables (the stdlib's way).
_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))


class HmacKey:
    """One key's HMAC-SHA256, its pads hashed once; ``sign`` and ``verify`` per message."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes, prefix: bytes = b"") -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()  # RFC 2104 §2: a key longer than a block is hashed first
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._inner.update(prefix)
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def sign(self, message: bytes) -> bytes:
        """The 32-byte HMAC-SHA256 of ``prefix + message``."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's for ``message`` (compared in constant time)."""
        return hmac.compare_digest(self.sign(message), signature)
