"""Every page and every error path of the demo, through WebTest, on the throwaway MariaDB."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, quote

import pytest

from apps.favorites import repository as repo
from tests.favorites.conftest import user_id

NOTE = "我的家乡 <b>深圳</b>"
ROOT = Path(__file__).resolve().parents[2]


def collect(web, district_id: int):
    """Collect through the area page's form (CSRF token included), as a user would."""
    return web.get(f"/areas/{district_id}").forms["collect-form"].submit()


def collected_favorites(web, district_id: int):
    """Collect, then open /favorites (collecting itself leads back to the area page)."""
    collect(web, district_id).follow()
    return web.get("/favorites")


def favorites_row(page, district_id: int):
    return page.html.find(id=f"fav-{district_id}")


# -- reading -------------------------------------------------------------------------------------------------


def test_index_lists_the_provinces(web) -> None:
    page = web.get("/")
    assert page.status_code == 200
    assert page.content_type == "text/html" and page.charset.lower() == "utf-8"
    links = page.html.select("ul.areas a")
    assert len(links) == 34
    assert {"广东省", "北京市", "新疆维吾尔自治区", "澳门特别行政区"} <= {a.text for a in links}
    assert page.html.find("a", string="广东省")["href"] == "/areas/440000"


def test_area_page_shows_children_and_breadcrumb(web) -> None:
    page = web.get("/areas/440300")
    assert page.html.h1.text == "深圳市"
    crumbs = [a.text for a in page.html.select("nav.breadcrumb a")]
    assert crumbs == ["全国", "广东省"]
    assert "南山区" in [a.text for a in page.html.select("ul.areas a")]
    assert page.html.find("a", string="南山区")["href"] == "/areas/440305"


def test_county_page_has_the_full_breadcrumb_and_no_children(web) -> None:
    page = web.get("/areas/440305")
    assert [a.text for a in page.html.select("nav.breadcrumb a")] == ["全国", "广东省", "深圳市"]
    assert page.html.select("ul.areas") == []


def test_long_lists_are_paginated(web) -> None:
    first = web.get("/areas/440000")
    shown = [a.text for a in first.html.select("ul.areas a")]
    assert len(shown) == 11 and "深圳市" in shown  # 21 cities: 11 + 10, not 20 + 1
    next_link = first.html.find("a", rel="next")["href"]
    assert next_link == "/areas/440000?page=2"
    second = web.get(next_link)
    rest = [a.text for a in second.html.select("ul.areas a")]
    assert len(rest) == 10 and not set(rest) & set(shown)
    assert second.html.find("a", rel="next") is None
    assert "第 2 / 2 页" in second.text


def test_numbered_pagination_with_first_and_last(web) -> None:
    page = web.get("/search", {"q": "区", "page": "5"})
    nav = page.html.find("nav", class_="pagination")
    assert nav.find("span", attrs={"aria-current": "page"}).text == "5"
    numbers = [a.text for a in nav.find_all("a") if a.text.isdigit()]
    assert numbers == ["3", "4", "6", "7"]
    last = nav.find("a", class_="last")["href"]
    assert "page=1&" in nav.find("a", class_="first")["href"]
    end = web.get(last)
    assert end.html.find("a", class_="last") is None and end.html.find("a", rel="next") is None
    assert end.html.find("nav", class_="pagination").find("a", class_="first") is not None


@pytest.mark.parametrize("q", ["shenzhen", "shen zhen", "sz", "深 圳"])
def test_search_page_by_pinyin_and_spaced_chinese(web, q: str) -> None:
    page = web.get("/search", {"q": q})
    assert "深圳市" in [a.text for a in page.html.select("ul.areas a")]


@pytest.mark.parametrize(("note", "message"), [
    ("   ", "空白"), ("\u3000\u3000", "空白"), ("a\x00b", "控制字符"), ("a\x1bb", "控制字符"),
    ("abc\u202edef", "方向"), ("\u2066x\u2069", "方向"),
])  # fmt: skip
def test_bad_notes_are_refused_in_chinese(web, note: str, message: str) -> None:
    favorites = collected_favorites(web, 440300)
    form = favorites.forms["note-440300"]
    form["note"] = note
    resp = form.submit(status=400)
    assert message in resp.text
    assert web.get("/favorites").forms["note-440300"]["note"].value == ""  # nothing stored


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "99999999999", "１", "", "9" * 5000])
def test_bad_page_number_is_400(web, page: str) -> None:
    resp = web.get("/areas/440000", {"page": page}, status=400)
    assert "页码" in resp.text


def test_page_past_the_end_is_404(web) -> None:
    resp = web.get("/areas/440000?page=3", status=404)
    assert "没有第 3 页" in resp.text


def test_unknown_area_is_404_that_says_so(web) -> None:
    resp = web.get("/areas/999999", status=404)
    assert "没有代码为 999999 的地区" in resp.text
    assert "Traceback" not in resp.text


@pytest.mark.parametrize("path", ["/areas/44", "/areas/abc", "/areas/4403001", "/nothing-here",
                                  "/areas/%EF%BC%94%EF%BC%94%EF%BC%90%EF%BC%93%EF%BC%90%EF%BC%90"])
def test_malformed_paths_are_404(web, path: str) -> None:
    # No route matches (the app's "no page at this address", not an unknown area), while the well-formed
    # path next to them is served: so the 404 comes from the path's form, not a misspelt route.
    page = web.get(path, status=404)
    assert "这个地址没有页面" in page.text and "没有代码为" not in page.text and "Traceback" not in page.text
    assert "深圳市" in web.get("/areas/440300").text


def test_search_finds_areas(web) -> None:
    page = web.get("/search", {"q": "南山"})
    found = [a.text for a in page.html.select("ul.areas a")]
    assert "南山区" in found
    assert all("南山" in name for name in found)


def test_search_from_the_form_on_every_page(web) -> None:
    form = web.get("/").forms["search"]
    form["q"] = "深圳"
    page = form.submit()
    assert "深圳市" in [a.text for a in page.html.select("ul.areas a")]


def test_search_paginates_and_keeps_the_query(web) -> None:
    page = web.get("/search", {"q": "区"})
    next_link = page.html.find("a", rel="next")["href"]
    path, _, query = next_link.partition("?")
    assert (path, parse_qs(query)) == ("/search", {"q": ["区"], "page": ["2"]})
    assert web.get(next_link).status_code == 200


@pytest.mark.parametrize("q", ["%", "_", "%%", "\\", "南_区", "深%"])
def test_search_wildcards_are_literal(web, q: str) -> None:
    page = web.get("/search", {"q": q})
    assert page.html.select("ul.areas a") == []
    assert "没有名称包含" in page.text


def test_search_with_injection_and_script_is_inert_and_escaped(web) -> None:
    for q in ["' OR 1=1 -- ", "'; DROP TABLE favorites; --", "<script>alert(1)</script>"]:
        page = web.get("/search", {"q": q})
        assert page.html.select("ul.areas a") == []
        assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert len(web.get("/").html.select("ul.areas a")) == 34  # nothing dropped


def test_search_too_long_is_400(web) -> None:
    assert "最多 50 个字" in web.get("/search", {"q": "深" * 51}, status=400).text


def test_empty_search_shows_the_form(web) -> None:
    page = web.get("/search")
    assert page.html.h1.text == "搜索地区"


# -- collecting --------------------------------------------------------------------------------------------


def test_collect_goes_back_to_the_same_page_with_a_flash_notice(web, con) -> None:
    page = web.get("/areas/440000", {"page": "2"})
    resp = page.forms["collect-form"].submit()
    assert resp.status_code == 303
    assert resp.location.endswith("/areas/440000?page=2")  # where the visitor was, page number and all
    back = resp.follow()
    assert back.html.find(class_="notice").text == "已收藏广东省。"
    assert "added" not in resp.location and "?" not in resp.location.split("page=2")[1]
    assert back.html.find(id="uncollect") is not None  # the area page knows, and offers to un-collect
    assert web.get("/areas/440000").html.find(class_="notice") is None  # shown once: a reload is quiet
    assert favorites_row(web.get("/favorites"), 440000) is not None


def test_collect_twice_says_so_and_adds_no_row(web, con) -> None:
    form = web.get("/areas/440300").forms["collect-form"]
    form.submit()
    again = form.submit()  # the same form posted again (a second tab, a double click)
    assert again.status_code == 303
    assert "深圳市已经收藏过了" in again.follow().text
    assert len(repo.favorites(con, user_id(con))) == 1


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)", "/ok\r\nSet-Cookie: x=1", ""])
def test_collect_never_redirects_off_site(web, con, target: str) -> None:
    form = web.get("/areas/440300").forms["collect-form"]
    form["next"] = target
    resp = form.submit(status=303)
    assert re.sub(r"^https?://localhost", "", resp.location) == "/areas/440300"


def test_favorites_notices_are_not_url_parameters(web, con) -> None:
    page = web.get("/favorites", {"added": "999999", "removed": "440300"})
    assert page.html.select(".notice") == []


def test_collect_unknown_area_is_404(web, con) -> None:
    token = web.get("/areas/440300").forms["collect-form"]["csrf_token"].value
    resp = web.post("/areas/999999/collect", {"csrf_token": token}, status=404)
    assert "没有代码为 999999 的地区" in resp.text
    assert repo.favorites(con, user_id(con)) == []


def test_collect_without_csrf_token_is_403(web, con) -> None:
    web.post("/areas/440300/collect", status=403)
    web.post("/areas/440300/collect", {"csrf_token": "forged"}, status=403)
    assert repo.favorites(con, user_id(con)) == []


def test_collect_by_get_is_405_and_changes_nothing(web, con) -> None:
    assert web.get("/areas/440300/collect", status=405).headers["Allow"] == "OPTIONS, POST"
    assert repo.favorites(con, user_id(con)) == []


# -- notes -------------------------------------------------------------------------------------------------


def test_note_round_trip_shows_html_as_text(web, con) -> None:
    page = collected_favorites(web, 440300)
    form = page.forms["note-440300"]
    form["note"] = NOTE
    saved = form.submit()
    assert saved.status_code == 303 and saved.location.endswith("/favorites#fav-440300")
    page = saved.follow()
    assert page.html.find(class_="note").text == NOTE           # shown exactly, as text
    # The notice sits inside the favourite the #fragment scrolls to, so a phone shows it.
    assert favorites_row(page, 440300).find(class_="notice").text == "已保存深圳市的备注。"
    assert "&lt;b&gt;深圳&lt;/b&gt;" in page.text and "<b>深圳</b>" not in page.text
    assert repo.favorites(con, user_id(con))[0].note == NOTE


def test_note_sent_url_encoded_by_hand(web, con) -> None:
    page = collected_favorites(web, 440300)
    token = page.forms["note-440300"]["csrf_token"].value
    body = f"csrf_token={quote(token)}&note={quote('<script>alert(1)</script> 你好 & ')}"
    web.post("/favorites/440300/note", body, content_type="application/x-www-form-urlencoded", status=303)
    page = web.get("/favorites")
    assert "<script>alert(1)</script>" not in page.text
    assert repo.favorites(con, user_id(con))[0].note == "<script>alert(1)</script> 你好 & "


def test_note_too_long_is_400_with_the_form_kept(web, con) -> None:
    page = collected_favorites(web, 440300)
    form = page.forms["note-440300"]
    form["note"] = "长" * 201
    resp = form.submit(status=400)
    assert "备注最多 200 个字" in resp.text
    assert resp.html.find(id="fav-440300").find("input", attrs={"name": "note"})["value"] == "长" * 201
    assert repo.favorites(con, user_id(con))[0].note == ""


def test_note_of_200_chinese_characters_is_fine(web, con) -> None:
    form = collected_favorites(web, 440300).forms["note-440300"]
    form["note"] = "长" * 200
    form.submit(status=303)
    assert repo.favorites(con, user_id(con))[0].note == "长" * 200


def test_note_for_a_non_favourite_is_404(web, con) -> None:
    token = web.get("/areas/440300").forms["collect-form"]["csrf_token"].value
    resp = web.post("/favorites/440300/note", {"csrf_token": token, "note": "x"}, status=404)
    assert "收藏里没有代码为 440300 的地区" in resp.text  # the view's answer, not a missing route's


def test_note_missing_field_is_400(web, con) -> None:
    collect(web, 440300)
    token = web.get("/favorites").forms["note-440300"]["csrf_token"].value
    resp = web.post("/favorites/440300/note", {"csrf_token": token}, status=400)
    assert "note" in resp.text  # the missing field is named


# -- removing ----------------------------------------------------------------------------------------------


def test_remove_asks_first_then_goes_back(web, con) -> None:
    page = collected_favorites(web, 440300)
    confirm = page.click(linkid="remove-440300")  # a link to a confirmation page, no script
    assert "取消收藏深圳市？" in confirm.text
    assert confirm.html.find(id="keep")["href"] == "/favorites"
    assert len(repo.favorites(con, user_id(con))) == 1  # asking changed nothing
    resp = confirm.forms["confirm-remove"].submit()
    assert resp.status_code == 303 and resp.location.endswith("/favorites")
    page = resp.follow()
    assert "已取消收藏深圳市" in page.text and favorites_row(page, 440300) is None
    assert repo.favorites(con, user_id(con)) == []
    resp = confirm.forms["confirm-remove"].submit(status=404)  # removing again: it is not there any more
    assert "收藏里没有" in resp.text


def test_uncollect_from_the_area_page(web, con) -> None:
    area = collect(web, 440305).follow()
    confirm = area.click(linkid="uncollect")
    back = confirm.forms["confirm-remove"].submit(status=303)
    assert back.location.endswith("/areas/440305")
    page = back.follow()
    assert "已取消收藏南山区" in page.text and page.forms["collect-form"] is not None
    assert repo.favorites(con, user_id(con)) == []


def test_empty_favorites_page(web, con) -> None:
    assert "还没有收藏" in web.get("/favorites").text


def test_nav_marks_the_current_page(web, con) -> None:
    index = web.get("/").html.select("header nav a")
    assert [a.get("aria-current") for a in index] == ["page", None]
    favorites = web.get("/favorites").html.select("header nav a")
    assert [a.get("aria-current") for a in favorites] == [None, "page"]


# -- old names, health, assets -----------------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new"), [
    ("/index.html", "/"),
    ("/show.py?id=440000", "/areas/440000"),
    ("/show.py", "/"),
    ("/collect.py?id=440300", "/areas/440300"),
    ("/collect.py", "/favorites"),
])
def test_old_page_names_redirect_301(web, con, old: str, new: str) -> None:
    resp = web.get(old, status=301)
    assert re.sub(r"^https?://[^/]+", "", resp.location) == new
    assert repo.favorites(con, user_id(con)) == []  # the old collect.py on GET collects nothing now


def test_old_page_with_bad_id_is_400(web) -> None:
    assert "6 位数字" in web.get("/show.py?id=abc", status=400).text


def test_healthz(web) -> None:
    resp = web.get("/healthz")
    assert resp.json == {"status": "ok", "database": "up"}


def test_favicon_and_stylesheet(web) -> None:
    icon = web.get("/favicon.ico")
    assert icon.content_type == "image/x-icon" and icon.body[:4] == b"\x00\x00\x01\x00"
    web.get("/faviconXico", status=404)  # the route's "." is literal
    css = web.get("/static/style.css")
    assert css.content_type == "text/css" and b"max-width" in css.body


def test_pages_are_phone_ready(web) -> None:
    page = web.get("/")
    assert page.html.find("meta", attrs={"name": "viewport"})["content"].startswith("width=device-width")
    assert page.html.html["lang"] == "zh-CN"


def test_method_not_allowed_page_keeps_allow(web) -> None:
    resp = web.put("/favorites/440300/remove", status=405)
    assert "POST" in resp.headers["Allow"]
    assert "不支持这种请求方式" in resp.text


def test_oversized_post_is_413(web, con) -> None:
    collect(web, 440300)
    token = web.get("/favorites").forms["note-440300"]["csrf_token"].value
    resp = web.post("/favorites/440300/note", {"csrf_token": token, "note": "x" * 100_000}, status=413)
    assert "提交的内容太大" in resp.text
    assert repo.favorites(con, user_id(con))[0].note == ""


def test_application_is_built_on_first_access(mariadb) -> None:
    import subprocess
    import sys

    code = ("import sys, apps.favorites as f; import apps.favorites.settings; "
            "assert 'miniweb' not in sys.modules; app = f.application; "
            "assert f.application is app and callable(app); print('ok')")
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": mariadb.url, "SECRET_KEY": "k"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.stdout.strip() == "ok", out.stderr


def test_area_page_has_a_map_with_its_children(web) -> None:
    page = web.get("/areas/440300")
    svg = page.html.find("svg", class_="china-map")
    assert svg is not None and svg["aria-label"] == "深圳市在中国的位置"
    assert len(svg.find_all("path", class_="province")) == 34
    assert svg.find("path", class_="current") is not None  # 广东省 highlighted
    main = svg.find("circle", class_="main")
    assert main.title.text == "深圳市"
    children = {c.title.text: c.find_parent("a")["href"] for c in svg.find_all("circle", class_="child")}
    assert children["龙华区"] == "/areas/440309" and len(children) == 9  # every district
    # The server projects the coordinates: Shenzhen (114.06 E) lies south and a little west of Beijing.
    beijing = web.get("/areas/110000").html.find("circle", class_="main")
    assert float(main["cx"]) < float(beijing["cx"]) and float(main["cy"]) > float(beijing["cy"]) + 100
    # Nothing from elsewhere: no script, no external tile, font or image (the SVG namespace is a name).
    outside = page.text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in outside and "http://" not in outside and "https://" not in outside


def test_favorites_page_shows_them_on_the_map(web) -> None:
    for code in ("440300", "110000"):
        web.get(f"/areas/{code}").forms["collect-form"].submit(status=303)
    svg = web.get("/favorites").html.find("svg", class_="china-map")
    assert sorted(c.title.text for c in svg.find_all("circle")) == ["北京市", "深圳市"]


def test_security_headers_and_a_csp_without_inline_script(web) -> None:
    resp = web.get("/areas/440300")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'none'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" not in resp.text and re.search(r"\son[a-z]+=", resp.text) is None  # no handlers


@pytest.mark.parametrize(("method", "path", "params", "status"), [
    ("get", "/no/such/page", None, 404),
    ("post", "/areas/440300/collect", {"csrf_token": "forged"}, 403),
    ("put", "/favorites", None, 405),
])  # fmt: skip
def test_framework_errors_are_in_chinese(web, method: str, path: str, params, status: int) -> None:
    resp = getattr(web, method)(path, params or {}, status=status)
    text = resp.html.find("main").get_text(" ", strip=True)
    assert re.search(r"[A-Za-z]{3,}", text.replace("HTTP", "").replace("KB", "")) is None, text
    assert resp.html.find("main").find("a", href="/") is not None


def test_missing_form_field_400_is_in_chinese(web) -> None:
    web.get("/areas/440300").forms["collect-form"].submit(status=303)
    token = web.get("/favorites").forms["note-440300"]["csrf_token"].value
    resp = web.post("/favorites/440300/note", {"csrf_token": token}, status=400)
    assert "Missing" not in resp.text and "请求的内容不完整" in resp.text


def test_every_framework_text_has_a_chinese_version() -> None:
    # A key the framework adds later would show English on a page: this names it.
    from apps.favorites.app import MESSAGES
    from miniweb.messages import DEFAULTS

    assert set(DEFAULTS) <= set(MESSAGES)
    assert all(re.search(r"[\u4e00-\u9fff]", text) for text in MESSAGES.values())


@pytest.mark.parametrize("script_name", ["", "/demo"])
def test_links_back_carry_the_mount_point_and_the_whole_query(web, con, script_name: str) -> None:
    # The "next" of the collect form, the remove link and the log-in link: this page as the browser asked
    # for it, under the app's mount point (PEP 3333 SCRIPT_NAME), with every query parameter intact.
    mount = {"SCRIPT_NAME": script_name}
    here = f"{script_name}/areas/440300?page=1&x=a%26b"
    page = web.get("/areas/440300?page=1&x=a%26b", extra_environ=mount)
    form = page.forms["collect-form"]
    assert form["next"].value == here
    back = form.submit(extra_environ=mount, status=303)
    assert re.sub(r"^https?://localhost", "", back.location) == here
    page = web.get("/areas/440300?page=1&x=a%26b", extra_environ=mount)
    remove = page.html.find(id="uncollect")["href"]
    assert remove.startswith(f"{script_name}/favorites/440300/remove?")
    assert parse_qs(remove.partition("?")[2]) == {"next": [here]}
    favorites = web.get("/favorites", extra_environ=mount).html.find(id="nav-favorites")
    assert favorites.get("aria-current") == "page" and favorites["href"] == f"{script_name}/favorites"


def test_the_log_in_link_comes_back_to_this_page_under_the_mount_point(anon, con) -> None:
    page = anon.get("/search?q=%E5%8D%97&page=1", extra_environ={"SCRIPT_NAME": "/demo"})
    login = page.html.find(id="nav-login")["href"]
    assert login.startswith("/demo/login?")
    assert parse_qs(login.partition("?")[2]) == {"next": ["/demo/search?q=%E5%8D%97&page=1"]}
    login_page = anon.get(login.removeprefix("/demo"), extra_environ={"SCRIPT_NAME": "/demo"})
    assert login_page.html.find(id="nav-login").get("aria-current") == "page"
