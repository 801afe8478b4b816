"""The reference data (the areas) kept in process, and still correct when the data is reloaded.

The areas change only when someone reloads them, so the area page, search and the favourites page's
areas come from a bounded in-process cache instead of being read, decoded and rendered per request. What
keeps it correct is a version the database keeps for the data (sql/schema.sql, table ``data_version``):
triggers move it on with every row written to ``areas`` or ``area_chars``, in the same transaction, and
every run of the schema gives it a fresh random value, so a reload by any means changes it.

- Every page still makes one round trip: one statement of one row that reads the version (and, on the
  area page, the visitor's own "collected" mark in the same statement: user data is never cached).
- Everything cached is keyed by (version, ...). A version is only ever read in the same statement as the
  areas it is stored with (repository: ``*_versioned``, ``areas_by_code``), so an entry holds what the
  data was at that version; the next request after a reload reads the new version and misses.
- On a replica the version arrives with the replicated change, so the version read on a connection
  matches the data on that same connection, whichever database it is.
- The bound is a number of entries, least recently used first out: ``REFCACHE_ENTRIES`` for the areas
  (the data bounds them too), ``REFCACHE_SEARCHES`` for search pages (settings.py); entries of an old
  version are never asked for again and age out the same way. 0 turns a cache off (``MINIWEB_DEBUG``
  turns both off, since templates reload): its pages then read and render as before.
- Cached markup (the area's breadcrumb and facts, the map's points, the list of children or of search
  results with its pagination) is rendered by the same macros and ``url_for`` the page would use, so a
  page is byte for byte what it is without the cache. The area page's parts are kept as UTF-8 bytes
  (miniweb.HtmlBytes: the map's frame, outlines and points, the head, the list), which App.render splices
  into the page instead of copying and encoding them per request; the per-request parts (the collected
  mark, the CSRF token, the login state, the navigation) are rendered per request by the templates.

Both the demo (views.py) and the Flask port the benchmark compares it with (bench/flask_favorites.py)
use this module, so the two do the same work.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, NamedTuple

from markupsafe import Markup

from miniweb import HtmlBytes

from . import repository as repo
from .mapview import MapPoint, area_points, framed_map_chunks, point_svg, points_map_chunks, points_svg

__all__ = ["AreaView", "FavoriteView", "RefCache", "ReferencePages", "SearchView"]

log = logging.getLogger(__name__)

_MISSING = object()


class RefCache:
    """A thread-safe least-recently-used map of at most `max_entries` entries."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be 0 (no cache) or more")
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()  # guards _entries: get's lookup and move_to_end, put's eviction, len

    def __len__(self) -> int:
        with self._lock:  # read while other threads put and evict: the count of one state, not of a step
            return len(self._entries)

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            value = self._entries.get(key, _MISSING)
            if value is _MISSING:
                return default
            self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        if not self.max_entries:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass(frozen=True, slots=True)
class AreaView:
    """What the area page shows: `children_html` is None when the page number is past the last page."""

    area: repo.Area                  # its `collected` is False: the mark is `collected`, per request
    page: repo.Page                  # this page of the children
    collected: bool
    area_map: HtmlBytes              # the map (cached with the family: its frame, outlines and points)
    head_html: HtmlBytes             # the breadcrumb, the name and the facts (the area_head macro)
    children_html: HtmlBytes | None  # the list of this page's children and the pagination


@dataclass(frozen=True, slots=True)
class _Family:
    area: repo.Area
    children: list[repo.Area]
    area_map: HtmlBytes              # mapview.framed_map_chunks: the outlines' chunk is shared by province
    head: HtmlBytes                  # the area_head macro's markup


class FavoriteView(NamedTuple):
    """One favourite on the favourites page: the user's part read per request, the area's markup cached."""

    code: int                        # the area's
    area: repo.Area
    note: str
    collected_at: str                # when it was collected, repo.COLLECTED_FORMAT
    head: Markup                     # the area's link, level and lineage (the favorite_head macro)
    note_action: Markup              # the note form's action, escaped
    remove: Markup                   # the remove link (the favorite_remove macro)
    point: bytes                     # its point on the page's map (mapview.point_svg), UTF-8


@dataclass(frozen=True, slots=True)
class _FavoriteArea:
    area: repo.Area
    head: Markup
    note_action: Markup
    remove: Markup
    point: bytes

    def view(self, note: str, collected_at: str) -> FavoriteView:
        return FavoriteView(self.area.district_id, self.area, note, collected_at, self.head,
                            self.note_action, self.remove, self.point)


@dataclass(frozen=True, slots=True)
class SearchView:
    page: repo.Page
    results_html: Markup | None      # the list and the pagination; None when nothing is on the page


class ReferencePages:
    """The reference parts of the area, search and favourites pages, through one RefCache.

    `url_for` is the app's (the map's links), `macros` returns the loaded templates/_macros.html module
    (``env.get_template("_macros.html").module``), whose ``area_list`` and ``pagination`` the templates
    call; a cache of 0 entries reads and renders everything per request.
    """

    def __init__(self, cache: RefCache, url_for: Callable[..., str], macros: Callable[[], Any], *,
                 per_page: int, levels: dict[int, str], searches: RefCache | None = None) -> None:
        self.cache = cache               # the areas': bounded by the data too (every family, list, area)
        self.searches = RefCache(0) if searches is None else searches  # texts are anyone's: its own bound
        self.url_for = url_for
        self.macros = macros
        self.per_page = per_page
        self.levels = levels  # the macros' level names (views.LEVEL_NAMES)
        self._warned = False  # about a database without a version: once per process

    def _version(self, con, user_id: int | None = None, district_id: int | None = None, *,
                 cache: RefCache | None = None):
        # -> (version or None, collected): no version when the cache is off or the database has none
        if not (self.cache if cache is None else cache).max_entries:
            return None, False
        found = repo.reference_version(con, user_id, district_id)
        if found is None:
            self._no_version()
            return None, False
        return found

    def _no_version(self) -> None:
        if not self._warned:  # once per process
            self._warned = True
            log.warning("the database has no readable data_version: the areas are read uncached; "
                        "run sql/schema.sql (and grant the app's user SELECT on data_version)")

    # -- the area page -------------------------------------------------------------------------------------

    def area(self, con, district_id: int, user_id: int | None, number: int) -> AreaView | None:
        """The area page's data and cached markup; None when no area has this code."""
        version, collected = self._version(con, user_id, district_id)
        root = self.url_for("index")  # the mount point's: the cached links carry it (SCRIPT_NAME)
        family = self.cache.get(("family", version, root, district_id)) if version is not None else None
        if family is None:
            if version is None:  # uncached: the one query with the mark, as before the cache
                found = repo.area_family(con, district_id, user_id)
                if found is None:
                    return None
                collected = found[0].collected
                family = self._family(dataclasses.replace(found[0], collected=False), found[1])
            else:
                version, found = repo.area_family_versioned(con, district_id)
                if found is None:
                    return None
                family = self._family(*found)
                self.cache.put(("family", version, root, district_id), family)
        place = family.area
        page = repo.page_of(family.children, number, self.per_page)
        children_html = None
        if page.total and number <= page.pages:
            key = ("children", version, root, district_id, number)
            children_html = self.cache.get(key) if version is not None else None
            if children_html is None:
                children_html = HtmlBytes.of(self._list(page, "area", (district_id,), {}))
                if version is not None:
                    self.cache.put(key, children_html)
        return AreaView(place, page, collected, family.area_map, family.head, children_html)

    def _family(self, area: repo.Area, children: list[repo.Area]) -> _Family:
        points = points_svg(area_points(area, children, lambda code: self.url_for("area", code)))
        area_map = framed_map_chunks(points, highlight=area.province, label=f"{area.district}在中国的位置")
        return _Family(area, children, HtmlBytes(*area_map),
                       HtmlBytes.of(self.macros().area_head(area, self.levels)))

    def _list(self, page: repo.Page, endpoint: str, args: tuple, params: dict) -> Markup:
        # Exactly what the templates wrote before: {{ area_list(...) }}, a line break, {{ pagination(...) }}
        macros = self.macros()
        return Markup(f"{macros.area_list(page.items, self.levels)}\n"
                      f"{macros.pagination(page, endpoint, args, params)}")

    # -- search --------------------------------------------------------------------------------------------

    def search(self, con, q: str, number: int) -> SearchView:
        """One page of the search for `q` (stripped, as the page shows it), with its cached markup."""
        version, _ = self._version(con, cache=self.searches)
        root = self.url_for("index")  # as in area(): the links carry the mount point
        found = self.searches.get((version, root, q, number)) if version is not None else None
        if found is not None:
            return found
        if version is None:
            page = repo.search(con, q, number, self.per_page)
        else:
            version, page = repo.search_versioned(con, q, number, self.per_page)
        html = self._list(page, "search", (), {"q": q}) if page.items else None
        view = SearchView(page, html)
        if version is not None:
            self.searches.put((version, root, q, number), view)
        return view

    # -- the favourites page: the user's rows read every time, their areas' markup from the cache ----------

    def favorites(self, con, user_id: int) -> list[FavoriteView]:
        """The user's favourites (as repo.favorites orders them): read fresh, each with its area's markup,
        from the cache by (version, area, the favourites page's URL: the remove link's `next`)."""
        here = self.url_for("favorites")
        found_rows = repo.favorite_rows(con, user_id) if self.cache.max_entries else None
        if found_rows is None:  # the cache is off, or the database has no version: as before the cache
            if self.cache.max_entries:
                self._no_version()
            return [self._favorite_area(f.area, here).view(f.note,
                                                           f.created_at.strftime(repo.COLLECTED_FORMAT))
                    for f in repo.favorites(con, user_id)]
        version, rows = found_rows
        get = self.cache.get
        parts = {code: get(("favorite", version, code, here)) for code, _, _ in rows}
        missing = [code for code, part in parts.items() if part is None]
        if missing:
            found_version, found = repo.areas_by_code(con, missing)
            for code, area in found.items():
                parts[code] = part = self._favorite_area(area, here)
                self.cache.put(("favorite", found_version, code, here), part)
        # An area deleted between the two statements took its favourite with it (ON DELETE CASCADE).
        return [part.view(note, when) for code, note, when in rows if (part := parts[code]) is not None]

    def _favorite_area(self, area: repo.Area, here: str) -> _FavoriteArea:
        macros = self.macros()
        point = MapPoint(area.longitude, area.latitude, area.district, f"{here}#fav-{area.district_id}")
        return _FavoriteArea(area, macros.favorite_head(area, self.levels),
                             Markup.escape(self.url_for("edit_note", area.district_id)),
                             macros.favorite_remove(area, here), point_svg(point).encode())

    def favorites_map(self, favorites: list[FavoriteView]) -> HtmlBytes:
        """The favourites' map as UTF-8 chunks: its 42 KB of outlines shared, each point's bytes cached
        with its favourite (a link to it on this page), in the page's order: nothing encoded per request."""
        return HtmlBytes(*points_map_chunks((f.point for f in favorites), label="我的收藏在地图上的位置"))
