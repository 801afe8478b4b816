"""The repository package: what the mutation run of issue 15 found untested (tests/MUTANTS.md lists the rest).

An area carries its own row's columns and the number of its children; `!`, `%` and `_` in a search are
found as themselves in a name that holds them (no area's name does, so a rename shows it); a search for a
selective ideograph goes through the character index instead of reading every area, and only CJK
ideographs that are not in hundreds of names are looked up there; failed logins of names longer than the
column are counted.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from apps.favorites import repository as repo
from apps.favorites.db import DatabaseUnavailable
from apps.favorites.repository import areas
from tests.favorites.conftest import session_status

AREAS = 3422  # rows in sql/areas.sql: a full scan of `areas` reads every one of them


@pytest.mark.parametrize("code", [440305, 440300, 440000, 110000, 110101])
def test_an_area_carries_its_rows_columns(con, code: int) -> None:
    with con.cursor() as cur:
        cur.execute("SELECT district_id, district, level, pid, longitude, latitude FROM areas "
                    "WHERE district_id = %s", (code,))
        row = cur.fetchone()
    area = repo.get_area(con, code)
    assert (area.district_id, area.district, area.level, area.pid, area.longitude, area.latitude) == row
    assert (area.pid is None) == (area.level == 1) == (area.ancestors == ())
    assert area.pid is None or area.pid == area.ancestors[-1][0]  # a municipality's district: level 3, pid
    assert area.longitude is not None and area.latitude is not None  # every area has a place on the map


@pytest.mark.parametrize(("code", "children"), [(440000, 21), (440300, 9), (440305, 0), (110000, 16)])
def test_get_area_counts_the_children(con, code: int, children: int) -> None:
    area = repo.get_area(con, code)
    assert area.children == children == len(repo.area_family(con, code)[1])


@contextmanager
def renamed(mariadb, code: int, name: str):
    """The area `code` named `name` while the block runs (as an administrator: the app may not)."""
    admin = mariadb.admin_connect(database=mariadb.database)
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT district FROM areas WHERE district_id = %s", (code,))
            (old,) = cur.fetchone()
            cur.execute("UPDATE areas SET district = %s WHERE district_id = %s", (name, code))
        try:
            yield
        finally:
            with admin.cursor() as cur:
                cur.execute("UPDATE areas SET district = %s WHERE district_id = %s", (old, code))
    finally:
        admin.close()


@pytest.mark.parametrize("special", ["!", "%", "_", "!%", "%_!"])
def test_like_wildcards_and_the_escape_character_are_found_as_themselves(con, mariadb, special: str) -> None:
    with renamed(mariadb, 440305, f"南{special}山区"):
        for text in (f"南{special}山", f"{special}山区", special):  # through the index (南, 山) and by scan
            assert [a.district_id for a in repo.search(con, text, 1, 20).items] == [440305], text
        assert 440305 not in [a.district_id for a in repo.search(con, "南山", 1, 20).items]


def rows_scanned(con, text: str) -> tuple[int, int]:
    """(matches, rows read by table scans) of search(text): the session's Handler_read_rnd_next."""
    before = session_status(con, "Handler_read_rnd_next")
    total = repo.search(con, text, 1, 20).total
    return total, session_status(con, "Handler_read_rnd_next") - before


@pytest.mark.parametrize(("text", "total"), [("南山", 2), ("深圳", 1), ("山南", 1)])
def test_a_search_by_a_selective_ideograph_reads_no_table_scan_of_the_areas(con, text: str,
                                                                            total: int) -> None:
    found, scanned = rows_scanned(con, text)
    assert found == total
    assert scanned < AREAS // 10, scanned  # the character index: the ~100 areas holding 南, not all


@pytest.mark.parametrize(
    ("text", "char"),
    [("南山", "南"), ("区南", "南"), ("市辖", "辖"), ("区", None), ("省市区县", None), ("A1", None),
     ("a1", None), ("zz", None), ("~", None), ("1南", "南"),
     ("\u4e00", "\u4e00"), ("\u9fff", "\u9fff"), ("\u3400", "\u3400"), ("\u4dbf", "\u4dbf"),  # the ends
     ("\u4dff", None), ("\u33ff", None), ("\u4dc0", None), ("\ua000", None),  # just outside them
     ("\uf900", None)],  # a compatibility ideograph
)
def test_the_indexed_character_is_a_cjk_ideograph_not_in_hundreds_of_names(text: str,
                                                                           char: str | None) -> None:
    """The first one (the index's lookup is by one character); None makes search() scan every name."""
    assert areas._indexed_char(text) == char


def test_failed_logins_of_names_and_addresses_longer_than_the_column_are_counted(con) -> None:
    """login_failures.subject is VARCHAR(64), and the login form's name is not bounded before it is
    counted: a longer name or address is cut to the column, never refused by the database."""
    name, address = "长" * 100, "f" * 100
    repo.record_login_failure(con, name, address, lambda failures: 60)
    assert 0 < repo.login_wait(con, name, "127.0.0.1") <= 60  # the account's count
    assert 0 < repo.login_wait(con, "另一个人", address) <= 60  # the address's count
    assert repo.login_wait(con, "另一个人", "127.0.0.1") == 0
    repo.clear_login_failures(con, name)
    assert repo.login_wait(con, name, "127.0.0.1") == 0


# The versioned reads (repository/versioned.py), which refcache.py caches under the version they return.
NANSHAN, FUTIAN = 440305, 440304


def test_reference_version_says_whether_the_user_collected_the_area(con) -> None:
    user = repo.create_user(con, "收藏者", "hash")
    assert repo.collect(con, user, NANSHAN)
    version = repo.reference_version(con)[0]
    assert repo.reference_version(con) == (version, False)  # nobody asked about
    assert repo.reference_version(con, user, NANSHAN) == (version, True)
    assert repo.reference_version(con, user, FUTIAN) == (version, False)


def test_favorite_rows_carry_the_version_and_the_users_favourites_newest_first(con) -> None:
    user, other = repo.create_user(con, "收藏者", "hash"), repo.create_user(con, "另一个人", "hash")
    for code in (NANSHAN, FUTIAN):
        repo.collect(con, user, code)
    repo.set_note(con, user, FUTIAN, "笔记")
    version = repo.reference_version(con)[0]
    found, rows = repo.favorite_rows(con, user)
    assert found == version
    assert [(code, note) for code, note, *_ in rows] == [(FUTIAN, "笔记"), (NANSHAN, "")]
    assert repo.favorite_rows(con, other) == (version, [])  # none: the version still comes


def test_areas_by_code_of_codes_no_area_has(con) -> None:
    assert repo.areas_by_code(con, [999999]) == (None, {})  # no row: no version either
    assert repo.areas_by_code(con, []) == (None, {})


def test_search_versioned_pages_as_search_does_with_its_defaults(con) -> None:
    version, page = repo.search_versioned(con, "中")  # 42 areas: pages of 14 (of 21 at most 21 a page)
    assert page == repo.search(con, "中") and version == repo.reference_version(con)[0]
    assert page.per_page != repo.balanced_size(page.total, 21)  # so a default of 21 would show


def test_a_search_that_finds_nothing_is_one_statement(con) -> None:
    """Page 1 came back empty: nothing matches, so there is nothing to count (past the last page there is:
    the second statement, and no version then)."""
    before = session_status(con, "Com_select")
    version, page = repo.search_versioned(con, "没有这个")
    assert session_status(con, "Com_select") - before == 1
    assert version == repo.reference_version(con)[0] and page.total == 0 and page.items == []
    before = session_status(con, "Com_select")
    version, page = repo.search_versioned(con, "南", 99)
    assert session_status(con, "Com_select") - before == 2
    assert version is None and page.total == repo.search(con, "南").total



def test_an_unversioned_search_that_finds_nothing_is_one_statement(con) -> None:
    """search() (the cache off) as search_versioned() above: an empty page 1 is not counted again."""
    before = session_status(con, "Com_select")
    page = repo.search(con, "没有这个")
    assert session_status(con, "Com_select") - before == 1
    assert page.total == 0 and page.items == []
    before = session_status(con, "Com_select")
    page = repo.search(con, "南", 99)
    assert session_status(con, "Com_select") - before == 2
    assert page.total == repo.search(con, "南").total and page.items == []

def test_the_versioned_reads_without_the_areas_version_row(con, mariadb) -> None:
    """data_version without its 'areas' row (a schema run by hand halfway): no version for the page
    checks, and an error that says what is missing for the reads that need the row."""
    user = repo.create_user(con, "收藏者", "hash")
    admin = mariadb.admin_connect(database=mariadb.database)
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT version FROM data_version WHERE name = 'areas'")
            (version,) = cur.fetchone()
            cur.execute("DELETE FROM data_version WHERE name = 'areas'")
        try:
            assert repo.reference_version(con) is None
            assert repo.reference_version(con, user, NANSHAN) is None
            for read in (lambda: repo.search_versioned(con, "南"), lambda: repo.favorite_rows(con, user)):
                with pytest.raises(LookupError) as raised:
                    read()
                assert str(raised.value) == "data_version has no 'areas' row"
        finally:
            with admin.cursor() as cur:
                cur.execute("INSERT INTO data_version (name, version) VALUES ('areas', %s)", (version,))
    finally:
        admin.close()
    assert repo.reference_version(con) == (version, False)


def test_a_lost_connection_is_unavailable_not_a_missing_version(con, mariadb) -> None:
    """Only "no such table" and "no grant" mean no version; a connection killed under a read is the
    database being unavailable (a 503), not a page to serve uncached."""
    admin = mariadb.admin_connect()
    try:
        with admin.cursor() as cur:
            cur.execute("KILL %s", (con.thread_id(),))
    finally:
        admin.close()
    with pytest.raises(DatabaseUnavailable):
        repo.reference_version(con)  # the server closed it: OperationalError
    with pytest.raises(DatabaseUnavailable):
        repo.favorite_rows(con, 1)  # the driver knows it is closed: InterfaceError
