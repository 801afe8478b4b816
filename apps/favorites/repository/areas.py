"""Reading areas: one area with its family, the provinces, and search with its pages."""

from __future__ import annotations

import dataclasses

from .base import _AREA, _AREA_JOINS, _AREA_WIDTH, Area, Page, _area, _cursor, balanced_size


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
