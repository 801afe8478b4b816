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


def test_twenty_concurrent_collects_make_one_row(wsgi_app, con) -> None:
    sign_up(webtest.TestApp(wsgi_app))
    barrier = threading.Barrier(RACERS, timeout=60)

    def racer(_: int) -> str:
        client = webtest.TestApp(wsgi_app)  # one client per thread: its own cookies, its own form
        login = client.get("/login").forms["login-form"]  # the same user in twenty browsers
        login["username"], login["password"] = USER, PASSWORD
        login.submit(status=303)
        form = client.get("/areas/440305").forms["collect-form"]
        barrier.wait()  # every racer holds a ready form; now all post at once
        resp = form.submit(status=303)
        notice = resp.follow().html.find(class_="notice").text
        return "already" if "已经收藏过了" in notice else "added"

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(racer, range(RACERS)))

    assert sorted(outcomes) == ["added"] + ["already"] * (RACERS - 1)
    assert [f.area.district_id for f in repo.favorites(con, user_id(con))] == [440305]


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
            _, body = send("GET", "/areas/440300")
            barrier.wait()
            resp, _ = send("POST", "/areas/440300/collect", {"csrf_token": token(body)})
            _, page = send("GET", resp.getheader("Location", ""))
            # Each outcome by its own notice: a page with neither (a 503, the login form) is not "added".
            if "已经收藏过了" in page or "已收藏深圳市。" in page:
                return resp.status, "already" if "已经收藏过了" in page else "added"
            return resp.status, page[:200]
        finally:
            conn.close()

    repo.create_user(con, USER, accounts.hash_password(PASSWORD))
    with ThreadPoolExecutor(RACERS) as pool:
        results = list(pool.map(racer, range(RACERS)))

    assert {status for status, _ in results} == {303}, results
    kinds = sorted(kind for _, kind in results)
    assert kinds == ["added"] + ["already"] * (RACERS - 1)
    assert [f.area.district_id for f in repo.favorites(con, user_id(con))] == [440300]
