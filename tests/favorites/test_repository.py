"""The repository package on the real database: search is literal, collect is unique, notes are bounded."""

from __future__ import annotations

import pytest

from apps.favorites import repository as repo
from tests.favorites.conftest import session_status


@pytest.fixture
def uid(con) -> int:
    return repo.create_user(con, "甲用户", "scrypt$not-a-real-hash")


def names(page: repo.Page) -> list[str]:
    return [a.district for a in page.items]


def test_children_are_paginated_in_balanced_pages(con) -> None:
    guangdong, cities = repo.area_family(con, 440000)
    assert guangdong.children == 21 == len(cities)  # counted in the same query as the area
    assert guangdong.district == "广东省" and all(c.ancestors == ((440000, "广东省"),) for c in cities)
    first = repo.page_of(cities, 1, 20)
    assert first.total == 21 and first.pages == 2 and first.per_page == 11
    assert names(first)[:3] == ["广州市", "韶关市", "深圳市"]
    last = repo.page_of(cities, 2, 20)
    assert len(first.items) == 11 and len(last.items) == 10  # not 20 + 1
    assert not set(names(first)) & set(names(last))
    assert repo.page_of(cities, 3, 20).items == []


def test_an_area_and_its_children_come_in_one_round_trip(con) -> None:
    before = session_status(con, "Questions")
    shenzhen, districts = repo.area_family(con, 440300)
    assert session_status(con, "Questions") - before == 2  # area_family's one query, and the second SHOW
    assert shenzhen.ancestors == ((440000, "广东省"),) and shenzhen.children == len(districts) == 9
    assert [d.district_id for d in districts] == sorted(d.district_id for d in districts)
    assert all(d.ancestors == ((440000, "广东省"), (440300, "深圳市")) and d.lineage == "广东省 / 深圳市"
               for d in districts)
    county, none = repo.area_family(con, 440305)
    assert county.district == "南山区" and county.children == 0 and none == []
    assert county.province == 440000 and repo.area_family(con, 440000)[0].province == 440000
    assert repo.area_family(con, 999999) is None


@pytest.mark.parametrize(("total", "most", "size"), [(0, 20, 1), (5, 20, 5), (20, 20, 20), (21, 20, 11),
                                                     (41, 20, 14), (1260, 20, 20), (61, 20, 16)])
def test_balanced_size(total: int, most: int, size: int) -> None:
    assert repo.balanced_size(total, most) == size
    if total:
        pages = -(-total // size)
        assert size <= most and total - (pages - 1) * size >= size - pages  # the last page is nearly full


def test_shenzhen_has_its_new_districts_and_no_placeholders(con) -> None:
    _, districts = repo.area_family(con, 440300)
    page = repo.page_of(districts, 1, 20)
    assert {"龙华区", "坪山区", "光明区"} <= set(names(page))
    longhua = next(a for a in page.items if a.district == "龙华区")
    assert longhua.longitude is not None  # filled from the boundary's centroid at generation time
    assert repo.search(con, "市辖区", 1, 20).total == 0
    _, beijing = repo.area_family(con, 110000)  # a municipality: its districts hang under it directly
    assert "东城区" in [a.district for a in beijing]


@pytest.mark.parametrize("text", ["深圳", "深 圳", " 深圳 ", "shenzhen", "shen zhen", "ShenZhen", "sz",
                                  "szs"])
def test_search_by_chinese_pinyin_and_initials(con, text: str) -> None:
    assert "深圳市" in names(repo.search(con, text, 1, 100)), text


def test_search_finds_by_part_of_the_name(con) -> None:
    page = repo.search(con, "南山", 1, 50)
    assert "南山区" in names(page)
    assert all("南山" in n for n in names(page))


def _scan(con, text: str) -> list[int]:
    """What search(text) must find, by the plain scan the character index (area_chars) stands in for."""
    with con.cursor() as cur:
        cur.execute("SELECT district_id FROM areas WHERE district LIKE %s ORDER BY level, district_id",
                    (f"%{text}%",))
        return [row[0] for row in cur.fetchall()]


@pytest.mark.parametrize("text", ["南", "南山", "山南", "区", "市辖", "自治", "新区", "族自治县", "深",
                                  "圳市", "澳门"])
def test_search_pages_hold_exactly_the_matches(con, text: str) -> None:
    first = repo.search(con, text, 1, 20)
    found = [a.district_id for n in range(1, first.pages + 1) for a in repo.search(con, text, n, 20).items]
    assert found == _scan(con, text) and first.total == len(found), text  # every match once, in order
    assert first.per_page == repo.balanced_size(first.total, 20)  # the SQL's page size is balanced_size's
    past = repo.search(con, text, first.pages + 1, 20)  # past the end: no rows, the right total (a 404)
    assert past.items == [] and past.total == first.total and past.pages == first.pages


def test_the_character_index_follows_renamed_areas(con, mariadb) -> None:
    admin = mariadb.admin_connect(database=mariadb.database)  # the app may not write areas; an admin may
    try:
        with admin.cursor() as cur:
            cur.execute("UPDATE areas SET district = '鑫测试区' WHERE district_id = 440305")  # was 南山区
        assert [a.district_id for a in repo.search(con, "鑫测", 1, 20).items] == [440305]
        assert 440305 not in [a.district_id for a in repo.search(con, "南山", 1, 20).items]
        with admin.cursor() as cur:
            cur.execute("UPDATE areas SET district = '南山区' WHERE district_id = 440305")
        assert repo.search(con, "鑫测", 1, 20).total == 0
        assert 440305 in [a.district_id for a in repo.search(con, "南山", 1, 20).items]
    finally:
        with admin.cursor() as cur:
            cur.execute("UPDATE areas SET district = '南山区' WHERE district_id = 440305")
        admin.close()


@pytest.mark.parametrize("text", ["%", "_", "!", "\\", "%%", "南_区", "深%"])
def test_search_wildcards_are_literal(con, text: str) -> None:
    assert repo.search(con, text, 1, 20).total == 0  # no area name holds these characters


@pytest.mark.parametrize("text", ["' OR '1'='1", "\"; DROP TABLE areas; --", "1' UNION SELECT 1,2,3 -- "])
def test_search_is_not_injectable(con, text: str) -> None:
    assert repo.search(con, text, 1, 20).total == 0
    assert len(repo.provinces(con)) == 34  # still there


def test_collect_once(con, uid) -> None:
    assert repo.collect(con, uid, 440300) is True
    assert repo.collect(con, uid, 440300) is False
    assert [f.area.district for f in repo.favorites(con, uid)] == ["深圳市"]
    assert repo.get_area(con, 440300, uid).collected and not repo.get_area(con, 440000, uid).collected
    shenzhen, districts = repo.area_family(con, 440300, uid)
    assert shenzhen.collected and not repo.area_family(con, 440300)[0].collected  # nobody's: not collected
    repo.collect(con, uid, 440305)
    assert not any(d.collected for d in repo.area_family(con, 440300, uid)[1])  # marked on the area only


def test_collect_unknown_area(con, uid) -> None:
    with pytest.raises(repo.UnknownArea) as unknown:
        repo.collect(con, uid, 999999)
    assert unknown.value.args == (999999,)  # the code, for the page that says which area is unknown
    assert repo.favorites(con, uid) == []


def test_note_round_trips_exactly(con, uid) -> None:
    repo.collect(con, uid, 440300)
    note = "我的家乡 <b>深圳</b> 'quote' \"dq\" \\ 😀" + "字" * 150
    assert repo.set_note(con, uid, 440300, note) is True
    assert repo.set_note(con, uid, 440300, note) is True  # unchanged, still found
    assert repo.favorites(con, uid)[0].note == note


def test_note_limit_is_200_characters(con, uid) -> None:
    repo.collect(con, uid, 440300)
    assert repo.set_note(con, uid, 440300, "深" * repo.NOTE_MAX_CHARS)
    with pytest.raises(ValueError, match="^a note has at most 200 characters$"):
        repo.set_note(con, uid, 440300, "深" * (repo.NOTE_MAX_CHARS + 1))
    assert repo.favorites(con, uid)[0].note == "深" * repo.NOTE_MAX_CHARS


def test_note_and_remove_on_a_non_favourite(con, uid) -> None:
    assert repo.set_note(con, uid, 440300, "x") is False
    assert repo.remove(con, uid, 440300) is False


def test_remove(con, uid) -> None:
    repo.collect(con, uid, 440300)
    repo.collect(con, uid, 110000)
    assert repo.remove(con, uid, 440300) is True
    assert [f.area.district_id for f in repo.favorites(con, uid)] == [110000]


def test_favorites_are_per_user(con, uid) -> None:
    other = repo.create_user(con, "乙用户", "scrypt$x")
    assert repo.collect(con, uid, 440300) and repo.collect(con, other, 440300)  # one each: no conflict
    repo.set_note(con, other, 440300, "乙的备注")
    assert [f.note for f in repo.favorites(con, uid)] == [""]
    assert repo.remove(con, uid, 440300) and [f.note for f in repo.favorites(con, other)] == ["乙的备注"]
    assert repo.create_user(con, "Alice", "x") and repo.create_user(con, "alice", "x") is None  # one name
    assert repo.create_user(con, "甲用户", "x") is None


def test_search_defaults_to_the_first_page_of_at_most_20(con) -> None:
    page = repo.search(con, "山")  # 183 names: 10 pages of 19 (at most 21 a page would be 9 of 21)
    assert (page.number, page.total, page.per_page, page.pages) == (1, 183, 19, 10)
    assert names(page) == names(repo.search(con, "山", 1, 20))


@pytest.mark.parametrize(
    ("text", "terms"),
    [("Shen Zhen", ("shenzhen", True)), ("SZ", ("sz", True)), ("深 圳", ("深圳", False)),
     ("A1", ("A1", False)), ("Ü", ("Ü", False))],
)
def test_search_terms(text: str, terms: tuple[str, bool]) -> None:
    """Pinyin (ASCII letters only) is lower-cased; anything else is kept as typed, spaces dropped."""
    assert repo.search_terms(text) == terms


def test_ping_answers_on_a_live_connection(con) -> None:
    assert repo.ping(con) is None
    assert repo.ping(con) is None  # and again: the result set was read, the connection is usable

