"""Accounts: users and the login-failure counts that throttle guessing.

The statements' text is on lines of its own marked `# pragma: no mutate`: mutmut's string mutants of it
are "XX" around a part (a syntax error, which the tests catch), the part in upper case (`%S` or a table
name MariaDB compares case-sensitively: caught too) and the part in lower case, which MariaDB reads the
same (keywords, function and column names are case-insensitive, and the few value literals in it are
already lower case). tests/MUTANTS.md has the run that showed the first two killed on every such line.
The calls around the text, their parameters and the Python values stay mutated.
"""

from __future__ import annotations

import pymysql
from pymysql.constants import ER

from .base import _cursor, _transaction


def create_user(con, username: str, password_hash: str) -> int | None:
    """The new user's id, or None when the name is taken (the UNIQUE key decides, races included)."""
    try:
        with _transaction(con) as cur:
            cur.execute(
                "INSERT INTO users (username, password_hash) VALUES (%s, %s)",  # pragma: no mutate
                (username, password_hash))
            return cur.lastrowid
    except pymysql.err.IntegrityError as exc:
        if exc.args[0] == ER.DUP_ENTRY:
            return None
        raise


def user_by_name(con, username: str) -> tuple[int, str, str] | None:
    """(id, username as stored, password hash), or None."""
    with _cursor(con) as cur:
        cur.execute(
            "SELECT id, username, password_hash FROM users WHERE username = %s",  # pragma: no mutate
            (username,))
        return cur.fetchone()


def login_wait(con, username: str, address: str) -> int:
    """Seconds until the account or the address may try to log in again (0: now)."""
    with _cursor(con) as cur:
        cur.execute(
            "SELECT COALESCE(MAX(CEIL(TIMESTAMPDIFF(MICROSECOND, "  # pragma: no mutate
            "NOW(3), locked_until) / 1e6)), 0) FROM login_failures "  # pragma: no mutate
            "WHERE (kind = 'user' AND subject = %s) OR (kind = 'addr' AND subject = %s)",  # pragma: no mutate
            (username[:64], address[:64]))
        (wait,) = cur.fetchone()
    return max(0, int(wait))


def record_login_failure(con, username: str, address: str, lock_seconds) -> None:
    """Count a failed login against the account and the address; lock each as `lock_seconds(count)` says.

    A count whose lock ended over a day ago starts again from one.
    """
    with _transaction(con) as cur:
        for kind, subject in (("user", username[:64]), ("addr", address[:64])):
            cur.execute(
                "INSERT INTO login_failures (kind, subject, failures, locked_until) "  # pragma: no mutate
                "VALUES (%s, %s, 1, NOW(3)) ON DUPLICATE KEY UPDATE failures = "  # pragma: no mutate
                "IF(locked_until < NOW(3) - INTERVAL 1 DAY, 1, failures + 1)",  # pragma: no mutate
                (kind, subject))
            cur.execute(
                "SELECT failures FROM login_failures "  # pragma: no mutate
                "WHERE kind = %s AND subject = %s FOR UPDATE",  # pragma: no mutate
                (kind, subject))
            (failures,) = cur.fetchone()
            cur.execute(
                "UPDATE login_failures SET locked_until = NOW(3) + INTERVAL %s SECOND "  # pragma: no mutate
                "WHERE kind = %s AND subject = %s",  # pragma: no mutate
                (lock_seconds(failures), kind, subject))


def clear_login_failures(con, username: str) -> None:
    """A successful login: the account's count goes (the address's stays: it may be guessing others)."""
    with _transaction(con) as cur:
        cur.execute(
            "DELETE FROM login_failures WHERE kind = 'user' AND subject = %s",  # pragma: no mutate
            (username[:64],))
