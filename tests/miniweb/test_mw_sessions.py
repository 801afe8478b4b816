"""Signed-cookie sessions and flash messages, through WebTest as a browser would use them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
import webtest

from miniweb import App, Request, flash, get_flashed_messages, redirect
from miniweb.sessions import Session, SessionConfig, SessionSigner, SessionTooLarge


def _app(tmp_path=None, **options) -> App:
    folder = None
    if tmp_path is not None:
        (tmp_path / "page.html").write_text(
            "{% for c, m in get_flashed_messages(with_categories=True) %}[{{ c }}:{{ m }}]{% endfor %}",
            encoding="utf-8",
        )
        folder = str(tmp_path)
    options.setdefault("secret_key", "session-secret")
    app = App(template_folder=folder, **options)

    @app.route("/set", methods=["POST"], csrf=False)
    def set_value(request: Request):
        request.session["name"] = request.form["name"]
        return "ok"

    @app.route("/get")
    def get_value(request: Request):
        return request.session.get("name", "(none)")

    @app.route("/untouched")
    def untouched(request: Request):
        return "no session here"

    @app.route("/login", methods=["POST"], csrf=False)
    def login(request: Request):
        request.session.regenerate()
        request.session["user"] = "alice"
        return "in"

    @app.route("/logout", methods=["POST"], csrf=False)
    def logout(request: Request):
        request.session.clear()
        flash(request, "再见")  # lives in the session: a cookie is still written
        return redirect("/page")

    @app.route("/big", methods=["POST"], csrf=False)
    def big(request: Request):
        request.session["blob"] = "x" * 5000
        return "too big"

    @app.route("/flash", methods=["POST"], csrf=False)
    def do_flash(request: Request):
        flash(request, "已收藏", "success")
        flash(request, "plain")
        return redirect("/page")

    @app.route("/page")
    def page(request: Request):
        return app.render(request, "page.html")

    @app.route("/messages")
    def messages(request: Request):
        first = get_flashed_messages(request)
        again = get_flashed_messages(request, with_categories=True)
        return {"first": first, "again": again}

    return app


def _session_cookie(response) -> str | None:
    for header in response.headers.getall("Set-Cookie"):
        if header.startswith("miniweb_session="):
            return header
    return None


def test_session_round_trips_through_the_cookie():
    client = webtest.TestApp(_app())
    response = client.post("/set", {"name": "张三"})
    cookie = _session_cookie(response)
    assert cookie is not None
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=2678400" in cookie
    assert "Secure" not in cookie  # http: Secure would make the browser drop it
    assert client.get("/get").text == "张三"


def test_any_app_with_the_key_reads_the_session_stateless():
    client = webtest.TestApp(_app())
    client.post("/set", {"name": "x"})
    other_process = webtest.TestApp(_app(), cookiejar=client.cookiejar)
    assert other_process.get("/get").text == "x"
    wrong_key = webtest.TestApp(_app(secret_key="another"), cookiejar=client.cookiejar)
    assert wrong_key.get("/get").text == "(none)"


def test_key_rotation_with_fallbacks():
    client = webtest.TestApp(_app(secret_key="old-key"))
    client.post("/set", {"name": "kept"})
    rotated = webtest.TestApp(
        _app(secret_key="new-key", secret_key_fallbacks=["old-key"]), cookiejar=client.cookiejar
    )
    assert rotated.get("/get").text == "kept"


def test_untouched_session_costs_nothing_and_writes_nothing():
    app = _app()
    client = webtest.TestApp(app)
    client.post("/set", {"name": "x"})
    response = client.get("/untouched")
    assert _session_cookie(response) is None and "Vary" not in response.headers
    response = client.get("/get")  # read but not changed: no new cookie
    assert _session_cookie(response) is None and response.headers["Vary"] == "Cookie"


def test_tampered_and_expired_cookies_give_an_empty_session():
    signer = SessionSigner([b"session-secret"], SessionConfig())
    good = signer.dumps({"name": "x"})
    assert signer.loads(good) == {"name": "x"}
    payload, stamp, signature = good.split(".")
    forged_payload = signer.dumps({"name": "admin"}).split(".")[0]
    assert signer.loads(f"{forged_payload}.{stamp}.{signature}") is None  # payload swapped
    assert signer.loads(f"{payload}.{int(stamp) + 1}.{signature}") is None  # timestamp changed
    assert signer.loads(f"{payload}.{stamp}.{signature[:-2]}AA") is None
    for junk in ("", "abc", "a.b", "a.b.c", "..", "x.12.%%%", "é.1.é"):
        assert signer.loads(junk) is None
    old = signer.dumps({"name": "x"}, now=time.time() - 32 * 24 * 3600)
    assert signer.loads(old) is None  # older than max_age (31 days)
    future = signer.dumps({"name": "x"}, now=time.time() + 3600)
    assert signer.loads(future) is None  # dated an hour ahead: not a cookie we wrote

    client = webtest.TestApp(_app())
    client.set_cookie("miniweb_session", f"{forged_payload}.{stamp}.{signature}")
    assert client.get("/get").text == "(none)"


def test_regenerate_on_login_drops_planted_data_and_rotates_the_csrf_nonce():
    app = _app()
    client = webtest.TestApp(app)
    client.post("/set", {"name": "planted"})
    client.set_cookie("miniweb_csrf", "A" * 24)
    response = client.post("/login")
    cookies = response.headers.getall("Set-Cookie")
    assert any(h.startswith("miniweb_csrf=") and "A" * 24 not in h for h in cookies)
    assert client.get("/get").text == "(none)"  # the planted value is gone


def test_logout_clears_the_session():
    client = webtest.TestApp(_app())
    client.post("/set", {"name": "x"})
    response = client.post("/logout")
    assert client.get("/get").text == "(none)"
    assert _session_cookie(response) is not None  # the flash message needs the cookie


def test_clearing_deletes_the_cookie():
    app = _app()

    @app.route("/wipe", methods=["POST"], csrf=False)
    def wipe(request: Request):
        request.session.clear()
        return "wiped"

    client = webtest.TestApp(app)
    client.post("/set", {"name": "x"})
    cookie = _session_cookie(client.post("/wipe"))
    assert cookie is not None and "Max-Age=0" in cookie
    assert client.get("/get").text == "(none)"


def test_session_too_large_is_a_clear_error(caplog):
    client = webtest.TestApp(_app())
    client.post("/big", status=500)
    assert "SessionTooLarge" in caplog.text and "4093-byte limit" in caplog.text
    assert "store large data server-side and only its id in the session" in caplog.text
    with pytest.raises(SessionTooLarge):
        SessionSigner([b"k"], SessionConfig()).dumps({"blob": "x" * 5000})


def test_secure_cookie_over_https_or_when_configured():
    client = webtest.TestApp(_app(), extra_environ={"wsgi.url_scheme": "https"})
    assert "Secure" in _session_cookie(client.post("/set", {"name": "x"}))
    forced = webtest.TestApp(_app(session=SessionConfig(secure=True, cookie_name="s", samesite="Strict")))
    cookie = forced.post("/set", {"name": "x"}).headers["Set-Cookie"]
    assert cookie.startswith("s=") and "Secure" in cookie and "SameSite=Strict" in cookie


def test_session_without_secret_key_is_a_clear_error(caplog):
    app = App(template_folder=None)

    @app.route("/s")
    def s(request: Request):
        return request.session.get("x", "")

    webtest.TestApp(app).get("/s", status=500)
    assert "request.session needs App(secret_key=...)" in caplog.text
    assert get_flashed_messages(Request({})) == []  # no app, no session: no messages, no error


def test_flash_survives_the_redirect_and_is_shown_once(tmp_path):
    client = webtest.TestApp(_app(tmp_path))
    page = client.post("/flash").follow()
    assert page.text == "[success:已收藏][info:plain]"
    assert client.get("/page").text == ""  # shown once


def test_get_flashed_messages_is_stable_within_a_request():
    client = webtest.TestApp(_app())
    client.post("/flash")
    assert client.get("/messages").json == {
        "first": ["已收藏", "plain"],
        "again": [["success", "已收藏"], ["info", "plain"]],
    }
    assert client.get("/messages").json == {"first": [], "again": []}


def _with_ops(**options) -> App:
    """The test app plus one route per dict operation; each answers what the handler saw."""
    app = _app(**options)
    operations = {
        "del": lambda session: session.__delitem__("name"),
        "pop": lambda session: session.pop("name"),
        "pop-missing": lambda session: session.pop("missing", "default"),
        "popitem": lambda session: list(session.popitem()),
        "setdefault-new": lambda session: session.setdefault("other", "set"),
        "setdefault-kept": lambda session: session.setdefault("name", "ignored"),
        "update": lambda session: session.update({"a": 1}, b=2),
        "clear": lambda session: session.clear(),
    }

    @app.route("/op/(.+)", methods=["POST"], csrf=False)
    def operate(request: Request, operation: str):
        session = request.session
        before = {"new": session.new, "modified": session.modified}
        result = operations[operation](session)
        return {"result": result, "before": before, "modified": session.modified, "data": dict(session)}

    @app.route("/all")
    def everything(request: Request):
        return {"data": dict(request.session), "new": request.session.new}

    return app


@pytest.mark.parametrize(
    ("operation", "result", "modified", "data"),
    [
        ("del", None, True, {}),
        ("pop", "x", True, {}),
        ("pop-missing", "default", False, {"name": "x"}),
        ("popitem", ["name", "x"], True, {}),
        ("setdefault-new", "set", True, {"name": "x", "other": "set"}),
        ("setdefault-kept", "x", False, {"name": "x"}),
        ("update", None, True, {"name": "x", "a": 1, "b": 2}),
        ("clear", None, True, {}),
    ],
)
def test_every_change_through_the_dict_api_is_saved(operation, result, modified, data):
    client = webtest.TestApp(_with_ops())
    client.post("/set", {"name": "x"})
    response = client.post(f"/op/{operation}")
    assert response.json == {
        "result": result,
        "before": {"new": False, "modified": False},
        "modified": modified,
        "data": data,
    }
    assert (_session_cookie(response) is not None) is modified  # written exactly when changed
    assert client.get("/all").json == {"data": data, "new": not data}


def test_a_new_session_emptied_again_sets_no_cookie():
    client = webtest.TestApp(_with_ops())
    response = client.post("/op/clear")  # a browser without a session cookie
    assert response.json["before"] == {"new": True, "modified": False}
    assert _session_cookie(response) is None  # nothing to delete in the browser


def test_regenerate_on_a_session_of_its_own():
    session = Session({"user": "mallory"}, new=False)
    session.regenerate()  # outside a request: no CSRF nonce to rotate, no error
    assert session == {} and session.modified


def test_cookie_path_and_domain_are_those_configured_for_writing_and_deleting():
    app = _app(session=SessionConfig(path="/shop", domain="shop.example"))

    @app.route("/shop/(set|clear)", methods=["POST"], csrf=False)
    def shop(request: Request, action: str):
        if action == "set":
            request.session["cart"] = [1]
        else:
            request.session.clear()
        return action

    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "shop.example"})
    written = _session_cookie(client.post("/shop/set"))
    assert "; Path=/shop" in written and "; Domain=shop.example" in written
    deleted = _session_cookie(client.post("/shop/clear"))
    assert "Max-Age=0" in deleted and "; Path=/shop" in deleted and "; Domain=shop.example" in deleted


KEY = b"session-secret"


def _signed(payload: str, stamp: str, key: bytes = KEY) -> str:
    """A cookie value built as the module docstring documents, by another implementation."""
    message = f"{payload}.{stamp}".encode()
    signature = hmac.new(key, b"miniweb.session." + message, hashlib.sha256).digest()
    return f"{payload}.{stamp}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_cookie_format_is_the_documented_one():
    signer = SessionSigner([KEY], SessionConfig())
    data = {"名": "张三", "n": [1, 2]}  # compact UTF-8 JSON, not \u escapes
    payload = _b64(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
    assert signer.dumps(data, now=1_700_000_000) == _signed(payload, "1700000000")
    padded = {"a": 1}  # base64 of '{"a":1}' needs padding, which the cookie leaves out
    assert signer.dumps(padded, now=1_700_000_000) == _signed(_b64(b'{"a":1}'), "1700000000")
    assert "=" not in signer.dumps(padded, now=1_700_000_000)
    assert signer.loads(_signed(payload, "1700000000"), now=1_700_000_000) == data


def test_a_signed_cookie_with_a_bad_stamp_or_body_is_ignored_not_an_error():
    signer = SessionSigner([KEY], SessionConfig())
    now = 1_700_000_000
    payload = _b64(b'{"a":1}')
    assert signer.loads(_signed(payload, f"{now:012d}"), now=now) == {"a": 1}  # 12 digits: the limit
    for stamp in (f"{now:013d}", "17e8", "", "١٧٠٠٠٠٠٠٠٠", "-1"):  # too long, not ASCII digits
        assert signer.loads(_signed(payload, stamp), now=now) is None, stamp
    assert signer.loads(_signed(_b64(b"[1, 2]"), str(now)), now=now) is None  # JSON, but not an object
    assert signer.loads(signer.dumps([1, 2], now=now), now=now) is None  # type: ignore[arg-type]
    assert signer.loads("é.1.AAAA") is None  # not ASCII before a signature that decodes


def test_age_limits_are_inclusive_and_measured_at_now():
    config = SessionConfig(max_age=3600)
    signer = SessionSigner([KEY], config)
    value = signer.dumps({"a": 1}, now=1_000_000)
    assert signer.loads(value, now=1_000_000 + 3600) == {"a": 1}  # exactly max_age old
    assert signer.loads(value, now=1_000_000 + 3601) is None
    assert signer.loads(value, now=1_000_000 - 60) == {"a": 1}  # 60 s ahead of our clock: accepted
    assert signer.loads(value, now=1_000_000 - 61) is None
    assert signer.loads(signer.dumps({"a": 1}), now=time.time() + 40 * 24 * 3600) is None


def test_size_limit_is_exact():
    data = {"blob": "y" * 100}
    size = len("miniweb_session") + 1 + len(SessionSigner([KEY], SessionConfig()).dumps(data, now=1))
    assert SessionSigner([KEY], SessionConfig(max_bytes=size)).dumps(data, now=1)  # fits exactly
    message = (
        rf"^the session cookie would be {size} bytes, over the {size - 1}-byte limit browsers keep; "
        "store large data server-side and only its id in the session$"
    )
    with pytest.raises(SessionTooLarge, match=message):
        SessionSigner([KEY], SessionConfig(max_bytes=size - 1)).dumps(data, now=1)


def test_signer_refuses_empty_keys_and_values_json_cannot_store():
    for keys in ([], [b""], [b"k", b""]):
        with pytest.raises(ValueError, match="^sessions need a non-empty secret_key$"):
            SessionSigner(keys, SessionConfig())
    with pytest.raises(TypeError, match="^the session holds a value JSON cannot store: "):
        SessionSigner([KEY], SessionConfig()).dumps({"tags": {"a", "b"}})


def test_every_listed_key_of_any_length_verifies_and_the_first_signs():
    """Rotation with keys shorter than, as long as, and longer than SHA-256's 64-byte block: a cookie
    signed as documented with any of them reads, one signed with a key not listed does not."""
    keys = [bytes(range(100)), b"o", b"x" * 64]
    signer = SessionSigner(keys, SessionConfig())
    now = 1_700_000_000
    payload = _b64(b'{"a":1}')
    for key in keys:
        assert signer.loads(_signed(payload, str(now), key), now=now) == {"a": 1}, key
    for other in (b"other", bytes(range(100))[:99], bytes(range(101))):
        assert signer.loads(_signed(payload, str(now), other), now=now) is None, other
    assert signer.dumps({"a": 1}, now=now) == _signed(payload, str(now), keys[0])
    second_first = SessionSigner(keys[1:], SessionConfig())
    assert second_first.dumps({"a": 1}, now=now) == _signed(payload, str(now), b"o")
