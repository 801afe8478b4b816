"""Twenty requests race to collect the same area: exactly one row, one "added", nineteen "already"."""

from __future__ import annotations

import http.client
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urlsplit

import webtest

from apps.favorites import accounts
from apps.favorites import repository as repo
from tests.favorites.conftest import PASSWORD, USER, sign_up, user_id

RACERS = 20
AREA, AREA_PATH = 440300, "/areas/440300"
ADDED, ALREADY = "已收藏深圳市。", "深圳市已经收藏过了，没有重复添加。"  # views.collect's two notices
_NOTICES = re.compile(r'<p class="notice [^"]*" role="status">([^<]*)</p>')  # templates/base.html


def outcome(location: str, page: str) -> str:
    """What one racer saw after its collect: "added", "already", or else what did happen.

    Judged by where the 303 went *and* by the whole notice, never by the absence of the other notice: a
    collect without a login also answers 303 (to /login?next=...), and an earlier version of this test
    counted that as "added" ("added" twice, one row) when a racer's login had failed under load.
    """
    if urlsplit(location).path != AREA_PATH:
        return f"redirected to {location}"
    notices = _NOTICES.findall(page)
    return {(ADDED,): "added", (ALREADY,): "already"}.get(tuple(notices), f"notices {notices}")


def test_outcome_names_a_collect_without_login(anon) -> None:
    """The mistake the old classification made: an anonymous collect (a 303 too) is not "added"."""
    resp = anon.get(AREA_PATH).forms["collect-form"].submit(status=303)
    assert outcome(resp.location, resp.follow().text).startswith("redirected to ")


def test_outcome_reads_both_notices(web) -> None:
    form = web.get(AREA_PATH).forms["collect-form"]
    seen = []
    for _ in range(2):  # each redirect followed before the next post, as a racer does
        resp = form.submit(status=303)
        seen.append(outcome(resp.location, resp.follow().text))
    assert seen == ["added", "already"]


def test_twenty_concurrent_collects_make_one_row(wsgi_app, con) -> None:
    sign_up(webtest.TestApp(wsgi_app))
    barrier = threading.Barrier(RACERS, timeout=60)

    def racer(_: int) -> str:
        client = webtest.TestApp(wsgi_app)  # one client per thread: its own cookies, its own form
        login = client.get("/login").forms["login-form"]  # the same user in twenty browsers
        login["username"], login["password"] = USER, PASSWORD
        login.submit(status=303)
        form = client.get(AREA_PATH).forms["collect-form"]
        barrier.wait()  # every racer holds a ready form; now all post at once
        resp = form.submit(status=303)
        return outcome(resp.location, resp.follow().text)

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(racer, range(RACERS)))

    assert sorted(outcomes) == ["added"] + ["already"] * (RACERS - 1), outcomes
    assert [f.area.district_id for f in repo.favorites(con, user_id(con))] == [AREA]


def test_twenty_concurrent_collects_over_real_http(live_server: str, con) -> None:
    """The same race through `python -m server`: real sockets, the server's worker threads, its pool."""
    host, port = urlsplit(live_server).hostname, urlsplit(live_server).port
    barrier = threading.Barrier(RACERS, timeout=60)
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}

    def racer(_: int) -> tuple[int, str]:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        jar: dict[str, str] = {}

        def send(method: str, path: str, fields: dict | None = None) -> tuple[http.client.HTTPResponse, str]:
            headers = {**(form_headers if fields is not None else {}),
                       "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}
            body = urlencode(fields) if fields is not None else None
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            body = resp.read().decode("utf-8")
            for set_cookie in resp.msg.get_all("Set-Cookie") or []:
                name, value = set_cookie.split(";", 1)[0].split("=", 1)
                jar[name] = value
            return resp, body

        def token(body: str) -> str:
            return re.search(r'name="csrf_token" value="([^"]+)"', body).group(1)

        try:
            _, body = send("GET", "/login")  # the same user logged in from twenty browsers
            fields = {"csrf_token": token(body), "username": USER, "password": PASSWORD}
            resp, _ = send("POST", "/login", fields)
            if resp.status != 303:  # not logged in (a 503 under load): the collect below would be anonymous
                barrier.wait()  # the others still race
                return resp.status, f"login answered {resp.status}"
            _, body = send("GET", AREA_PATH)
            barrier.wait()
            resp, _ = send("POST", f"{AREA_PATH}/collect", {"csrf_token": token(body)})
            location = resp.getheader("Location", "")
            _, page = send("GET", location)
            return resp.status, outcome(location, page)
        finally:
            conn.close()

    repo.create_user(con, USER, accounts.hash_password(PASSWORD))
    with ThreadPoolExecutor(RACERS) as pool:
        results = list(pool.map(racer, range(RACERS)))

    assert {status for status, _ in results} == {303}, results
    kinds = sorted(kind for _, kind in results)
    assert kinds == ["added"] + ["already"] * (RACERS - 1), results
    assert [f.area.district_id for f in repo.favorites(con, user_id(con))] == [AREA]
