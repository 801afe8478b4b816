"""Twenty requests race to collect the same area: exactly one row, one "added", nineteen "already"."""

from __future__ import annotations

import http.client
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urlsplit

import webtest

from apps.favorites import repository as repo

RACERS = 20


def test_twenty_concurrent_collects_make_one_row(wsgi_app, con) -> None:
    barrier = threading.Barrier(RACERS, timeout=60)

    def racer(_: int) -> str:
        client = webtest.TestApp(wsgi_app)  # one client per thread: its own cookies, its own form
        form = client.get("/areas/440305").forms["collect-form"]
        barrier.wait()  # every racer holds a ready form; now all post at once
        resp = form.submit(status=303)
        notice = resp.follow().html.find(class_="notice").text
        return "already" if "已经收藏过了" in notice else "added"

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(racer, range(RACERS)))

    assert sorted(outcomes) == ["added"] + ["already"] * (RACERS - 1)
    assert [f.area.district_id for f in repo.favorites(con)] == [440305]


def test_twenty_concurrent_collects_over_real_http(live_server: str, con) -> None:
    """The same race through `python -m server`: real sockets, the server's worker threads, its pool."""
    host, port = urlsplit(live_server).hostname, urlsplit(live_server).port
    barrier = threading.Barrier(RACERS, timeout=60)

    def racer(_: int) -> tuple[int, str]:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            conn.request("GET", "/areas/440300")
            page = conn.getresponse()
            body = page.read().decode("utf-8")
            cookie = page.getheader("Set-Cookie").split(";", 1)[0]  # the CSRF nonce cookie
            token = re.search(r'name="csrf_token" value="([^"]+)"', body).group(1)
            barrier.wait()
            conn.request("POST", "/areas/440300/collect", body=urlencode({"csrf_token": token}),
                         headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
            resp = conn.getresponse()
            resp.read()
            jar = dict(c.split("=", 1) for c in cookie.split("; "))
            for set_cookie in resp.msg.get_all("Set-Cookie") or []:  # the session now holds the notice
                name, value = set_cookie.split(";", 1)[0].split("=", 1)
                jar[name] = value
            location = resp.getheader("Location", "")
            conn.request("GET", location, headers={"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())})
            page = conn.getresponse().read().decode("utf-8")
            return resp.status, "already" if "已经收藏过了" in page else "added"
        finally:
            conn.close()

    with ThreadPoolExecutor(RACERS) as pool:
        results = list(pool.map(racer, range(RACERS)))

    assert {status for status, _ in results} == {303}
    kinds = sorted(kind for _, kind in results)
    assert kinds == ["added"] + ["already"] * (RACERS - 1)
    assert [f.area.district_id for f in repo.favorites(con)] == [440300]
