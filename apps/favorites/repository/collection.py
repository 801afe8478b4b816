"""A user's favourites: collect, list, annotate, remove."""

from __future__ import annotations

import pymysql
from pymysql.constants import ER

from .base import (
    _AREA,
    _AREA_JOINS,
    _AREA_WIDTH,
    NOTE_MAX_CHARS,
    Favorite,
    UnknownArea,
    _area,
    _cursor,
    _transaction,
)


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
