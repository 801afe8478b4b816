"""One cluster (nginx, three app hosts, MariaDB primary + replica) for every test in tests/cluster/.

Everything runs on free ports in a temp dir and is stopped by pid at the end. Tests that break a part
(kill a host, stop a database) put it back before they end, so the next test starts from a whole cluster.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pymysql
import pytest

from scripts.cluster import Cluster
from tests.processes import started

RECOVERY_TIMEOUT = 60.0   # a restarted part must be back in use within this (nginx retries a host after 5 s)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cluster/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path_factory.mktemp("cluster"), port=0, app_port=0)
    with started(cluster.up, cluster.down):
        yield cluster


@pytest.fixture(scope="session")
def county_ids(cluster: Cluster) -> Iterator[int]:
    """Area codes no test has collected yet, one per POST across the whole run."""
    con = pymysql.connect(**_args(cluster.primary.url))
    with con.cursor() as cur:
        cur.execute("SELECT district_id FROM areas WHERE level = 3 ORDER BY district_id")
        ids = [row[0] for row in cur.fetchall()]
    con.close()
    return itertools.cycle(ids)  # 3,133: more than the runs here post; a repeat would show as "already"


def _args(url: str) -> dict:
    from scripts.localdb import parse_url

    return {**parse_url(url), "autocommit": True, "connect_timeout": 5}


def collected(cluster: Cluster, district_ids: list[int]) -> set[int]:
    """Which of these areas have a favourites row on the primary."""
    if not district_ids:
        return set()
    con = pymysql.connect(**_args(cluster.primary.url))
    with con.cursor() as cur:
        cur.execute("SELECT district_id FROM favorites WHERE district_id IN %s", (district_ids,))
        found = {row[0] for row in cur.fetchall()}
    con.close()
    return found


def poll(check, timeout: float = RECOVERY_TIMEOUT, what: str = "the condition"):
    """Call `check()` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not hold within {timeout:.0f} s")
        time.sleep(0.1)
