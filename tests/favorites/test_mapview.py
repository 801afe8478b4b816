"""The map's SVG (no database): the outlines are drawn once per highlighted province, and stay right."""

from __future__ import annotations

import re

from apps.favorites.mapview import (
    MapPoint,
    china_map,
    framed_map,
    framed_map_chunks,
    point_svg,
    points_map_chunks,
    points_svg,
)


def _current(svg: str) -> list[str]:
    return re.findall(r'<path class="province current" d="([^"]*)"', svg)


def test_each_page_highlights_its_own_province_and_only_that_one() -> None:
    guangdong = china_map([MapPoint(114.05, 22.54, "深圳市", main=True)], highlight=440000, label="深圳")
    beijing = china_map([MapPoint(116.4, 39.9, "北京市", main=True)], highlight=110000, label="北京")
    again = china_map([MapPoint(114.05, 22.54, "深圳市", main=True)], highlight=440000, label="深圳")
    none = china_map([], label="我的收藏")
    assert len(_current(guangdong)) == 1 and len(_current(beijing)) == 1 and _current(none) == []
    assert _current(guangdong) != _current(beijing) and again == guangdong  # cached per province
    assert guangdong.count('<path class="province') == none.count('<path class="province') == 34
    assert 'aria-label="北京"' in beijing and "<title>深圳市</title>" in guangdong  # per page, not cached


def test_labels_and_links_are_escaped() -> None:
    svg = china_map([MapPoint(114.0, 22.5, "<b>&", href='/x"y')], label='"<地图>"')
    assert "<b>" not in svg and "&lt;b&gt;&amp;" in svg and 'href=\'/x"y\'' in svg
    assert "aria-label='\"&lt;地图&gt;\"'" in svg


def test_the_chunks_are_the_map_encoded() -> None:
    points = points_svg([MapPoint(114.05, 22.54, "深圳市", main=True),
                         MapPoint(114.0, 22.5, "<福田>", href="/a")])
    for highlight, label in ((440000, "深圳在中国的位置"), (None, '"<地图>"')):
        chunks = framed_map_chunks(points, highlight=highlight, label=label)
        assert b"".join(chunks) == str(framed_map(points, highlight=highlight, label=label)).encode("utf-8")
    shared = framed_map_chunks(points, highlight=440000)[1]
    assert shared is framed_map_chunks("", highlight=440000)[1]  # one outlines' chunk per province


def test_a_map_from_its_points_bytes_is_the_same_map() -> None:
    # The favourites page keeps each favourite's point encoded; the map must be what points_svg draws.
    points = [MapPoint(114.05, 22.54, "深圳市", href="/favorites#fav-440300"), MapPoint(None, None, "无坐标"),
              MapPoint(116.4, 39.9, "<北京>&", href="/f?a=1&b='2'"), MapPoint(113.26, 23.13, "广州市")]
    label = "我的收藏在地图上的位置"
    chunks = points_map_chunks((point_svg(p).encode() for p in points), label=label)
    assert b"".join(chunks) == b"".join(framed_map_chunks(points_svg(points), label=label))
    assert point_svg(points[1]) == "" and b"".join(points_map_chunks((), label=label)) == b"".join(
        framed_map_chunks(points_svg([]), label=label))
    assert chunks[0] is points_map_chunks((), label=label)[0]  # the frame encoded once per label
