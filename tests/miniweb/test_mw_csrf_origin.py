"""CSRF defence in depth: the Origin/Referer check, tokens dated in the future, the header for fetch()."""

from __future__ import annotations

import time

import pytest
import webtest

from miniweb import App, Request
from miniweb.csrf import CsrfProtect


def _app(**options) -> App:
    app = App(template_folder=None, secret_key="origin-secret", **options)

    @app.route("/form")
    def form(request: Request):
        return app.csrf_token(request)

    @app.route("/change", methods=["POST"])
    def change(request: Request):
        return "changed"

    @app.route("/api", methods=["POST"], csrf=False)
    def api(request: Request):
        return {"ok": True}

    return app


def _client_and_token(app: App, **extra) -> tuple[webtest.TestApp, str]:
    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "shop.example:8443", **extra})
    return client, client.get("/form").text


def test_same_origin_post_with_token_is_accepted():
    client, token = _client_and_token(_app())
    headers = {"Origin": "http://shop.example:8443"}
    assert client.post("/change", {"csrf_token": token}, headers=headers).text == "changed"
    referer = {"Referer": "http://shop.example:8443/form?x=1"}
    assert client.post("/change", {"csrf_token": token}, headers=referer).text == "changed"
    assert client.post("/change", {"csrf_token": token}).text == "changed"  # neither header: token decides


def test_cross_origin_post_with_a_valid_token_is_refused():
    client, token = _client_and_token(_app())
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "https://shop.example:8443"},  # another scheme is another origin (RFC 6454)
        {"Origin": "http://shop.example:8444"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/shop.example:8443"},
    ):
        response = client.post("/change", {"csrf_token": token}, headers=headers, status=403)
        assert "another site" in response.text


def test_default_ports_and_case_compare_equal():
    app = _app()
    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "Shop.Example:80"})
    token = client.get("/form").text
    assert (
        client.post("/change", {"csrf_token": token}, headers={"Origin": "http://shop.example"}).text
        == "changed"
    )
    https = webtest.TestApp(app, extra_environ={"HTTP_HOST": "shop.example", "wsgi.url_scheme": "https"})
    token = https.get("/form").text
    headers = {"Origin": "https://shop.example:443"}
    assert https.post("/change", {"csrf_token": token}, headers=headers).text == "changed"


def test_trusted_origins():
    client, token = _client_and_token(_app(csrf_trusted_origins=["https://admin.example"]))
    headers = {"Origin": "https://admin.example"}
    assert client.post("/change", {"csrf_token": token}, headers=headers).text == "changed"


def test_csrf_false_api_is_not_origin_checked():
    client = webtest.TestApp(_app())
    assert client.post_json("/api", {}, headers={"Origin": "http://other.example"}).json == {"ok": True}


def test_fetch_json_with_the_header():
    client, token = _client_and_token(_app())
    headers = {"X-CSRF-Token": token, "Origin": "http://shop.example:8443"}
    assert client.post_json("/change", {"a": 1}, headers=headers).text == "changed"
    client.post_json("/change", {"a": 1}, status=403)  # JSON without the header


def test_token_dated_in_the_future_is_refused():
    protect = CsrfProtect(b"origin-secret")
    client, _ = _client_and_token(_app())
    nonce = client.cookies["miniweb_csrf"]
    for ahead, accepted in ((3600, False), (10**6, False), (0, True)):
        stamp = int(time.time()) + ahead
        token = f"{stamp}.{protect._sign(nonce, stamp)}"
        status = 200 if accepted else 403
        response = client.post("/change", {"csrf_token": token}, status=status)
        if not accepted:
            assert "expired" in response.text


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_every_unsafe_method_is_origin_checked(method):
    app = App(template_folder=None, secret_key="k")
    app.route("/x", methods=[method])(lambda request: "done")
    client = webtest.TestApp(app)
    client.request("/x", method=method, headers={"Origin": "http://evil.example"}, status=403)
