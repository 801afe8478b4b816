"""bench/flask_favorites.py, the Flask port the benchmark compares the demo with, renders the same pages.

The comparison is fair only if both do the same work: same queries, same templates, same HTML out.
"""

from __future__ import annotations

import re

import pytest
import webtest

from apps.favorites import create_app
from tests.favorites.conftest import PASSWORD, USER, sign_up

_TOKEN = re.compile(r'name="csrf_token" value="[^"]*"')
PATHS = ["/", "/areas/440300", "/areas/440000?page=1", "/search?q=%E5%8D%97", "/favorites"]


def log_in(client: webtest.TestApp) -> None:
    """Log in through the login form, as a person would; the welcome notice is read on the way."""
    form = client.get("/login").forms["login-form"]
    form["username"], form["password"] = USER, PASSWORD
    form.submit(status=303).follow()


@pytest.fixture
def clients(settings, con):
    from bench.flask_favorites import create_app as create_flask_app

    return webtest.TestApp(create_app(settings)), webtest.TestApp(create_flask_app(settings))


@pytest.mark.parametrize("path", PATHS)
def test_same_html_as_the_demo_anonymous(clients, path):
    demo, port = clients
    if path == "/favorites":  # anonymous: both send the visitor to the login page
        ours, theirs = demo.get(path, status=303), port.get(path, status=303)
        assert ours.headers["Location"].endswith(theirs.headers["Location"])
        ours, theirs = ours.follow(), theirs.follow()
    else:
        ours, theirs = demo.get(path), port.get(path)
    assert ours.status_int == theirs.status_int == 200
    assert _TOKEN.sub("", ours.text) == _TOKEN.sub("", theirs.text)


@pytest.mark.parametrize("path", PATHS)
def test_same_html_as_the_demo_logged_in(clients, path):
    demo, port = clients
    sign_up(demo)  # the user, in the database both use
    demo.get("/areas/440300").forms["collect-form"].submit(status=303).follow()  # something to show
    log_in(port)
    ours, theirs = demo.get(path), port.get(path)
    assert ours.status_int == theirs.status_int == 200
    assert USER in ours.text and ("440300" in ours.text or path != "/favorites")
    assert _TOKEN.sub("", ours.text) == _TOKEN.sub("", theirs.text)


def test_port_login_refuses_a_wrong_password_and_a_forged_token(clients):
    demo, port = clients
    sign_up(demo)
    form = port.get("/login").forms["login-form"]
    form["username"], form["password"] = USER, "wrong password"
    assert "用户名或密码不对" in form.submit(status=400).text
    port.post("/login", {"csrf_token": "forged", "username": USER, "password": PASSWORD}, status=403)
    port.get("/favorites", status=303)  # still anonymous


@pytest.mark.parametrize("app", ["apps.favorites:application", "bench.flask_favorites:application"])
def test_bench_logs_in_over_http(mariadb, con, tmp_path, app):
    # bench.pages measures /favorites with the cookie its log_in() gets from each server's login form.
    import sys
    import urllib.request

    from bench import pages
    from tests.processes import free_port, running

    pages.add_user(mariadb.url)
    pages.add_user(mariadb.url)  # a second call (the user exists) is fine
    port = free_port()
    env = {"DATABASE_URL": mariadb.url, "SECRET_KEY": "bench-login-test-key"}
    with running([sys.executable, "-m", "server", str(port), app], port=port, env=env,
                 log=tmp_path / "server.log"):  # fmt: skip
        with pytest.raises(RuntimeError, match="POST /login: 400"):
            pages.log_in("127.0.0.1", port, password="wrong password")
        cookie = pages.log_in("127.0.0.1", port)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/favorites", headers={"Cookie": cookie})
        with urllib.request.urlopen(request, timeout=30) as response:
            page = response.read().decode()
            cookies = response.headers.get_all("Set-Cookie")
    assert pages.USER in page and all(f'id="fav-{code}"' in page for code in pages.FAVORITES)
    # the steady state wrk repeats: no welcome notice shown again, no new session cookie signed
    assert "欢迎" not in page and 'class="notice' not in page and cookies is None
