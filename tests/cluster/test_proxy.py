"""Through nginx and around it: shared secrets, the client's address, read-your-writes, `status`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

from scripts.localdb import ROOT, parse_url

from .client import Browser, cookie_header, fetch, signed_up
from .conftest import collected, poll

CLIENT = "127.0.0.99"    # the test's own source address, so it differs from nginx's 127.0.0.1
SPOOFED = "203.0.113.9"  # TEST-NET-3 (RFC 5737): an address a client claims to be


def test_csrf_token_from_one_host_is_accepted_by_another(cluster, county_ids) -> None:
    browser = signed_up(cluster.host_url(0))
    token = browser.fetch("/areas/110000").token()   # minted by host 0
    district = next(county_ids)
    reply = browser.fetch(f"/areas/{district}/collect", base=cluster.host_url(1), method="POST",
                          form={"csrf_token": token})
    assert reply.status == 303 and collected(cluster, [district]) == {district}
    # The check is real: the same cookies with another host's token for another browser are refused.
    other_token = Browser(cluster.host_url(2)).fetch("/areas/110000").token()
    refused = browser.fetch(f"/areas/{next(county_ids)}/collect", base=cluster.host_url(2), method="POST",
                            form={"csrf_token": other_token})
    assert refused.status == 403


def test_a_session_minted_by_one_host_is_accepted_by_another(cluster) -> None:
    name = signed_up(cluster.host_url(0)).username
    browser = Browser(cluster.host_url(0))
    assert browser.login(name).status == 303   # logged in through host 0 directly
    page = browser.fetch("/favorites", base=cluster.host_url(1))
    assert page.status == 200 and name in page.text
    # The check is real: the same session cookie with its signature altered is not a login on host 1.
    forged = dict(browser.cookies)
    value = forged["miniweb_session"]
    forged["miniweb_session"] = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    refused = fetch(cluster.host_url(1), "/favorites", headers={"Cookie": cookie_header(forged)})
    assert refused.status == 303 and refused.headers["Location"].startswith("/login")


def _logged_address(cluster, marker: str) -> str:
    """The client address the app host's access log gives for the request whose target holds `marker`."""
    def find() -> str | None:
        for index in range(len(cluster.state["hosts"])):
            for line in cluster.host_log(index).read_text(errors="replace").splitlines():
                if marker in line:
                    return line.split(" ", 1)[0]
        return None

    return poll(find, timeout=20, what=f"an access log line for {marker}")


def test_remote_addr_is_the_clients_through_nginx(cluster) -> None:
    marker = uuid.uuid4().hex
    # A client-sent X-Forwarded-For is replaced by nginx (it is the edge), so it cannot spoof either.
    reply = fetch(cluster.url, f"/?probe={marker}", source=CLIENT, headers={"X-Forwarded-For": SPOOFED})
    assert reply.status == 200
    assert _logged_address(cluster, marker) == CLIENT


def test_forwarded_for_sent_straight_to_a_host_is_ignored(cluster) -> None:
    marker = uuid.uuid4().hex
    reply = fetch(cluster.host_url(1), f"/?probe={marker}", source=CLIENT,
                  headers={"X-Forwarded-For": SPOOFED})
    assert reply.status == 200
    assert _logged_address(cluster, marker) == CLIENT


def test_a_favourite_written_through_host_a_is_listed_by_host_b_at_once(cluster, county_ids) -> None:
    # Stop the replica applying changes: a read served by the replica could not see the new row, so the
    # favourites page passing proves it reads the primary, and the area page shows the split is real.
    # The account is made (on the primary) before the stall: only the favourite is missing on the replica.
    browser = signed_up(cluster.host_url(0))
    root = cluster.replica.admin_connect()
    with root.cursor() as cur:
        cur.execute("STOP SLAVE SQL_THREAD")
    try:
        district = next(county_ids)
        reply, outcome = browser.collect(district)   # through host A
        assert reply.status == 303 and outcome == "added"
        favourites = browser.fetch("/favorites", base=cluster.host_url(1))   # host B, the same user
        assert favourites.status == 200 and f"fav-{district}" in favourites.text
        assert collected(cluster, [district]) == {district}
        area = browser.fetch(f"/areas/{district}", base=cluster.host_url(1))  # from the stalled replica
        assert area.status == 200 and "已收藏" not in area.text
    finally:
        with root.cursor() as cur:
            cur.execute("START SLAVE SQL_THREAD")
        root.close()


def test_status_names_every_part_and_the_replication_lag(cluster) -> None:
    command = [sys.executable, "-m", "scripts.cluster", "status", "--run-dir", str(cluster.run_dir)]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True).stdout
    status = json.loads(out)
    assert status["url"] == cluster.url
    assert [h["url"] for h in status["hosts"]] == [cluster.host_url(i) for i in range(3)]
    assert all(isinstance(h["pid"], int) for h in status["hosts"])
    assert isinstance(status["nginx"]["pid"], int)
    for role in ("primary", "replica"):
        assert isinstance(status["db"][role]["pid"], int)
        assert parse_url(status["db"][role]["url"])["database"] == "favorites"
    replication = status["db"]["replication"]
    assert replication["io_running"] == "Yes" and replication["sql_running"] == "Yes"
    assert isinstance(replication["seconds_behind_primary"], int)
    assert replication["primary_gtid"]


def test_nginx_closes_idle_upstream_connections_before_the_app_hosts_do() -> None:
    """The keep-alive timeout rule (README, "Running on several machines"), on the file users deploy.

    The host must never close an idle connection first: nginx may be sending a POST on it just then,
    and a POST it has sent is never sent again (a 502). Hosts run with the server's default timeout.
    """
    from server.config import Config

    conf = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    upstream = re.search(r"upstream miniweb \{(.*?)\n    \}", conf, re.S).group(1)
    nginx_idle = re.search(r"^\s*keepalive_timeout (\d+)s;", upstream, re.M)
    assert nginx_idle, "no keepalive_timeout in the upstream block: nginx's default is 60 s"
    assert int(nginx_idle.group(1)) < Config().keepalive_timeout
