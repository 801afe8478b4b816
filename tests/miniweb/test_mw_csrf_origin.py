"""CSRF defence in depth: the Origin/Referer check, tokens dated in the future, the header for fetch(),
and the parts of the token and cookie format another process (or language) relies on."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
import webtest

from miniweb import App, Request, Response
from miniweb.csrf import CsrfProtect, rotate_nonce
from miniweb.errors import Forbidden


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


def test_referer_with_userinfo_and_trusted_origin_with_a_slash():
    client, token = _client_and_token(_app(csrf_trusted_origins=["https://Admin.Example:443/"]))
    # urlsplit keeps "user@" in the netloc; the origin is the host after it.
    referer = {"Referer": "http://user@shop.example:8443/form"}
    assert client.post("/change", {"csrf_token": token}, headers=referer).text == "changed"
    # A trusted origin written as a URL with a slash, upper case and its default port is the same origin.
    origin = {"Origin": "https://admin.example"}
    assert client.post("/change", {"csrf_token": token}, headers=origin).text == "changed"


def test_cross_origin_refusal_names_the_origin_cut_to_100_characters():
    client, token = _client_and_token(_app())
    long_origin = "http://" + "e" * 90 + ".example.org"  # 109 characters
    response = client.post("/change", {"csrf_token": token}, headers={"Origin": long_origin}, status=403)
    assert f"({long_origin[:100]})" in response.text  # ends in ".exa", not ".exam"


def test_documented_token_format_verifies():
    """A token computed as the module documents, ``<stamp>.<urlsafe-b64 HMAC-SHA256, no padding>``,
    by another implementation sharing the key."""
    client, _ = _client_and_token(_app())
    nonce, stamp = client.cookies["miniweb_csrf"], int(time.time())
    digest = hmac.new(b"origin-secret", f"{nonce}.{stamp}".encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert client.post("/change", {"csrf_token": f"{stamp}.{signature}"}).text == "changed"


def test_invalid_tokens_say_invalid_not_a_server_error():
    client, token = _client_and_token(_app())
    stamp = token.partition(".")[0]
    for bad in (f"{stamp}.签名", f"{stamp}.{'A' * 43}", "garbage", f"{stamp}.{token}"):
        response = client.post("/change", {"csrf_token": bad}, status=403)
        assert "The CSRF token is invalid" in response.text, bad
    client.set_cookie("miniweb_csrf", "short")  # a cookie that is not a nonce of ours
    response = client.post("/change", {"csrf_token": token}, status=403)
    assert "The CSRF token is invalid" in response.text


def test_header_token_wins_over_a_form_without_the_field():
    client, token = _client_and_token(_app())
    response = client.post("/change", {"other": "field"}, headers={"X-CSRF-Token": token})
    assert response.text == "changed"


def test_tokens_of_one_page_all_verify_and_survive_a_login():
    """Two forms on the first page a browser sees share its new nonce; a page rendered right after
    a login (new nonce) carries tokens for the cookie set with it, and tokens from before stop working."""
    app = _app()

    @app.route("/two")
    def two(request: Request):
        return f"{app.csrf_token(request)} {app.csrf_token(request)}"

    @app.route("/login", methods=["POST"])
    def login(request: Request):
        request.session.regenerate()
        request.session["user"] = "alice"
        return app.csrf_token(request)

    client = webtest.TestApp(app)
    first, second = client.get("/two").text.split()
    assert client.post("/change", {"csrf_token": first}).text == "changed"
    assert client.post("/change", {"csrf_token": second}).text == "changed"
    after_login = client.post("/login", {"csrf_token": first}).text
    assert client.post("/change", {"csrf_token": after_login}).text == "changed"
    refused = client.post("/change", {"csrf_token": first}, status=403)
    assert "The CSRF token is invalid" in refused.text


def test_csrf_cookie_lifetime_and_secure_flag():
    app = _app(csrf_max_age=600)
    cookie = webtest.TestApp(app).get("/form").headers["Set-Cookie"]
    assert "Max-Age=600" in cookie and "Secure" not in cookie and "HttpOnly" in cookie
    https = webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https"})
    assert "; Secure" in https.get("/form").headers["Set-Cookie"]


def test_csrf_protect_used_on_its_own():
    with pytest.raises(ValueError, match="^CSRF protection needs a non-empty secret_key$"):
        CsrfProtect(b"")
    protect = CsrfProtect(b"k")
    response = Response("no form here")
    protect.set_cookie(Request({"wsgi.url_scheme": "http"}), response)  # no token issued: no cookie
    assert response.headers.getlist("Set-Cookie") == []
    request = Request({"wsgi.url_scheme": "http"})
    protect.token(request)
    protect.set_cookie(request, response)
    assert response.headers["Set-Cookie"].startswith("miniweb_csrf=")


def test_a_request_makes_its_csrf_token_once_and_again_after_a_new_nonce():
    protect = CsrfProtect(b"k")
    request = Request({"wsgi.url_scheme": "http"})
    first = protect.token(request)
    assert protect.token(request) is first  # every render and form of the request: the same token
    rotate_nonce(request)  # a login: tokens for the old nonce must not be handed out any more
    again = protect.token(request)
    assert again != first and protect.token(request) is again


@pytest.mark.parametrize("key", [b"k", b"x" * 64, bytes(range(100))], ids=["short", "block", "long"])
def test_tokens_are_the_documented_hmac_for_keys_of_any_length(key):
    """A key longer than SHA-256's 64-byte block is hashed first (RFC 2104): tokens still equal the
    stdlib's HMAC of ``nonce.timestamp``, and verify; a token for another nonce does not."""
    protect = CsrfProtect(key)
    request = Request({"wsgi.url_scheme": "http"})
    stamp, _, signature = protect.token(request).partition(".")
    message = f"{request._csrf_nonce}.{stamp}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    assert signature == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    environ = {
        "wsgi.url_scheme": "http",
        "REQUEST_METHOD": "POST",
        "HTTP_HOST": "h",
        "HTTP_X_CSRF_TOKEN": f"{stamp}.{signature}",
        "HTTP_COOKIE": f"miniweb_csrf={request._csrf_nonce}",
    }
    protect.verify(Request(environ))
    with pytest.raises(Forbidden):
        protect.verify(Request({**environ, "HTTP_COOKIE": f"miniweb_csrf={'A' * 24}"}))
