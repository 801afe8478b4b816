"""The areas' in-process cache (apps/favorites/refcache.py) stays correct when the data is reloaded.

Every reload here is done as an administrator would do it, on the test database, and undone after; each
checks that the very next request shows the new data, through the same app (and cache) that served
the old data a moment before.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
import webtest

from apps.favorites import create_app
from apps.favorites import repository as repo
from apps.favorites.refcache import RefCache
from apps.favorites.settings import Settings, SettingsError
from scripts.localdb import SQL_FILES, load_sql
from tests.favorites.conftest import session_status, sign_up

_TOKEN = re.compile(r'name="csrf_token" value="[^"]*"')
# Counties of 深圳市; 福田区 and 光明区 are the only areas of those names (there are two 南山区).
FUTIAN, NANSHAN, GUANGMING, SHENZHEN = 440304, 440305, 440311, 440300
FUTIAN_SEARCH, GUANGMING_SEARCH = "/search?q=" + quote("福田"), "/search?q=" + quote("光明")


@pytest.fixture
def admin(mariadb, con) -> Iterator:
    """The administrator on the test database (the app's user may only read the areas)."""
    connection = mariadb.admin_connect(database=mariadb.database)
    try:
        yield connection
    finally:
        connection.close()


def run(admin, sql: str, params: tuple = ()) -> list[tuple]:
    with admin.cursor() as cur:  # test set-up: an administrator reloading reference data
        cur.execute(sql, params)
        return list(cur.fetchall())


@pytest.fixture
def client(app, con) -> webtest.TestApp:
    return webtest.TestApp(app)


def test_the_cache_keeps_the_most_recently_used_entries_and_no_more() -> None:
    cache = RefCache(3)
    for key in "abc":
        cache.put(key, key.upper())
    assert cache.get("a") == "A"  # now the most recently used
    cache.put("d", "D")
    assert len(cache) == 3 and cache.get("b") is None  # b was the least recently used
    assert [cache.get(k) for k in "acd"] == ["A", "C", "D"]
    off = RefCache(0)
    off.put("a", 1)
    assert len(off) == 0 and off.get("a", "none") == "none"
    with pytest.raises(ValueError):
        RefCache(-1)


def test_the_cache_is_safe_under_threads() -> None:
    cache, bound, errors = RefCache(50), 50, []

    def worker(n: int) -> None:
        try:
            for i in range(3_000):
                key = (n * 7 + i) % 200
                cache.put(key, key)
                found = cache.get((key + 1) % 200)
                assert found is None or found == (key + 1) % 200
                assert len(cache) <= bound
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(cache) == bound


def test_the_setting(settings) -> None:
    defaults = Settings.from_env({})
    assert (defaults.refcache_entries, defaults.refcache_searches) == (4096, 512)
    assert Settings.from_env({"REFCACHE_ENTRIES": "0"}).refcache_entries == 0
    assert Settings.from_env({"REFCACHE_SEARCHES": "7"}).refcache_searches == 7
    for name in ("REFCACHE_ENTRIES", "REFCACHE_SEARCHES"):
        for bad in ("-1", "many", "1000001"):
            with pytest.raises(SettingsError, match=name):
                Settings.from_env({name: bad})
    debugging = create_app(dataclasses.replace(settings, debug=True))  # templates reload: no cache
    try:
        assert debugging.refcache.max_entries == debugging.search_cache.max_entries == 0
    finally:
        debugging.database.close()


def test_every_statement_that_reads_areas_reads_the_version(con, admin) -> None:
    version, collected = repo.reference_version(con)
    assert isinstance(version, int) and collected is False
    assert repo.area_family_versioned(con, SHENZHEN)[0] == version
    assert repo.search_versioned(con, "南")[0] == version
    assert repo.search_versioned(con, "没有这个")[0] == version  # nothing found: the version still comes
    assert repo.areas_by_code(con, [NANSHAN])[0] == version
    assert repo.area_family_versioned(con, 999999) == (None, None)
    assert repo.search_versioned(con, "南", number=99)[0] is None  # past the end: two statements
    # The same data as the plain queries, the "collected" mark apart.
    area, kids = repo.area_family(con, SHENZHEN)
    assert repo.area_family_versioned(con, SHENZHEN)[1] == (area, kids)
    assert repo.search_versioned(con, "南", 2)[1] == repo.search(con, "南", 2)
    expected = {a.district_id: dataclasses.replace(a, children=0) for a in (kids[2], area)}
    assert repo.areas_by_code(con, [NANSHAN, SHENZHEN])[1] == expected
    run(admin, "UPDATE areas SET latitude = latitude WHERE district_id = %s", (NANSHAN,))
    assert repo.reference_version(con)[0] != version  # any row written moves it on


def test_running_the_schema_again_gives_a_fresh_version(con, mariadb) -> None:
    before = repo.reference_version(con)[0]
    load_sql({**mariadb.admin_args(), "database": mariadb.database}, SQL_FILES[:1])
    after = repo.reference_version(con)[0]
    assert after != before and after not in range(before - 10_000, before + 10_000)  # not a count


def test_a_renamed_area_is_seen_by_the_next_request(client, admin, con) -> None:
    sign_up(client)
    client.get(f"/areas/{FUTIAN}").forms["collect-form"].submit(status=303)
    pages = [f"/areas/{SHENZHEN}", f"/areas/{FUTIAN}", FUTIAN_SEARCH, "/favorites"]
    for path in pages * 2:  # the second round from the cache
        assert "福田区" in client.get(path).text
    try:
        run(admin, "UPDATE areas SET district = '福田新区' WHERE district_id = %s", (FUTIAN,))
        for path in pages:
            page = client.get(path).text
            assert "福田新区" in page and "福田区" not in page, path
    finally:
        run(admin, "UPDATE areas SET district = '福田区' WHERE district_id = %s", (FUTIAN,))
    for path in pages:
        page = client.get(path).text
        assert "福田区" in page and "福田新区" not in page, path


def test_a_deleted_and_reinserted_area_is_seen_by_the_next_request(client, admin) -> None:
    row = run(admin, "SELECT district_id, pid, district, level, longitude, latitude, pinyin, initials "
                     "FROM areas WHERE district_id = %s", (GUANGMING,))[0]
    assert "光明区" in client.get(f"/areas/{SHENZHEN}").text
    assert "光明区" in client.get(GUANGMING_SEARCH).text  # 光明
    try:
        run(admin, "DELETE FROM areas WHERE district_id = %s", (GUANGMING,))
        assert "光明区" not in client.get(f"/areas/{SHENZHEN}").text
        assert "（8 个）" in client.get(f"/areas/{SHENZHEN}").text
        client.get(f"/areas/{GUANGMING}", status=404)
        assert "没有名称包含“光明”的地区" in client.get(GUANGMING_SEARCH).text
    finally:
        run(admin, "INSERT INTO areas (district_id, pid, district, level, longitude, latitude, pinyin, "
                   "initials) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", row)
    page = client.get(f"/areas/{SHENZHEN}").text
    assert "光明区" in page and "（9 个）" in page
    assert "光明区" in client.get(f"/areas/{GUANGMING}").text
    assert "光明区" in client.get(GUANGMING_SEARCH).text


def test_a_change_the_triggers_missed_is_seen_after_the_schema_runs_again(client, admin, mariadb) -> None:
    # Without a trigger, the version stays and the cache serves the old value (what the test can see);
    # running sql/schema.sql again, as after any reload that bypasses triggers, makes it right.
    (latitude,) = run(admin, "SELECT latitude FROM areas WHERE district_id = %s", (NANSHAN,))[0]
    assert f"北纬 {latitude}" in client.get(f"/areas/{NANSHAN}").text
    try:
        run(admin, "DROP TRIGGER areas_version_update")
        run(admin, "UPDATE areas SET latitude = 22.5 WHERE district_id = %s", (NANSHAN,))
        assert f"北纬 {latitude}" in client.get(f"/areas/{NANSHAN}").text  # stale: no version change
        load_sql({**mariadb.admin_args(), "database": mariadb.database}, SQL_FILES[:1])
        assert "北纬 22.500000" in client.get(f"/areas/{NANSHAN}").text
    finally:
        load_sql({**mariadb.admin_args(), "database": mariadb.database}, SQL_FILES[:1])  # the trigger back
        run(admin, "UPDATE areas SET latitude = %s WHERE district_id = %s", (latitude, NANSHAN))
    assert f"北纬 {latitude}" in client.get(f"/areas/{NANSHAN}").text


def test_reloading_the_data_file_is_seen_by_the_next_request(client, admin, mariadb) -> None:
    run(admin, "UPDATE areas SET district = '福田新区' WHERE district_id = %s", (FUTIAN,))
    assert "福田新区" in client.get(f"/areas/{SHENZHEN}").text
    load_sql({**mariadb.admin_args(), "database": mariadb.database})  # sql/schema.sql + sql/areas.sql
    page = client.get(f"/areas/{SHENZHEN}").text
    assert "福田区" in page and "福田新区" not in page


def test_a_warm_page_is_one_statement(client, admin) -> None:
    def statements(path: str) -> int:
        (before,) = run(admin, "SHOW GLOBAL STATUS LIKE 'Questions'")
        client.get(path)
        (after,) = run(admin, "SHOW GLOBAL STATUS LIKE 'Questions'")
        return int(after[1]) - int(before[1]) - 1  # the second SHOW counts itself

    for path in (f"/areas/{SHENZHEN}", "/search?q=%E5%8D%97"):
        client.get(path)
        assert statements(path) == 1, path
    client.get("/search?q=%E5%8D%97&page=2")
    run(admin, "UPDATE areas SET latitude = latitude WHERE district_id = %s", (NANSHAN,))
    assert statements(f"/areas/{SHENZHEN}") == 2  # a new version: the version, then the family


def test_the_cache_is_bounded_in_the_app(settings, con) -> None:
    app = create_app(dataclasses.replace(settings, refcache_entries=8, refcache_searches=3))
    try:
        client = webtest.TestApp(app)
        for code in (110000, 120000, 130000, 440000, 440300, 440305, 510000, 510100, 310000, 330000):
            assert client.get(f"/areas/{code}").status_int == 200
            assert len(app.refcache) <= 8
        assert len(app.refcache) == 8
        assert "深圳市" in client.get("/areas/440300").text  # evicted or not, still right
        for text in ("南", "北", "东", "西", "山"):
            assert "找到" in client.get("/search?q=" + quote(text)).text
            assert len(app.search_cache) <= 3
        assert len(app.search_cache) == 3 and len(app.refcache) == 8
    finally:
        app.database.close()


@pytest.mark.parametrize("path", ["/areas/440000", "/areas/440000?page=2", "/areas/440305", "/areas/110000",
                                  "/search?q=%E5%8D%97", "/search?q=%E5%8D%97&page=3", "/search?q=sz",
                                  "/search?q=%E6%B2%A1%E6%9C%89", "/favorites", "/"])
def test_cached_pages_are_the_uncached_pages_byte_for_byte(settings, con, path) -> None:
    cached = create_app(settings)
    uncached = create_app(dataclasses.replace(settings, refcache_entries=0, refcache_searches=0))
    try:
        clients = webtest.TestApp(cached), webtest.TestApp(uncached)
        sign_up(clients[0])
        clients[0].get("/areas/440300").forms["collect-form"].submit(status=303).follow()  # its notice read
        form = clients[1].get("/login").forms["login-form"]
        form["username"], form["password"] = "测试用户", "correct horse battery"
        form.submit(status=303).follow()
        cold, warm, plain = clients[0].get(path).text, clients[0].get(path).text, clients[1].get(path).text
        assert _TOKEN.sub("", cold) == _TOKEN.sub("", warm) == _TOKEN.sub("", plain)
        assert len(uncached.refcache) == len(uncached.search_cache) == 0
        assert len(cached.refcache) + len(cached.search_cache) > 0 or path == "/"
    finally:
        cached.database.close()
        uncached.database.close()


def test_a_database_without_a_version_is_served_uncached(client, admin, caplog) -> None:
    assert "深圳市" in client.get("/areas/440300").text
    sign_up(client)
    client.get(f"/areas/{FUTIAN}").forms["collect-form"].submit(status=303)
    run(admin, "RENAME TABLE data_version TO data_version_away")
    try:
        assert "深圳市" in client.get("/areas/440300").text
        assert "河南省" in client.get("/search?q=%E5%8D%97").text
        assert "光明区" in client.get(f"/areas/{SHENZHEN}").text
        assert "福田区" in client.get("/favorites").text
    finally:
        run(admin, "RENAME TABLE data_version_away TO data_version")
    assert sum("no readable data_version" in r.getMessage() for r in caplog.records) == 1  # once


def test_an_app_user_not_granted_the_version_is_served_uncached(client, admin, mariadb) -> None:
    hosts = [h for (h,) in run(admin, "SELECT host FROM mysql.tables_priv WHERE user = %s AND "
                                      "table_name = 'data_version'", (mariadb.user,))]
    assert hosts
    try:
        for host in hosts:
            run(admin, f"REVOKE SELECT ON `{mariadb.database}`.data_version FROM %s@%s", (mariadb.user, host))
        run(admin, "FLUSH PRIVILEGES")
        assert "深圳市" in client.get("/areas/440300?page=1").text  # a new connection sees the grants
        assert "河南省" in client.get("/search?q=%E5%8D%97").text
    finally:
        for host in hosts:
            run(admin, f"GRANT SELECT ON `{mariadb.database}`.data_version TO %s@%s", (mariadb.user, host))


def test_pages_stay_right_while_the_data_changes_under_concurrent_requests(settings, admin, con) -> None:
    app = create_app(settings)
    browsing, renamed = threading.Barrier(7), threading.Event()  # renamed: set once the UPDATE committed

    def browse(n: int) -> tuple[list[str], int]:
        client, wrong, seen_after = webtest.TestApp(app), [], 0
        for i in range(500):  # a bound; it stops well before, 10 pages after the rename
            if i == 1:
                browsing.wait(timeout=60)  # everyone has served a page: the cache is warm
            after = renamed.is_set()  # read before the request: the page must then show the new name
            path = f"/areas/{SHENZHEN}" if (n + i) % 2 else FUTIAN_SEARCH
            page = client.get(path).text
            if (after and "福田区" in page) or ("福田新区" not in page and "福田区" not in page):
                wrong.append(f"{path} after={after}")
            seen_after += after
            if seen_after == 10:
                break
        return wrong, seen_after

    try:
        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(browse, n) for n in range(6)]
            browsing.wait(timeout=60)
            run(admin, "UPDATE areas SET district = '福田新区' WHERE district_id = %s", (FUTIAN,))
            renamed.set()
            results = [f.result() for f in futures]
        assert [w for wrong, _ in results for w in wrong] == []
        assert all(after == 10 for _, after in results)
    finally:
        run(admin, "UPDATE areas SET district = '福田区' WHERE district_id = %s", (FUTIAN,))
        app.database.close()


def test_the_flask_port_goes_through_the_same_cache(settings, con, admin) -> None:
    # The benchmark's comparison is fair only if both do the same work: the port caches as the demo does.
    from bench.flask_favorites import create_app as create_flask_app

    port = webtest.TestApp(create_flask_app(settings))
    assert "福田区" in port.get(f"/areas/{SHENZHEN}").text and "福田区" in port.get(FUTIAN_SEARCH).text
    assert len(port.app.refcache) == 2  # the family and its list page
    try:
        run(admin, "UPDATE areas SET district = '福田新区' WHERE district_id = %s", (FUTIAN,))
        assert "福田新区" in port.get(f"/areas/{SHENZHEN}").text
        assert "福田新区" in port.get(FUTIAN_SEARCH).text
    finally:
        run(admin, "UPDATE areas SET district = '福田区' WHERE district_id = %s", (FUTIAN,))


def test_favorite_rows_read_the_time_as_the_page_shows_it(con, admin) -> None:
    # favorite_rows formats in SQL (DATE_FORMAT) what the uncached page formats with COLLECTED_FORMAT.
    uid = repo.create_user(con, "时间用户", "scrypt$not-a-real-hash")
    for code in (SHENZHEN, FUTIAN):
        repo.collect(con, uid, code)
    repo.set_note(con, uid, FUTIAN, "<b>&</b>")
    run(admin, "UPDATE favorites SET created_at = '2026-01-02 03:04:05' WHERE district_id = %s", (SHENZHEN,))
    run(admin, "UPDATE favorites SET created_at = '2025-11-12 13:14:15' WHERE district_id = %s", (FUTIAN,))
    version, rows = repo.favorite_rows(con, uid)
    assert version == repo.reference_version(con)[0]
    assert rows == [(SHENZHEN, "", "2026-01-02 03:04"), (FUTIAN, "<b>&</b>", "2025-11-12 13:14")]
    assert [(f.area.district_id, f.note, f.created_at.strftime(repo.COLLECTED_FORMAT))
            for f in repo.favorites(con, uid)] == rows
    assert repo.favorite_rows(con, uid + 1) == (version, [])


# Notes JSON must carry exactly: quotes, backslashes, what looks like JSON or an escape, line breaks,
# characters outside the BMP, U+2028 (valid in JSON, a line break to JavaScript), and the longest.
TRICKY_NOTES = ['"引号" \\ 反斜杠', '{"a": [1, "\\u0041"]}', "第一行\r\n第二行\t制表", "😀 𠀀 emoji",
                "\u2028 分隔", "</script><b>&amp;</b>", "长" * repo.NOTE_MAX_CHARS]


def test_favorite_rows_carry_every_note_exactly(con) -> None:
    # favorite_rows reads the list as one JSON value MariaDB builds: every note comes back as it was saved.
    uid = repo.create_user(con, "备注用户", "scrypt$not-a-real-hash")
    codes = [440300, 440304, 440305, 440311, 110000, 310000, 330100]
    for code, note in zip(codes, TRICKY_NOTES, strict=True):
        repo.collect(con, uid, code)
        repo.set_note(con, uid, code, note)
    _, rows = repo.favorite_rows(con, uid)
    assert sorted((code, note) for code, note, _ in rows) == sorted(zip(codes, TRICKY_NOTES, strict=True))
    assert all(isinstance(code, int) and isinstance(when, str) for code, _, when in rows)


def test_favorite_rows_read_a_list_too_long_to_aggregate_row_by_row(con) -> None:
    # Past group_concat_max_len MariaDB cuts the JSON short (a warning): the rows are then read one by one,
    # in the same order, none left out. 4 bytes is the variable's smallest value.
    uid = repo.create_user(con, "长列表用户", "scrypt$not-a-real-hash")
    for code in (SHENZHEN, FUTIAN, NANSHAN):
        repo.collect(con, uid, code)
    alone = repo.create_user(con, "单个收藏用户", "scrypt$not-a-real-hash")  # a list of one cut short too
    repo.collect(con, alone, FUTIAN)
    before = session_status(con, "Com_select")
    expected = repo.favorite_rows(con, uid)
    assert session_status(con, "Com_select") == before + 1  # one statement when the list fits
    assert [code for code, _, _ in expected[1]] == [NANSHAN, FUTIAN, SHENZHEN]  # same second: by id
    expected_alone = repo.favorite_rows(con, alone)
    assert [code for code, _, _ in expected_alone[1]] == [FUTIAN]
    with con.cursor() as cur:
        cur.execute("SET SESSION group_concat_max_len = 4")
    try:
        before = session_status(con, "Com_select")
        assert repo.favorite_rows(con, uid) == expected
        assert session_status(con, "Com_select") == before + 2
        assert repo.favorite_rows(con, alone) == expected_alone
    finally:
        with con.cursor() as cur:
            cur.execute("SET SESSION group_concat_max_len = DEFAULT")


@pytest.mark.parametrize("path", ["/areas/440000", "/areas/440000?page=2", "/search?q=%E5%8D%97"])
def test_cached_links_carry_the_mount_point_of_the_request(client, path) -> None:
    # One process served under two prefixes (PEP 3333 SCRIPT_NAME): a page's cached markup built under one
    # must not reach the other with its links.
    for script_name in ("/demo", "", "/other", "/demo"):
        page = client.get(path, extra_environ={"SCRIPT_NAME": script_name}).text
        links = re.findall(r'href="(/[^"]*)"', page)
        area_links = [link for link in links if "/areas/" in link]
        assert area_links, page
        assert all(link.startswith(f"{script_name}/areas/") for link in area_links), (script_name, links)
