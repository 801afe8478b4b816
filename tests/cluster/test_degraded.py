"""The databases go away and come back, the app hosts keep running: each degraded mode, then recovery.

replica down → everything from the primary; primary down → browsing from the replica, saving is a 503
page, logging in too (it needs the users table on the primary), a logged-in user stays logged in and sees
their favourites from the replica; both down → the app's own 503 page (never nginx's 502); both back →
full service, no restart.
"""

from __future__ import annotations

import json

from scripts.replication import wait_caught_up

from .client import Browser, fetch, signed_up
from .conftest import collected, poll

BROWSING = ("/", "/areas/440300", "/search?q=%E6%B7%B1%E5%9C%B3")


def _health(cluster) -> dict:
    reply = fetch(cluster.url, "/healthz")
    return {"code": reply.status, **json.loads(reply.text)}


def _browsing_works(cluster) -> None:
    for path in BROWSING:
        assert fetch(cluster.url, path).status == 200, path


def test_replica_down_then_primary_down_then_both_back(cluster, county_ids) -> None:
    primary, replica = cluster.primary, cluster.replica
    user = signed_up(cluster.url)   # through nginx, while both databases are up
    leaver = signed_up(cluster.url)
    try:
        # 1. Replica down: reads fall back to the primary, writes work.
        replica.stop()
        _browsing_works(cluster)
        assert _health(cluster) == {"code": 200, "status": "degraded", "primary": "up", "replica": "down",
                                    "database": "up"}
        district = next(county_ids)
        reply, outcome = user.collect(district)
        assert reply.status == 303 and outcome == "added"
        page = user.fetch("/favorites")
        assert page.status == 200 and f"fav-{district}" in page.text

        # 2. Replica back, primary down: browsing from the replica, saving refused with its own page.
        replica.start()
        wait_caught_up(primary, replica)
        primary.stop()
        poll(lambda: fetch(cluster.url, "/areas/440300").status == 200, what="browsing from the replica")
        _browsing_works(cluster)
        page = user.fetch("/favorites")   # still logged in (a signed cookie); read from the replica
        assert page.status == 200 and f"fav-{district}" in page.text   # replicated before the stop
        refused, _ = user.collect(next(county_ids))
        assert refused.status == 503 and "暂时无法保存" in refused.text and refused.headers["Retry-After"]
        login = Browser(cluster.url).login(user.username)
        assert login.status == 503 and "暂时无法登录" in login.text and login.headers["Retry-After"]
        assert leaver.post("/logout").status == 303   # needs no database
        assert leaver.fetch("/favorites").status == 303   # logged out: to the login page
        assert _health(cluster) == {"code": 200, "status": "degraded", "primary": "down", "replica": "up",
                                    "database": "up"}
        status = cluster.status()
        assert status["db"]["primary"]["pid"] is None
        assert status["db"]["replication"]["io_running"] != "Yes"  # it shows the broken link

        # 3. Both down: the app's 503 page, twice (a 503 never marks hosts down, see deploy/nginx.conf).
        replica.stop()
        for _ in range(2):
            reply = fetch(cluster.url, "/areas/440300")
            assert reply.status == 503 and "数据库暂时不可用" in reply.text
        assert _health(cluster)["code"] == 503
    finally:
        # 4. Both back: full service without restarting any app host.
        primary.start()
        replica.start()
    poll(lambda: _health(cluster)["status"] == "ok", what="/healthz ok again")
    district = next(county_ids)
    poll(lambda: user.collect(district)[1] == "added", what="saving again")
    assert Browser(cluster.url).login(user.username).status == 303   # logging in again
    assert collected(cluster, [district]) == {district}
    replication = wait_caught_up(primary, replica)
    assert replication["io_running"] == "Yes" and replication["seconds_behind_primary"] == 0
    _browsing_works(cluster)
