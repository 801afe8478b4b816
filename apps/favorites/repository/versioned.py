"""The reference data's version (sql/schema.sql: data_version), for refcache.py.

Every query here that reads areas reads the version in the same statement, so the two agree (one
statement sees one snapshot): what refcache.py caches under a version is what the data was at it.
"""

from __future__ import annotations

import dataclasses
import json

import pymysql
from pymysql.constants import ER

from ..db import database_errors
from .areas import _search_clause, _total_of_empty_page
from .base import _AREA, _AREA_JOINS, _AREA_WIDTH, Area, FavoriteRow, Page, _area, _cursor, balanced_size

_VERSION = "(SELECT version FROM data_version WHERE name = 'areas')"
# base.COLLECTED_FORMAT in DATE_FORMAT's terms, its % doubled: the statement also has a %s parameter.
_COLLECTED_AT = "'%%Y-%%m-%%d %%H:%%i'"


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


# favorite_rows' statement: one row, two columns, whatever the number of favourites. PyMySQL parses every
# row and every column's descriptor in Python, a packet each (12 packets for 5 favourites by row, 6 so);
# MariaDB aggregates the list as JSON instead, which json.loads reads in C. NULL: no favourites. A list
# longer than group_concat_max_len comes back cut short with a warning: _FAVORITES_BY_ROW then reads it.
_FAVORITES_AS_JSON = f"""
    SELECT v.version, (SELECT JSON_ARRAYAGG(JSON_ARRAY(f.district_id, f.note,
                                                        DATE_FORMAT(f.created_at, {_COLLECTED_AT}))
                                            ORDER BY f.created_at DESC, f.id DESC)
                       FROM favorites f WHERE f.user_id = %s)
    FROM data_version v WHERE v.name = 'areas'
"""
_FAVORITES_BY_ROW = f"""
    SELECT v.version, f.district_id, f.note, DATE_FORMAT(f.created_at, {_COLLECTED_AT})
    FROM data_version v LEFT JOIN favorites f ON f.user_id = %s
    WHERE v.name = 'areas' ORDER BY f.created_at DESC, f.id DESC
"""


def favorite_rows(con, user_id: int) -> tuple[int, list[FavoriteRow]] | None:
    """(the version, the user's favourites as (code, note, when collected)), the most recently collected
    first: favorites() without the areas, which refcache.py has (or reads with areas_by_code), and with
    the time as the page shows it, "2026-12-03 07:05" (DATE_FORMAT: no datetime built per row).
    None, as reference_version() says it, when the database has no readable data_version.

    One statement of one row (_FAVORITES_AS_JSON); a list longer than the server aggregates (a warning:
    the JSON cut short, or NULL) is read again row by row, so no favourite is ever left out."""
    try:
        with con.cursor() as cur:  # not _cursor(): as in reference_version()
            cur.execute(_FAVORITES_AS_JSON, (user_id,))
            rows = cur.fetchall()
            aggregated = not cur.warning_count
            if not aggregated:
                cur.execute(_FAVORITES_BY_ROW, (user_id,))
                rows = cur.fetchall()
    except pymysql.MySQLError as exc:
        _unless_no_version(exc)
        return None
    if not rows:
        raise LookupError("data_version has no 'areas' row")
    if not aggregated:
        return rows[0][0], [row[1:] for row in rows if row[1] is not None]
    version, listed = rows[0]
    return version, [] if listed is None else [tuple(item) for item in json.loads(listed)]


def areas_by_code(con, codes: list[int]) -> tuple[int | None, dict[int, Area]]:
    """(the version, {code: Area with its breadcrumb}) for the codes that exist; one statement."""
    if not codes:
        return None, {}
    with _cursor(con) as cur:
        cur.execute(f"SELECT {_VERSION}, {_AREA} FROM areas a {_AREA_JOINS} "
                    f"WHERE a.district_id IN ({', '.join(['%s'] * len(codes))})", tuple(codes))
        rows = cur.fetchall()
    return (rows[0][0] if rows else None), {row[1]: _area(row[1:]) for row in rows}
