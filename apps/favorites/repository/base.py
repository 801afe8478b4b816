"""The repository's records and plumbing: the dataclasses every query returns, the area columns and joins
they share, and the cursor and transaction every function runs in (package docstring: the rules)."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pymysql

from ..db import database_errors

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


def page_of(items: list, number: int, per_page: int) -> Page:
    """Page `number` of rows already fetched, in the balanced pages the database queries use."""
    size = balanced_size(len(items), per_page)
    return Page(items[(number - 1) * size:number * size], len(items), number, size)

# When a favourite was collected, as the favourites page shows it (strftime's format; favorite_rows has
# the same in SQL, as DATE_FORMAT's "%Y-%m-%d %H:%i": %i is the minutes there).
COLLECTED_FORMAT = "%Y-%m-%d %H:%M"
FavoriteRow = tuple[int, str, str]  # code, note, when collected (COLLECTED_FORMAT)
