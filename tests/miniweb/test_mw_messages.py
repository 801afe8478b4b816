"""The framework's texts come from one catalogue the app can replace; error responses negotiate JSON/HTML."""

from __future__ import annotations

import json
import pickle

import pytest
import webtest

from miniweb import App, Forbidden, NotFound
from miniweb.error_pages import prefers_json
from miniweb.messages import DEFAULTS, Messages, message

CHINESE = {
    "title.404": "页面不存在",
    "error.404": "您要找的页面不存在。",
    "title.405": "方法不允许",
    "error.405": "此网址不接受这种请求方法。",
    "title.403": "禁止访问",
    "csrf.missing": "表单缺少安全令牌，请刷新页面后重试。",
    "title.413": "请求内容过大",
    "body.too_large": "请求内容超过 {limit} 字节。",
    "title.400": "请求有误",
    "form.not_utf8": "表单内容不是有效的 UTF-8。",
    "form.missing_field": "缺少字段 {key}。",
    "title.500": "服务器错误",
    "error.500": "服务器出错了，请稍后再试。",
}


def _app(**kwargs):
    app = App(template_folder=None, secret_key="test-secret", max_body_bytes=100, **kwargs)

    @app.route("/form", methods=["GET", "POST"])
    def form(request):
        return request.form["name"]

    @app.route("/boom")
    def boom(request):
        raise RuntimeError("hidden")

    @app.route("/own")
    def own(request):
        raise NotFound("这个地区不存在")

    return app


@pytest.fixture
def client():
    return webtest.TestApp(_app(messages=CHINESE))


def test_router_404_and_405_in_the_apps_words(client):
    page = client.get("/nowhere", status=404)
    assert "<title>404 页面不存在</title>" in page.text and "您要找的页面不存在。" in page.text
    assert "Not Found" not in page.text
    page = client.put("/form", status=405)
    assert "405 方法不允许" in page.text and "此网址不接受这种请求方法。" in page.text


def test_csrf_refusal_in_the_apps_words(client):
    page = client.post("/form", {"name": "x"}, status=403)
    assert "403 禁止访问" in page.text and "表单缺少安全令牌，请刷新页面后重试。" in page.text
    assert "CSRF token" not in page.text


def test_form_errors_and_413_in_the_apps_words():
    client = webtest.TestApp(_app(messages=CHINESE))
    app = client.app

    @app.route("/raw", methods=["POST"], csrf=False)
    def raw(request):
        return request.form["name"]

    page = client.post("/raw", "x" * 101, content_type="application/x-www-form-urlencoded", status=413)
    assert "413 请求内容过大" in page.text and "请求内容超过 100 字节。" in page.text
    page = client.post("/raw", b"name=%FF", content_type="application/x-www-form-urlencoded", status=400)
    assert "400 请求有误" in page.text and "表单内容不是有效的 UTF-8。" in page.text
    page = client.post("/raw", {"other": "1"}, status=400)
    assert "缺少字段 name。" in page.text


def test_500_in_the_apps_words_and_own_descriptions_kept(client):
    page = client.get("/boom", status=500)
    assert "500 服务器错误" in page.text and "服务器出错了，请稍后再试。" in page.text
    assert "hidden" not in page.text
    assert "这个地区不存在" in client.get("/own", status=404).text  # a handler's own text is its own


def test_defaults_are_english_and_update_later_works():
    app = _app()
    client = webtest.TestApp(app)
    assert "The requested URL was not found on this server." in client.get("/x", status=404).text
    app.messages.update({"error.404": "没有"})
    assert "<p>没有</p>" in client.get("/x", status=404).text


def test_message_is_its_english_default_as_a_string():
    error = Forbidden(message("csrf.missing"))
    assert error.description == DEFAULTS["csrf.missing"]
    assert str(error) == "403 Forbidden: " + DEFAULTS["csrf.missing"]
    limit = message("body.too_large", limit=5)
    assert limit == "The request body is larger than 5 bytes."
    assert pickle.loads(pickle.dumps(limit)).key == "body.too_large"
    assert Messages({"body.too_large": "超过 {limit}"}).text(limit) == "超过 5"


def test_catalogue_refuses_unknown_keys_and_placeholders_when_set():
    with pytest.raises(KeyError, match="csrf.mising"):
        Messages({"csrf.mising": "x"})
    with pytest.raises(ValueError, match=r"\['size'\]"):
        Messages({"body.too_large": "超过 {size} 字节"})
    with pytest.raises(ValueError, match="no placeholders"):
        Messages({"error.404": "{path} 不存在"})
    with pytest.raises(KeyError):
        Messages({"title.600": "x"})
    assert Messages({"title.418": "我是茶壶"}).title(418) == "我是茶壶"
    with pytest.raises(KeyError):
        App(template_folder=None, messages={"nope": "x"})


# --- negotiation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),  # a browser
        ("application/json", True),
        ("application/json, text/plain, */*", True),  # axios
        ("application/problem+json", True),
        ("application/json;q=0.5, text/html", False),
        ("text/html;q=0.5, application/json", True),
        ("application/json;q=0", False),
        ("application/json, text/html", False),  # a tie: HTML
        ("application/json, */*;q=0.1", True),
        ("application/*", False),  # JSON never named: HTML
        ("application/json;q=bogus", False),
    ],
)
def test_prefers_json(accept, expected):
    assert prefers_json(accept) is expected


def test_errors_answer_json_to_json_clients(client):
    response = client.get("/nowhere", headers={"Accept": "application/json"}, status=404)
    assert response.content_type == "application/json"
    assert response.json == {"error": {"code": 404, "message": "您要找的页面不存在。"}}
    assert response.headers["Vary"] == "Accept"
    response = client.put("/form", headers={"Accept": "application/json"}, status=405)
    assert response.json["error"]["code"] == 405 and response.headers["Allow"] == "GET, HEAD, OPTIONS, POST"
    response = client.get("/boom", headers={"Accept": "application/json"}, status=500)
    assert json.loads(response.body) == {"error": {"code": 500, "message": "服务器出错了，请稍后再试。"}}
    html = client.get("/nowhere", headers={"Accept": "text/html"}, status=404)
    assert html.content_type == "text/html" and html.headers["Vary"] == "Accept"


def test_debug_traceback_never_in_json():
    client = webtest.TestApp(_app(debug=True))
    assert "RuntimeError" in client.get("/boom", status=500).text
    response = client.get("/boom", headers={"Accept": "application/json"}, status=500)
    assert "RuntimeError" not in response.text and response.json["error"]["code"] == 500


def test_abort_raises_the_class_for_the_code():
    from miniweb import HTTPError, abort

    with pytest.raises(NotFound) as caught:
        abort(404)
    assert caught.value.description == DEFAULTS["error.404"]
    with pytest.raises(Forbidden, match="not yours"):
        abort(403, "not yours")
    with pytest.raises(HTTPError) as caught:
        abort(418, "teapot", [("X-Why", "tea")])
    assert caught.value.code == 418 and caught.value.headers == [("X-Why", "tea")]
    app = App(template_folder=None, messages={"error.410": "已删除"})

    @app.route("/gone")
    def gone(request):
        abort(410)

    page = webtest.TestApp(app).get("/gone", status=410)
    assert "<title>410 Gone</title>" in page.text and "<p>已删除</p>" in page.text
