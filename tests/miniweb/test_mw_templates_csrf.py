"""Templates (one autoescaping Jinja2 environment) and stateless CSRF protection."""

from __future__ import annotations

import re

import pytest
import webtest

from miniweb import App

PAGE = """<!doctype html>
<title>{{ title }}</title>
<p id="path">{{ request.path }}</p>
<a id="link" href="{{ url_for('area', 440300, tab='地图') }}">x</a>
<link id="css" href="{{ static_url('site.css') }}">
<form method="post" action="{{ url_for('note', 1) }}">
  <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
  <input name="note" value="{{ note }}">
</form>
"""


@pytest.fixture
def app(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text(PAGE, encoding="utf-8")
    app = App(template_folder=str(tmp_path / "templates"), secret_key="test-secret")

    @app.route(r"/areas/(\d+)", name="area")
    def area(request, district_id):
        return app.render(request, "page.html", title="<b>标题</b>", note='"quoted" & <tag>')

    @app.route(r"/notes/(\d+)", methods=["POST", "PUT", "PATCH", "DELETE"], name="note")
    def note(request, note_id):
        return {"note": request.form.get("note"), "id": note_id}

    @app.route("/hook", methods=["POST"], csrf=False)
    def hook(request):
        return "no token needed"

    return app


def test_render_context_and_autoescape(app):
    response = webtest.TestApp(app).get("/areas/7")
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<title>&lt;b&gt;标题&lt;/b&gt;</title>" in response.text
    assert 'value="&#34;quoted&#34; &amp; &lt;tag&gt;"' in response.text
    assert response.html.find(id="path").text == "/areas/7"
    assert response.html.find(id="link")["href"] == "/areas/440300?tab=%E5%9C%B0%E5%9B%BE"
    assert response.html.find(id="css")["href"] == "/static/site.css"
    assert re.fullmatch(r"\d+\.[A-Za-z0-9_-]{43}", response.forms[0]["csrf_token"].value)


def test_form_with_token_is_accepted(app):
    client = webtest.TestApp(app)
    form = client.get("/areas/7").forms[0]
    form["note"] = "新的备注"
    assert form.submit().json == {"note": "新的备注", "id": "1"}


def test_post_without_token_is_403(app):
    client = webtest.TestApp(app)
    client.get("/areas/7")  # the browser has its CSRF cookie
    response = client.post("/notes/1", {"note": "x"}, status=403)
    assert "The form is missing its CSRF token" in response.text
    for method in ("put", "patch", "delete"):
        response = getattr(client, method)("/notes/1", status=403)
        assert "The form is missing its CSRF token" in response.text


def test_wrong_or_foreign_token_is_403(app):
    victim = webtest.TestApp(app)
    victim.get("/areas/7")
    attacker = webtest.TestApp(app)
    attacker_token = attacker.get("/areas/7").forms[0]["csrf_token"].value
    # A token the attacker obtained with *their* cookie does not verify with the victim's cookie.
    for token in (attacker_token, "123.forged", "garbage", "²³.签名", "9" * 5000 + ".sig"):
        response = victim.post("/notes/1", {"note": "x", "csrf_token": token}, status=403)
        assert "The CSRF token is invalid" in response.text, token
    # And a valid token without its cookie fails too.
    victim_token = victim.get("/areas/7").forms[0]["csrf_token"].value
    response = webtest.TestApp(app).post("/notes/1", {"note": "x", "csrf_token": victim_token}, status=403)
    assert "The CSRF token is invalid" in response.text


def test_token_in_header_and_csrf_false(app):
    client = webtest.TestApp(app)
    token = client.get("/areas/7").forms[0]["csrf_token"].value
    assert client.post_json("/notes/9", {"a": 1}, headers={"X-CSRF-Token": token}).json["id"] == "9"
    assert webtest.TestApp(app).post("/hook").text == "no token needed"


def test_token_verifies_in_another_process_sharing_the_key(app, tmp_path):
    client = webtest.TestApp(app)
    token = client.get("/areas/7").forms[0]["csrf_token"].value
    other = App(template_folder=None, secret_key="test-secret")  # a second app process, same key

    @other.route(r"/notes/(\d+)", methods=["POST"])
    def note(request, note_id):
        return "accepted"

    other_client = webtest.TestApp(other, cookiejar=client.cookiejar)
    assert other_client.post("/notes/1", {"csrf_token": token}).text == "accepted"
    wrong_key = App(template_folder=None, secret_key="another-secret")
    wrong_key.route(r"/notes/(\d+)", methods=["POST"])(note)
    refused = webtest.TestApp(wrong_key, cookiejar=client.cookiejar).post(
        "/notes/1", {"csrf_token": token}, status=403
    )
    assert "The CSRF token is invalid" in refused.text


def test_expired_token_is_403(app):
    client = webtest.TestApp(app)
    token = client.get("/areas/7").forms[0]["csrf_token"].value
    strict = App(template_folder=None, secret_key="test-secret", csrf_max_age=-1)  # every token is too old

    @strict.route(r"/notes/(\d+)", methods=["POST"])
    def note(request, note_id):
        return "accepted"

    response = webtest.TestApp(strict, cookiejar=client.cookiejar).post(
        "/notes/1", {"csrf_token": token}, status=403
    )
    assert "The CSRF token has expired" in response.text
    assert client.post("/notes/1", {"csrf_token": token}).json["id"] == "1"  # still fine where not expired


def test_csrf_cookie_is_set_once_and_httponly(app):
    client = webtest.TestApp(app)
    first = client.get("/areas/7").headers.getall("Set-Cookie")
    assert len(first) == 1 and first[0].startswith("miniweb_csrf=")
    assert "HttpOnly" in first[0] and "SameSite=Lax" in first[0]
    assert client.get("/areas/7").headers.getall("Set-Cookie") == []  # the browser already has it


def test_post_route_without_secret_key_is_refused_when_registered():
    app = App(template_folder=None)
    with pytest.raises(RuntimeError, match=r"route 'p' accepts POST and is CSRF-protected.*secret_key"):

        @app.route("/p", methods=["POST"])
        def p(request):
            return "?"

    app.route("/api", methods=["POST"], csrf=False, name="api")(lambda request: "fine")  # APIs opt out
    app.route("/page", name="page")(lambda request: "fine")  # safe methods need no key
    assert webtest.TestApp(app).post("/api").text == "fine"
