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


@pytest.mark.skipif(not gen_areas_sql.DEFAULT_CSV.exists(), reason="../shared/data/adcodes.csv is not here")
def test_committed_sql_is_what_the_generator_makes() -> None:
    areas = gen_areas_sql.read_areas(gen_areas_sql.DEFAULT_CSV)
    expected = gen_areas_sql.render_sql(areas, "adcodes.csv")
    assert (ROOT / "sql" / "areas.sql").read_text(encoding="utf-8") == expected


def test_generator_derives_levels_and_parents(tmp_path: Path) -> None:
    csv = tmp_path / "mini.csv"
    csv.write_text("adcode,name,longitude,latitude\n"
                   "440305000000,南山区,113.930413,22.533287\n"
                   "440000000000,广东省,113.26641,23.132324\n"
                   "440300000000,深圳市,114.057939,22.543527\n"
                   "429004000000,仙桃市,113.453974,30.364953\n"   # no city 429000: hangs under the province
                   "420000000000,湖北省,114.298572,30.584355\n"
                   "520301000000,市辖区,,\n"
                   "520300000000,遵义市,106.927389,27.725654\n"
                   "520000000000,贵州省,106.713478,26.578343\n", encoding="utf-8")
    areas = {a.district_id: a for a in gen_areas_sql.read_areas(csv)}
    assert (areas[440000].level, areas[440000].pid) == (1, None)
    assert (areas[440300].level, areas[440300].pid) == (2, 440000)
    assert (areas[440305].level, areas[440305].pid) == (3, 440300)
    assert (areas[429004].level, areas[429004].pid) == (3, 420000)
    assert areas[520301].longitude is None
    sql = gen_areas_sql.render_sql(areas.values(), "mini.csv")
    assert sql.index("(440000,") < sql.index("(440300,") < sql.index("(440305,")  # parents first
    assert "(520301,520300,'市辖区',3,NULL,NULL)" in sql


def test_generator_rejects_an_orphan(tmp_path: Path) -> None:
    csv = tmp_path / "orphan.csv"
    csv.write_text("adcode,name,longitude,latitude\n440305000000,南山区,1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="parent 440000 is missing"):
        gen_areas_sql.read_areas(csv)


def test_database_holds_every_area(mariadb, con) -> None:
    assert _counts(mariadb) == {1: 34, 2: 344, 3: 3133}
    assert len(repo.provinces(con)) == 34


def test_loading_twice_changes_nothing(mariadb, con) -> None:
    load_sql(_root_args(mariadb), SQL_FILES)
    assert _counts(mariadb) == {1: 34, 2: 344, 3: 3133}


def test_tree_and_coordinates(con) -> None:
    nanshan = repo.get_area(con, 440305)
    assert nanshan.district == "南山区" and nanshan.level == 3
    assert nanshan.ancestors == ((440000, "广东省"), (440300, "深圳市"))
    assert str(nanshan.longitude) == "113.930413"
    beijing_district = repo.get_area(con, 110101)  # a municipality's district: 北京市 / 市辖区 / 东城区
    assert beijing_district.ancestors[0] == (110000, "北京市")
