"""All of the demo's SQL, and nothing else: every function takes a connection and plain values.

Every value reaches MySQL as a parameter (`%s`), never by string formatting. Writes run in a transaction
(`_transaction`); concurrency is left to the database's constraints: the UNIQUE key on
favorites.district_id decides which of twenty racing "collect" requests wins, the foreign key rejects an
area that does not exist. Connection-level failures come out as db.DatabaseUnavailable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pymysql
from pymysql.constants import ER

from .db import database_errors

__all__ = ["Area", "Favorite", "Page", "UnknownArea", "collect", "favorites", "get_area", "area_family",
           "page_of", "ping", "provinces", "remove", "search", "search_terms", "set_note", "balanced_size",
           "NOTE_MAX_CHARS", "create_user", "user_by_name", "login_wait", "record_login_failure",
           "clear_login_failures", "reference_version", "area_family_versioned", "search_versioned",
           "favorite_rows", "areas_by_code", "FavoriteRow"]

NOTE_MAX_CHARS = 200  # favorites.note VARCHAR(200): characters, not bytes, in utf8mb4


class UnknownArea(LookupError):
    """No area has this code."""


@dataclass(frozen=True, slots=True)
class Area:
    district_id: int
    district: str
    level: int                                # 1 province, 2 city, 3 county
    pid: int | None
    longitude: Decimal | None
    latitude: Decimal | None
    ancestors: tuple[tuple[int, str], ...]    # (code, name) from the province down to the parent
    children: int = 0                         # how many direct children (get_area, area_family)
    collected: bool = False                   # whether it is a favourite (get_area, area_family)

    @property
    def province(self) -> int:
        """The code of the province the area is in (its own for a province)."""
        return self.ancestors[0][0] if self.ancestors else self.district_id

    @property
    def lineage(self) -> str:
        """The ancestors' names, province first: "广东省 / 深圳市" (the lists show it beside each area)."""
        return " / ".join(name for _, name in self.ancestors)


@dataclass(frozen=True, slots=True)
class Favorite:
    area: Area
    note: str
    created_at: datetime.datetime
    updated_at: datetime.datetime


@dataclass(frozen=True, slots=True)
class Page:
    items: list
    total: int        # rows over all pages
    number: int       # 1-based
    per_page: int     # balanced_size(): the same for every page but the last, which is at most one short

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def balanced_size(total: int, most: int) -> int:
    """Rows per page so that pages are even: 21 rows at most 20 a page are 11 + 10, not 20 + 1."""
    if total <= most:
        return max(total, 1)
    pages = -(-total // most)
    return -(-total // pages)


# An area with its parent and grandparent (the tree is three levels deep), so one query builds a breadcrumb.
_AREA = """
    a.district_id, a.district, a.level, a.pid, a.longitude, a.latitude,
    p.district_id, p.district, g.district_id, g.district
"""
_AREA_JOINS = """
    LEFT JOIN areas p ON p.district_id = a.pid
    LEFT JOIN areas g ON g.district_id = p.pid
"""
_AREA_WIDTH = 10  # columns in _AREA


def _area(row: tuple) -> Area:
    code, name, level, pid, lon, lat, p_code, p_name, g_code, g_name = row[:_AREA_WIDTH]
    ancestors = tuple((c, n) for c, n in ((g_code, g_name), (p_code, p_name)) if c is not None)
    return Area(code, name, level, pid, lon, lat, ancestors)


@contextlib.contextmanager
def _cursor(con) -> Iterator[pymysql.cursors.Cursor]:
    with database_errors(), con.cursor() as cur:
        yield cur


@contextlib.contextmanager
def _transaction(con) -> Iterator[pymysql.cursors.Cursor]:
    """One write transaction: commit when the block ends, roll back when it raises."""
    with _cursor(con) as cur:
        try:
            con.begin()
            yield cur
        except BaseException:
            with contextlib.suppress(pymysql.MySQLError):
                con.rollback()
            raise
        con.commit()


def ping(con) -> None:
    """Raise DatabaseUnavailable unless the database answers a query."""
    with _cursor(con) as cur:
        cur.execute("SELECT 1")
        cur.fetchall()


def get_area(con, district_id: int, user_id: int | None = None) -> Area | None:
    """An area with its breadcrumb, its number of children and whether `user_id` collected it: one query."""
    with _cursor(con) as cur:
        cur.execute(f"SELECT {_AREA}, (SELECT COUNT(*) FROM areas c WHERE c.pid = a.district_id), "
                    "EXISTS (SELECT 1 FROM favorites f "
                    "        WHERE f.user_id = %s AND f.district_id = a.district_id) "
                    f"FROM areas a {_AREA_JOINS} WHERE a.district_id = %s", (user_id, district_id))
        row = cur.fetchone()
    if row is None:
        return None
    return dataclasses.replace(_area(row), children=row[_AREA_WIDTH], collected=bool(row[_AREA_WIDTH + 1]))


def provinces(con) -> list[Area]:
    with _cursor(con) as cur:
        cur.execute(f"SELECT {_AREA} FROM areas a {_AREA_JOINS} WHERE a.level = 1 ORDER BY a.district_id")
        return [_area(row) for row in cur.fetchall()]


def area_family(con, district_id: int, user_id: int | None = None) -> tuple[Area, list[Area]] | None:
    """An area (breadcrumb, number of children, whether `user_id` collected it) and all its direct
    children in code order: one query, one round trip, for the area page (a page of the children in
    the list, every one of them on the map; the largest family has 38). None when no area has this code.
    """
    with _cursor(con) as cur:
        # The area's row first; the children's breadcrumbs come from the same joins (parent = the area).
        cur.execute(f"SELECT {_AREA}, a.district_id = %s AND EXISTS (SELECT 1 FROM favorites f "
                    "        WHERE f.user_id = %s AND f.district_id = a.district_id) "
                    f"FROM areas a {_AREA_JOINS} WHERE a.district_id = %s OR a.pid = %s "
                    "ORDER BY a.district_id <> %s, a.district_id",
                    (district_id, user_id, district_id, district_id, district_id))
        rows = cur.fetchall()
    if not rows or rows[0][0] != district_id:
        return None
    kids = [_area(row) for row in rows[1:]]
    area = dataclasses.replace(_area(rows[0]), children=len(kids), collected=bool(rows[0][_AREA_WIDTH]))
    return area, kids


def page_of(items: list, number: int, per_page: int) -> Page:
    """Page `number` of rows already fetched, in the balanced pages the database queries use."""
    size = balanced_size(len(items), per_page)
    return Page(items[(number - 1) * size:number * size], len(items), number, size)


# One page of the areas matching `where` and their total, in one query and one scan: the window functions
# count and number the matches, the page size follows from the count as in balanced_size()
# (CEIL(total / pages) with pages = CEIL(total / most); test_repository checks they agree), and only the
# page's rows are joined to their parents. `where` is one of this module's constant fragments over `m`;
# only the parameters carry outside values.
_PAGED = f"""
    SELECT {_AREA}, a.total FROM (
        SELECT m.district_id, m.district, m.level, m.pid, m.longitude, m.latitude,
               COUNT(*) OVER () AS total, ROW_NUMBER() OVER (ORDER BY m.level, m.district_id) AS n
        FROM areas m WHERE {{where}}) a {_AREA_JOINS}
    WHERE a.n > (%s - 1) * CEIL(a.total / CEIL(a.total / %s))
      AND a.n <= %s * CEIL(a.total / CEIL(a.total / %s))
    ORDER BY a.n
"""


def _paged(con, where: str, params: tuple, number: int, per_page: int) -> Page:
    with _cursor(con) as cur:
        cur.execute(_PAGED.format(where=where), (*params, number, per_page, number, per_page))
        rows = cur.fetchall()
        total = rows[0][_AREA_WIDTH] if rows else _total_of_empty_page(cur, where, params, number)
    return Page([_area(row) for row in rows], total, number, balanced_size(total, per_page))


def _total_of_empty_page(cur, where: str, params: tuple, number: int) -> int:
    """The total behind a page that came back empty (its rows carry the total otherwise)."""
    if number == 1:
        return 0  # nothing matches: page 1 of anything that does holds rows
    # past the last page (a 404 that says how many pages there are): count them
    cur.execute(f"SELECT COUNT(*) FROM areas m WHERE {where}", params)
    (total,) = cur.fetchone()
    return total


def _like_contains(text: str) -> str:
    # '!' is our LIKE escape character (ESCAPE '!'), so % and _ typed by a user match themselves.
    # Not backslash: its meaning in string literals changes with the NO_BACKSLASH_ESCAPES SQL mode.
    return "%" + text.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"


def search_terms(text: str) -> tuple[str, bool]:
    """What to look for: the text without any spaces (深 圳 -> 深圳, shen zhen -> shenzhen), and whether it
    is pinyin (ASCII letters only, matched case-insensitively against the pinyin and the initials)."""
    compact = "".join(text.split())
    is_pinyin = compact.isascii() and compact.isalpha()
    return (compact.lower() if is_pinyin else compact), is_pinyin


def _indexed_char(text: str) -> str | None:
    """A character of `text` to look up in area_chars, or None when scanning every name is cheaper: a CJK
    ideograph (one collation weight, never ignorable, so every name LIKE '%text%' holds an equal one) that
    is not in hundreds of names."""
    return next((ch for ch in text if ("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf")
                 and ch not in _COMMON_CHARS), None)


_COMMON_CHARS = frozenset("省市区县")  # each in 700 to 1,433 of the 3,422 names: scanning is cheaper


def _search_clause(text: str) -> tuple[str, tuple]:
    """search()'s choice of WHERE fragment (over `m`) and its parameters."""
    compact, is_pinyin = search_terms(text)
    if is_pinyin:
        prefix = _like_contains(compact)[1:]  # escaped, and no leading %: a prefix match uses the index
        return "(m.pinyin LIKE %s ESCAPE '!' OR m.initials LIKE %s ESCAPE '!')", (prefix, prefix)
    char = _indexed_char(compact)
    if char is None:  # nothing selective to look up (区, digits, punctuation): every name is tried
        return "m.district LIKE %s ESCAPE '!'", (_like_contains(compact),)
    return ("m.district_id IN (SELECT c.district_id FROM area_chars c WHERE c.ch = %s) "
            "AND m.district LIKE %s ESCAPE '!'", (char, _like_contains(compact)))


def search(con, text: str, number: int = 1, per_page: int = 20) -> Page:
    """Areas whose name contains `text`, or whose pinyin or initials start with it (shenzhen, sz);
    provinces first, then cities, then counties."""
    where, params = _search_clause(text)
    return _paged(con, where, params, number, per_page)


def collect(con, user_id: int, district_id: int) -> bool:
    """Add an area to a user's favourites: True if added, False if it was there already.

    No "SELECT then INSERT" (two racing requests would both see nothing and both insert): the INSERT is
    the test, and the UNIQUE key (user_id, district_id) makes exactly one of any number of concurrent
    requests succeed.
    """
    try:
        with _transaction(con) as cur:
            cur.execute("INSERT INTO favorites (user_id, district_id) VALUES (%s, %s)",
                        (user_id, district_id))
    except pymysql.err.IntegrityError as exc:
        if exc.args[0] == ER.DUP_ENTRY:
            return False
        if exc.args[0] == ER.NO_REFERENCED_ROW_2:  # a foreign key: no such area (or no such user)
            raise UnknownArea(district_id) from None
        raise
    return True


def favorites(con, user_id: int) -> list[Favorite]:
    """A user's favourites, the most recently collected first."""
    with _cursor(con) as cur:
        cur.execute(f"SELECT {_AREA}, f.note, f.created_at, f.updated_at FROM favorites f "
                    f"JOIN areas a ON a.district_id = f.district_id {_AREA_JOINS} "
                    "WHERE f.user_id = %s ORDER BY f.created_at DESC, f.id DESC", (user_id,))
        return [Favorite(_area(row), *row[_AREA_WIDTH:]) for row in cur.fetchall()]


def set_note(con, user_id: int, district_id: int, note: str) -> bool:
    """Replace a favourite's note; False when the area is not one of the user's favourites."""
    if len(note) > NOTE_MAX_CHARS:
        raise ValueError(f"a note has at most {NOTE_MAX_CHARS} characters")
    with _transaction(con) as cur:
        # Counts matched rows, not changed ones (CLIENT.FOUND_ROWS in db.py): an unchanged note is found.
        return cur.execute("UPDATE favorites SET note = %s WHERE user_id = %s AND district_id = %s",
                           (note, user_id, district_id)) == 1


def remove(con, user_id: int, district_id: int) -> bool:
    """Remove a favourite; False when it was not one of the user's."""
    with _transaction(con) as cur:
        return cur.execute("DELETE FROM favorites WHERE user_id = %s AND district_id = %s",
                           (user_id, district_id)) == 1


# -- accounts ----------------------------------------------------------------------------------------------


def create_user(con, username: str, password_hash: str) -> int | None:
    """The new user's id, or None when the name is taken (the UNIQUE key decides, races included)."""
    try:
        with _transaction(con) as cur:
            cur.execute("INSERT INTO users (username, password_hash) VALUES (%s, %s)",
                        (username, password_hash))
            return cur.lastrowid
    except pymysql.err.IntegrityError as exc:
        if exc.args[0] == ER.DUP_ENTRY:
            return None
        raise


def user_by_name(con, username: str) -> tuple[int, str, str] | None:
    """(id, username as stored, password hash), or None."""
    with _cursor(con) as cur:
        cur.execute("SELECT id, username, password_hash FROM users WHERE username = %s", (username,))
        return cur.fetchone()


def login_wait(con, username: str, address: str) -> int:
    """Seconds until the account or the address may try to log in again (0: now)."""
    with _cursor(con) as cur:
        cur.execute("SELECT COALESCE(MAX(CEIL(TIMESTAMPDIFF(MICROSECOND, NOW(3), locked_until) / 1e6)), 0) "
                    "FROM login_failures "
                    "WHERE (kind = 'user' AND subject = %s) OR (kind = 'addr' AND subject = %s)",
                    (username[:64], address[:64]))
        (wait,) = cur.fetchone()
    return max(0, int(wait))


def record_login_failure(con, username: str, address: str, lock_seconds) -> None:
    """Count a failed login against the account and the address; lock each as `lock_seconds(count)` says.

    A count whose lock ended over a day ago starts again from one.
    """
    with _transaction(con) as cur:
        for kind, subject in (("user", username[:64]), ("addr", address[:64])):
            cur.execute("INSERT INTO login_failures (kind, subject, failures, locked_until) "
                        "VALUES (%s, %s, 1, NOW(3)) ON DUPLICATE KEY UPDATE failures = "
                        "IF(locked_until < NOW(3) - INTERVAL 1 DAY, 1, failures + 1)", (kind, subject))
            cur.execute("SELECT failures FROM login_failures WHERE kind = %s AND subject = %s FOR UPDATE",
                        (kind, subject))
            (failures,) = cur.fetchone()
            cur.execute("UPDATE login_failures SET locked_until = NOW(3) + INTERVAL %s SECOND "
                        "WHERE kind = %s AND subject = %s", (lock_seconds(failures), kind, subject))


def clear_login_failures(con, username: str) -> None:
    """A successful login: the account's count goes (the address's stays: it may be guessing others)."""
    with _transaction(con) as cur:
        cur.execute("DELETE FROM login_failures WHERE kind = 'user' AND subject = %s", (username[:64],))


# -- the reference data's version (sql/schema.sql: data_version), for refcache.py ---------------------------
# Every query below that reads areas reads the version in the same statement, so the two agree (one
# statement sees one snapshot): what refcache.py caches under a version is what the data was at it.

_VERSION = "(SELECT version FROM data_version WHERE name = 'areas')"


def reference_version(con, user_id: int | None = None,
                      district_id: int | None = None) -> tuple[int, bool] | None:
    """(the areas' version, whether `user_id` collected `district_id`): one statement of one row.

    None when the database has no version (a schema from before data_version, or an app user not yet
    granted SELECT on it): the pages then read everything as they did without the cache.
    """
    try:
        with con.cursor() as cur:  # not _cursor(): two of the errors mean "no version", not "unavailable"
            if user_id is None:  # nobody to ask about: one column (each costs the driver a packet)
                cur.execute("SELECT version FROM data_version WHERE name = 'areas'")
            else:
                cur.execute("SELECT v.version, EXISTS (SELECT 1 FROM favorites f "
                            "        WHERE f.user_id = %s AND f.district_id = %s) "
                            "FROM data_version v WHERE v.name = 'areas'", (user_id, district_id))
            row = cur.fetchone()
    except pymysql.MySQLError as exc:
        _unless_no_version(exc)
        return None
    return None if row is None else (row[0], len(row) > 1 and bool(row[1]))


def _unless_no_version(exc: pymysql.MySQLError) -> None:
    """Return if `exc` says the database has no readable data_version (no table, or no grant on it);
    re-raise anything else, connection-level errors as DatabaseUnavailable (as _cursor() does)."""
    if exc.args and exc.args[0] in (ER.NO_SUCH_TABLE, ER.TABLEACCESS_DENIED_ERROR):
        return
    with database_errors():
        raise exc


def area_family_versioned(con, district_id: int) -> tuple[int | None, tuple[Area, list[Area]] | None]:
    """(the version, area_family(con, district_id) without the "collected" mark), in one statement.

    (None, None) when no area has this code (no row to carry the version).
    """
    with _cursor(con) as cur:
        cur.execute(f"SELECT {_VERSION}, {_AREA} FROM areas a {_AREA_JOINS} "
                    "WHERE a.district_id = %s OR a.pid = %s ORDER BY a.district_id <> %s, a.district_id",
                    (district_id, district_id, district_id))
        rows = cur.fetchall()
    if not rows or rows[0][1] != district_id:
        return None, None
    kids = [_area(row[1:]) for row in rows[1:]]
    return rows[0][0], (dataclasses.replace(_area(rows[0][1:]), children=len(kids)), kids)


# _PAGED with the version: data_version's one row LEFT JOINed to the page, so a search that finds
# nothing still carries the version (one row of NULLs).
_PAGED_VERSIONED = f"""
    SELECT v.version, {_AREA}, a.total FROM data_version v LEFT JOIN (
        SELECT m.district_id, m.district, m.level, m.pid, m.longitude, m.latitude,
               COUNT(*) OVER () AS total, ROW_NUMBER() OVER (ORDER BY m.level, m.district_id) AS n
        FROM areas m WHERE {{where}}) a
      ON a.n > (%s - 1) * CEIL(a.total / CEIL(a.total / %s))
     AND a.n <= %s * CEIL(a.total / CEIL(a.total / %s))
    {_AREA_JOINS}
    WHERE v.name = 'areas'
    ORDER BY a.n
"""


def search_versioned(con, text: str, number: int = 1, per_page: int = 20) -> tuple[int | None, Page]:
    """(the version, search(con, text, number, per_page)) with both from one statement; the version is
    None when the page is past the last one (its total comes from a second statement)."""
    where, params = _search_clause(text)
    with _cursor(con) as cur:
        cur.execute(_PAGED_VERSIONED.format(where=where), (*params, number, per_page, number, per_page))
        rows = cur.fetchall()
        if not rows:
            raise LookupError("data_version has no 'areas' row")
        version, total = rows[0][0], rows[0][_AREA_WIDTH + 1]
        if rows[0][1] is None:  # no row on this page
            rows = []
            total = _total_of_empty_page(cur, where, params, number)
            if number != 1:  # counted by a second statement: no version to vouch for it
                version = None
    return version, Page([_area(row[1:]) for row in rows], total, number, balanced_size(total, per_page))


FavoriteRow = tuple[int, str, datetime.datetime, datetime.datetime]  # code, note, created_at, updated_at


def favorite_rows(con, user_id: int) -> tuple[int, list[FavoriteRow]] | None:
    """(the version, the user's favourites as (code, note, created_at, updated_at)), the most recently
    collected first: favorites() without the areas, which refcache.py has (or reads with areas_by_code).
    None, as reference_version() says it, when the database has no readable data_version."""
    try:
        with con.cursor() as cur:  # not _cursor(): as in reference_version()
            cur.execute("SELECT v.version, f.district_id, f.note, f.created_at, f.updated_at "
                        "FROM data_version v LEFT JOIN favorites f ON f.user_id = %s "
                        "WHERE v.name = 'areas' ORDER BY f.created_at DESC, f.id DESC", (user_id,))
            rows = cur.fetchall()
    except pymysql.MySQLError as exc:
        _unless_no_version(exc)
        return None
    if not rows:
        raise LookupError("data_version has no 'areas' row")
    return rows[0][0], [row[1:] for row in rows if row[1] is not None]


def areas_by_code(con, codes: list[int]) -> tuple[int | None, dict[int, Area]]:
    """(the version, {code: Area with its breadcrumb}) for the codes that exist; one statement."""
    if not codes:
        return None, {}
    with _cursor(con) as cur:
        cur.execute(f"SELECT {_VERSION}, {_AREA} FROM areas a {_AREA_JOINS} "
                    f"WHERE a.district_id IN ({', '.join(['%s'] * len(codes))})", tuple(codes))
        rows = cur.fetchall()
    return (rows[0][0] if rows else None), {row[1]: _area(row[1:]) for row in rows}
