"""Accounts through the real app and database: sign up, log in, log out, personal favourites, the
collect-then-log-in round trip, open redirects refused, and failed logins slowed per account and address."""

from __future__ import annotations

import re

import pytest
import webtest

from apps.favorites import accounts
from apps.favorites import repository as repo
from tests.favorites.conftest import PASSWORD, USER, sign_up


def log_in(client, username: str = USER, password: str = PASSWORD, status: int = 303,
           next_: str | None = None, remote: str = "127.0.0.1"):  # fmt: skip
    form = client.get("/login", {"next": next_} if next_ else {}).forms["login-form"]
    form["username"], form["password"] = username, password
    return form.submit(status=status, extra_environ={"REMOTE_ADDR": remote})


def test_passwords_are_scrypt_with_a_salt_each(con) -> None:
    one, two = accounts.hash_password("secret-pass"), accounts.hash_password("secret-pass")
    assert one.startswith("scrypt$16384$8$1$") and one != two  # per-user salt
    assert accounts.verify_password("secret-pass", one) and not accounts.verify_password("secret-pasS", one)
    assert not accounts.verify_password("anything", None)


def test_signup_logs_in_and_the_name_shows(anon, con) -> None:
    page = sign_up(anon, "深圳人", "长长的密码12345")
    assert page.html.find(id="user-name").text == "深圳人"
    stored = repo.user_by_name(con, "深圳人")
    assert stored and stored[2].startswith("scrypt$") and "长长的密码" not in stored[2]


@pytest.mark.parametrize(("name", "password", "message"), [
    ("ab", PASSWORD, "3 到 32 个字符"), ("甲" * 33, PASSWORD, "3 到 32 个字符"),
    ("a b", PASSWORD, "只能包含"), ("ab\u202ecd", PASSWORD, "只能包含"),
    ("好名字", "short", "至少需要 8 个字符"),
])  # fmt: skip
def test_signup_rules_in_chinese(anon, con, name: str, password: str, message: str) -> None:
    form = anon.get("/signup").forms["signup-form"]
    form["username"], form["password"] = name, password
    assert message in form.submit(status=400).text
    assert repo.user_by_name(con, name) is None


def test_a_taken_name_is_refused(anon, con) -> None:
    sign_up(anon)
    other = webtest.TestApp(anon.app)
    form = other.get("/signup").forms["signup-form"]
    form["username"], form["password"] = USER, "another password"
    assert "已经有人用了" in form.submit(status=409).text


def test_login_logout(anon, con) -> None:
    sign_up(anon)
    anon.get("/").forms["logout-form"].submit(status=303)
    assert anon.get("/").html.find(id="nav-login") is not None
    assert "用户名或密码不对" in log_in(anon, password="wrong password", status=400).text
    assert "用户名或密码不对" in log_in(anon, username="没有这个人", status=400).text  # same words
    page = log_in(anon).follow()
    assert page.html.find(id="user-name").text == USER


def test_logout_is_a_post(web) -> None:
    assert web.get("/logout", status=405).headers["Allow"] == "OPTIONS, POST"
    assert web.get("/").html.find(id="user-name") is not None


def test_anonymous_browse_and_collect_goes_via_login_and_back(anon, con) -> None:
    sign_up(webtest.TestApp(anon.app))  # the account exists; this browser is not logged in
    area = anon.get("/areas/440300", {"page": "1"})
    assert area.html.find(id="collect") is not None  # anonymous visitors browse and see the button
    resp = area.forms["collect-form"].submit(status=303)
    assert re.sub(r"^https?://localhost", "", resp.location) == "/login?next=%2Fareas%2F440300%3Fpage%3D1"
    login_page = resp.follow()
    assert "请先登录" in login_page.text
    back = log_in(anon, next_="/areas/440300?page=1")
    assert back.location.endswith("/areas/440300?page=1")
    assert anon.get("/favorites").status_code == 200
    assert repo.favorites(con, repo.user_by_name(con, USER)[0]) == []  # nothing was collected behind them
    again = anon.get("/areas/440300").forms["collect-form"].submit(status=303)
    assert again.location.endswith("/areas/440300")


def test_anonymous_favorites_page_asks_to_log_in(anon, con) -> None:
    resp = anon.get("/favorites", status=303)
    assert "/login?next=%2Ffavorites" in resp.location


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example",
                                    "javascript:x"])
def test_login_next_is_local_only(anon, con, target: str) -> None:
    sign_up(webtest.TestApp(anon.app))
    resp = log_in(anon, next_=target)
    assert re.sub(r"^https?://localhost", "", resp.location) == "/"


def test_a_second_user_sees_none_of_the_first_users_favourites(web, wsgi_app, con) -> None:
    web.get("/areas/440300").forms["collect-form"].submit(status=303)
    form = web.get("/favorites").forms["note-440300"]
    form["note"] = "甲的秘密"
    form.submit(status=303)
    second = webtest.TestApp(wsgi_app)
    sign_up(second, "第二个人", "another long password")
    page = second.get("/favorites")
    assert "还没有收藏" in page.text and "甲的秘密" not in page.text and "深圳市" not in page.text
    assert second.get("/areas/440300").html.find(id="collect") is not None  # not collected for them
    token = page.forms["logout-form"]["csrf_token"].value
    # The routes exist (a misspelt one would 404 too): the answer is that this user has no such favourite.
    for action, form in (("note", {"csrf_token": token, "note": "改掉"}), ("remove", {"csrf_token": token})):
        refused = second.post(f"/favorites/440300/{action}", form, status=404)
        assert "收藏里没有代码为 440300 的地区" in refused.text, action
    page = web.get("/favorites").text
    assert "甲的秘密" in page and "改掉" not in page and "深圳市" in page  # the first user's is intact


def test_failed_logins_are_slowed_per_account(anon, wsgi_app, con, settings) -> None:
    sign_up(webtest.TestApp(wsgi_app))
    for i in range(accounts.FREE_FAILURES):
        log_in(anon, password="wrong password", status=400, remote=f"10.0.0.{i}")  # other addresses
    refused = log_in(anon, status=429, remote="10.0.1.1")  # even the right password, from anywhere
    assert "登录失败次数太多" in refused.text and int(refused.headers["Retry-After"]) >= 1
    # Stored in the database: another app (another process, another host) refuses it too.
    from apps.favorites import create_app

    other = webtest.TestApp(create_app(settings))
    assert "登录失败次数太多" in log_in(other, status=429, remote="10.0.2.2").text


def test_failed_logins_are_slowed_per_address(anon, con) -> None:
    for i in range(accounts.FREE_FAILURES):
        log_in(anon, username=f"猜的名字{i}", password="wrong password", status=400, remote="10.9.9.9")
    assert "登录失败次数太多" in log_in(anon, username="又一个", status=429, remote="10.9.9.9").text
    assert log_in(anon, username="又一个", status=400, remote="10.9.9.8").status_code == 400  # others may


@pytest.mark.parametrize(("failures", "wait"), [(0, 0), (4, 0), (5, 30), (6, 60), (9, 480), (40, 900)])
def test_lock_grows_and_is_bounded(failures: int, wait: int) -> None:
    assert accounts.lock_seconds(failures) == wait


def test_welcome_notices_survive_the_new_session(anon, con) -> None:
    assert "账号已创建" in sign_up(anon).html.find(class_="notice").text
    anon.get("/").forms["logout-form"].submit(status=303)
    assert "欢迎回来" in log_in(anon).follow().html.find(class_="notice").text


def test_no_connection_is_held_while_a_password_is_hashed(wsgi_app, anon, con, monkeypatch) -> None:
    # Twenty logins at once used to hold every pooled connection while hashing (~50 ms of CPU each), so
    # other requests waited for one and, under load, gave up with a 503 (seen in test_race).
    pool = wsgi_app.database.primary.pool
    held: list[int] = []

    def counting(real):
        def wrapper(*args):
            held.append(pool.open_connections - pool.idle_connections)  # checked out right now
            return real(*args)
        return wrapper

    monkeypatch.setattr(accounts, "hash_password", counting(accounts.hash_password))
    monkeypatch.setattr(accounts, "verify_password", counting(accounts.verify_password))
    sign_up(anon)
    log_in(webtest.TestApp(wsgi_app))
    log_in(webtest.TestApp(wsgi_app), password="wrong password", status=400)
    assert held == [0, 0, 0]
