"""Accounts: password hashing, the rules for names and passwords, how long a failed login locks out.

No SQL here (repository/users.py stores users and failed logins), no HTTP (account_views.py): plain functions.

Passwords: `hashlib.scrypt` (RFC 7914; memory-hard, in the standard library), a random 16-byte salt per
user, the parameters stored with the hash so they can be raised later without breaking old accounts,
and `hmac.compare_digest` to compare. An unknown name is checked against a dummy hash, so a login takes
as long whether or not the name exists.

Failed logins: counted per account and per client address in the database (so every process and host
behind a load balancer sees the same counts). From the FREE_FAILURES-th failure on, the next attempt must
wait 30, 60, 120 … seconds, at most LOCK_MAX (15 min); a successful login clears the account's count.
We refuse while locked instead of sleeping, so an attacker cannot tie up worker threads.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import unicodedata

__all__ = ["hash_password", "verify_password", "username_problem", "password_problem", "lock_seconds",
           "normalize_username", "NAME_MIN", "NAME_MAX", "PASSWORD_MIN", "PASSWORD_MAX", "FREE_FAILURES"]

NAME_MIN, NAME_MAX = 3, 32            # characters (users.username is VARCHAR(32))
PASSWORD_MIN, PASSWORD_MAX = 8, 256   # the upper bound keeps a hash request cheap to refuse
FREE_FAILURES = 5                     # failures before any wait
LOCK_FIRST = 30                       # seconds after the FREE_FAILURES-th failure, doubling after each
LOCK_MAX = 15 * 60                    # seconds: the longest wait
# scrypt cost: N=2^14, r=8 -> 16 MiB and ~50 ms per hash (RFC 7914 §2 / OWASP's minimum for scrypt).
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32
_MAXMEM = 64 * 1024 * 1024
_NAME_PUNCTUATION = frozenset("_-.")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_DKLEN, maxmem=_MAXMEM)


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt-hex$hash-hex`, with a fresh random salt."""
    salt = os.urandom(16)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${_scrypt(password, salt, _N, _R, _P).hex()}"


_DUMMY = hash_password("an unknown user has this password")


def verify_password(password: str, stored: str | None) -> bool:
    """True when `password` matches `stored`; None (no such user) costs the same and is False."""
    try:
        scheme, n, r, p, salt, digest = (stored or _DUMMY).split("$")
        if scheme != "scrypt":
            return False
        candidate = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(candidate, bytes.fromhex(digest)) and stored is not None


def normalize_username(raw: str) -> str:
    # NFC: the same name typed on two keyboards (composed or decomposed) is one account.
    return unicodedata.normalize("NFC", raw.strip())


def username_problem(name: str) -> str | None:
    """Why `name` (normalized) cannot be a user name, in Chinese, or None."""
    if not NAME_MIN <= len(name) <= NAME_MAX:
        return f"用户名需要 {NAME_MIN} 到 {NAME_MAX} 个字符"
    if not all(ch.isalnum() or ch in _NAME_PUNCTUATION for ch in name):
        return "用户名只能包含汉字、字母、数字和 _ - . 符号"
    return None


def password_problem(password: str) -> str | None:
    if len(password) < PASSWORD_MIN:
        return f"密码至少需要 {PASSWORD_MIN} 个字符"
    if len(password) > PASSWORD_MAX:
        return f"密码最多 {PASSWORD_MAX} 个字符"
    return None


def lock_seconds(failures: int) -> int:
    """How long after the latest failure the next attempt must wait, given the count of failures."""
    if failures < FREE_FAILURES:
        return 0
    return min(LOCK_MAX, LOCK_FIRST * 2 ** (failures - FREE_FAILURES))
