"""StaticFiles: serving, caching headers, 304, HEAD, file_wrapper, and the traversal guard."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import webtest

from miniweb import App, SecurityHeaders, StaticFiles
from miniweb.errors import HTTPError
from miniweb.openfile import open_file
from tests.miniweb.openwatch import OpenWatch


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "static"
    (root / "css").mkdir(parents=True)
    (root / "css" / "site.css").write_text("body { color: red }\n", encoding="utf-8")
    (root / "图标.svg").write_text("<svg/>", encoding="utf-8")
    (root / "%2e%2e").write_text("a file literally named %2e%2e", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("TOP SECRET", encoding="utf-8")
    (root / "escape").symlink_to(tmp_path / "secret.txt")
    return root


def test_serves_files_with_type_and_caching(site):
    client = webtest.TestApp(StaticFiles(site, prefix="/static", max_age=600))
    response = client.get("/static/css/site.css")
    assert response.text == "body { color: red }\n"
    assert response.headers["Content-Type"] == "text/css; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=600"
    assert "ETag" in response.headers and "Last-Modified" in response.headers
    assert client.get("/static/%E5%9B%BE%E6%A0%87.svg").headers["Content-Type"] == "image/svg+xml"


def test_304_and_head(site):
    client = webtest.TestApp(StaticFiles(site))
    first = client.get("/static/css/site.css")
    client.get("/static/css/site.css", headers={"If-None-Match": first.headers["ETag"]}, status=304)
    client.get(
        "/static/css/site.css", headers={"If-Modified-Since": first.headers["Last-Modified"]}, status=304
    )
    head = client.head("/static/css/site.css")
    assert head.body == b"" and head.headers["Content-Length"] == str(len(first.body))


def test_other_methods_are_405(site):
    response = webtest.TestApp(StaticFiles(site)).post("/static/css/site.css", status=405)
    assert response.headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "path",
    [
        "/static/../secret.txt",
        "/static/css/../../secret.txt",
        "/static/./css/site.css",
        # ".." whose resolution stays inside the directory, at a file that exists: refused all the same
        # (refuse, don't normalise), so the resolved-path containment check is not the only guard.
        "/static/css/../css/site.css",
        "/static/css/../%2e%2e",
        "/static//etc/passwd",
        "/static/" + os.path.abspath(__file__),
        "/static/css\\..\\..\\secret.txt",
        "/static/C:/Windows/win.ini",
        "/static/css",  # a directory: no listings
        "/static/",
        "/static/escape",  # a symlink pointing outside the directory
        "/static/nope.txt",
        "/elsewhere/css/site.css",
    ],
)
def test_traversal_and_misses_are_404(site, wsgi_call, path):
    status, _, body = wsgi_call(StaticFiles(site), path)
    assert status.startswith("404"), path
    assert b"SECRET" not in body


def test_encoded_traversal_through_the_url_is_refused(site):
    client = webtest.TestApp(StaticFiles(site))
    for url in (
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E%2Fsecret.txt",
        "/static/css%2F..%2F..%2Fsecret.txt",
    ):
        response = client.get(url, status=404, expect_errors=True)
        assert "SECRET" not in response.text
    # A double-encoded "%2e%2e" is a literal file name after one decoding, and stays inside the directory.
    assert "literally" in client.get("/static/%252e%252e").text


def test_nul_and_invalid_utf8_are_400(site, wsgi_call):
    assert wsgi_call(StaticFiles(site), "/static/css/site.css\x00.txt")[0].startswith("400")
    assert wsgi_call(StaticFiles(site), "/static/\xff.css")[0].startswith("400")


def test_file_wrapper_is_used(site, wsgi_call):
    used = []

    def file_wrapper(file, block_size):
        used.append(file.name)
        return iter([file.read()])

    status, _, body = wsgi_call(
        StaticFiles(site), "/static/css/site.css", **{"wsgi.file_wrapper": file_wrapper}
    )
    assert status == "200 OK" and body == b"body { color: red }\n" and used[0].endswith("site.css")


def test_app_serves_its_static_folder(site, tmp_path):
    app = App(template_folder=None, static_folder=str(site), static_url="/assets")

    @app.route("/")
    def index(request):
        return app.static_url_for("css/site.css")

    @app.errorhandler(404)
    def not_found(request, error):
        return "custom 404"

    client = webtest.TestApp(app)
    assert client.get("/").text == "/assets/css/site.css"
    assert client.get("/assets/css/site.css").text == "body { color: red }\n"
    assert client.get("/assets/../secret.txt", status=404).text == "custom 404"


def test_missing_directory_is_refused_early(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        StaticFiles(tmp_path / "nope")


def test_a_changed_file_is_served_fresh(site):
    """The per-file cache is keyed by the file's identity: an edit gives the new bytes and a new ETag."""
    client = webtest.TestApp(StaticFiles(site))
    target = site / "css" / "site.css"
    first = client.get("/static/css/site.css")
    target.write_text("body { color: blue; margin: 0 }\n", encoding="utf-8")
    second = client.get("/static/css/site.css")
    assert second.text == "body { color: blue; margin: 0 }\n"
    assert second.headers["ETag"] != first.headers["ETag"]
    client.get("/static/css/site.css", headers={"If-None-Match": first.headers["ETag"]}, status=200)
    client.get("/static/css/site.css", headers={"If-None-Match": second.headers["ETag"]}, status=304)
    target.unlink()
    client.get("/static/css/site.css", status=404)
    client.get("/static/css/site.css", headers={"If-None-Match": second.headers["ETag"]}, status=404)


def test_a_cached_file_replaced_by_an_escaping_symlink_is_refused(site, tmp_path):
    """A file served once, then swapped for a symlink to outside the root, is checked again: 404."""
    client = webtest.TestApp(StaticFiles(site))
    target = site / "css" / "site.css"
    etag = client.get("/static/css/site.css").headers["ETag"]
    target.unlink()
    target.symlink_to(tmp_path / "secret.txt")
    client.get("/static/css/site.css", status=404)
    client.get("/static/css/site.css", headers={"If-None-Match": etag}, status=404)
    (site / "css").rename(site / "css-old")
    (site / "css").symlink_to(tmp_path)  # a parent directory swapped too
    (tmp_path / "site.css").write_text("outside", encoding="utf-8")
    client.get("/static/css/site.css", status=404)


def test_a_symlink_pointed_elsewhere_or_removed_after_caching_is_followed_as_it_is_now(site):
    """A deploy that re-points a symlink (``current.css`` -> ``v2.css``) is seen at once, on every path
    (plain GET, revalidation, range), though the old target did not change; a removed symlink is a 404.
    The type comes from the target's name, as on the first request."""
    (site / "v1.css").write_text("v1\n", encoding="utf-8")
    (site / "v2.css").write_text("v2 new\n", encoding="utf-8")
    (site / "current.css").symlink_to("v1.css")
    (site / "latest").symlink_to("v1.css")
    static = StaticFiles(site)
    first = dict(_serve(static, "/static/current.css")[2])
    assert _serve(static, "/static/current.css")[3] == b"v1\n"  # remembered, served from the cache
    assert dict(_serve(static, "/static/latest")[2])["Content-Type"] == "text/css; charset=utf-8"
    for name in ("current.css", "latest"):
        (site / name).unlink()
        (site / name).symlink_to("v2.css")
    # Revalidating with the old target's ETag: the file the URL names now has another one.
    code, _, headers, data = _serve(static, "/static/current.css", HTTP_IF_NONE_MATCH=first["ETag"])
    assert (code, data) == (200, b"v2 new\n") and dict(headers)["ETag"] != first["ETag"]
    assert _serve(static, "/static/latest")[3] == b"v2 new\n"
    assert dict(_serve(static, "/static/latest")[2])["Content-Type"] == "text/css; charset=utf-8"
    (site / "current.css").unlink()
    (site / "current.css").symlink_to("v1.css")
    code, _, _, data = _serve(static, "/static/current.css", HTTP_RANGE="bytes=0-1")
    assert (code, data) == (206, b"v1")
    for environ in ({}, {"HTTP_IF_NONE_MATCH": first["ETag"]}, {"HTTP_RANGE": "bytes=0-1"}):
        (site / "current.css").unlink(missing_ok=True)
        (site / "current.css").symlink_to("v1.css")
        assert _serve(static, "/static/current.css")[3] == b"v1\n"  # remembered again
        (site / "current.css").unlink()
        with pytest.raises(HTTPError) as refused:
            _serve(static, "/static/current.css", **environ)
        assert refused.value.code == 404


def test_an_apps_static_files_carry_its_security_headers(site):
    app = App(template_folder=None, static_folder=str(site), static_url="/assets")
    client = webtest.TestApp(app)
    for response in (client.get("/assets/css/site.css"), client.get("/assets/css/site.css", status=304,
                     headers={"If-None-Match": client.get("/assets/css/site.css").headers["ETag"]})):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    bare = webtest.TestApp(App(template_folder=None, static_folder=str(site), static_url="/assets",
                               security_headers=None))
    assert "X-Content-Type-Options" not in bare.get("/assets/css/site.css").headers


def test_static_security_headers_once_each_hsts_on_https_and_the_files_own_cache_control_kept(site):
    headers = SecurityHeaders(strict_transport_security="max-age=60", extra=(("Cache-Control", "no-store"),))
    app = App(template_folder=None, static_folder=str(site), static_url="/assets", security_headers=headers)
    client = webtest.TestApp(app)
    etag = client.get("/assets/css/site.css").headers["ETag"]
    for scheme in ("http", "https"):
        for _ in range(3):  # the headers of a file are made once: nothing may pile up across requests
            for response in (
                client.get("/assets/css/site.css", extra_environ={"wsgi.url_scheme": scheme}),
                client.get("/assets/css/site.css", headers={"If-None-Match": etag}, status=304,
                           extra_environ={"wsgi.url_scheme": scheme}),
            ):  # fmt: skip
                names = [name.lower() for name, _ in response.headerlist]
                assert names.count("x-frame-options") == 1 and names.count("cache-control") == 1
                assert response.headers["Cache-Control"] == "public, max-age=3600"  # the file's own
                assert ("strict-transport-security" in names) == (scheme == "https")


def test_headers_as_sent_and_last_modified_from_the_file(site, wsgi_call):
    """The exact header list (names as spelt on the wire) of a 200 and a 304, Last-Modified from mtime."""
    target = site / "css" / "site.css"
    os.utime(target, (946782245, 946782245))  # 2000-01-02 03:04:05 UTC
    static = StaticFiles(site, max_age=60)
    status, headers, _ = wsgi_call(static, "/static/css/site.css")
    assert status == "200 OK"
    etag = f'"{target.stat().st_mtime_ns:x}-{target.stat().st_size:x}"'
    assert headers == [
        ("ETag", etag),
        ("Last-Modified", "Sun, 02 Jan 2000 03:04:05 GMT"),
        ("Cache-Control", "public, max-age=60"),
        ("Content-Type", "text/css; charset=utf-8"),
        ("Accept-Ranges", "bytes"),
        ("Content-Length", "20"),
    ]
    for conditional in (
        {"HTTP_IF_NONE_MATCH": etag},
        {"HTTP_IF_MODIFIED_SINCE": "Sun, 02 Jan 2000 03:04:05 GMT"},
    ):
        status, headers, body = wsgi_call(static, "/static/css/site.css", **conditional)
        assert (status, body) == ("304 Not Modified", b"")
        # RFC 9110 §15.4.5: the 200's ETag and Cache-Control; no Last-Modified beside an ETag
        assert headers == [("ETag", etag), ("Cache-Control", "public, max-age=60")]


def test_content_types_of_unknown_and_compressed_files(site):
    (site / "blob.zzqx").write_bytes(b"\x00\x01")
    (site / "logs.tar.gz").write_bytes(b"\x1f\x8b")
    (site / "notes.txt").write_text("plain", encoding="utf-8")
    client = webtest.TestApp(StaticFiles(site))
    assert client.get("/static/blob.zzqx").headers["Content-Type"] == "application/octet-stream"
    # Not "application/x-tar" with Content-Encoding: a browser would unpack it while saving.
    assert client.get("/static/logs.tar.gz").headers["Content-Type"] == "application/octet-stream"
    assert client.get("/static/notes.txt").headers["Content-Type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    "name",
    [
        "back\\slash.txt",  # a separator on Windows
        "c:drive.txt",  # a drive letter on Windows
    ],
)
def test_refused_names_stay_refused_when_such_a_file_exists(site, wsgi_call, name):
    (site / name).write_text("refused by name", encoding="utf-8")
    status, _, body = wsgi_call(StaticFiles(site), "/static/" + name)
    assert status.startswith("404") and b"refused" not in body


@pytest.mark.parametrize("path", ["/static/css//site.css", "/static/css/site.css/", "/static/css/./site.css"])
def test_empty_and_dot_segments_are_refused_though_they_would_resolve(site, wsgi_call, path):
    """Each of these would normalise to css/site.css, which exists: refuse, don't normalise."""
    assert wsgi_call(StaticFiles(site), "/static/css/site.css")[0] == "200 OK"
    status, _, body = wsgi_call(StaticFiles(site), path)
    assert status.startswith("404") and b"color" not in body, path


def test_nul_byte_message(site):
    response = webtest.TestApp(StaticFiles(site)).get("/static/css%00.txt", status=400, expect_errors=True)
    assert "<p>The path contains a NUL byte.</p>" in response.text


def test_revalidating_a_cached_file_with_another_method_is_still_405(site):
    client = webtest.TestApp(StaticFiles(site))
    etag = client.get("/static/css/site.css").headers["ETag"]  # cached now
    response = client.post("/static/css/site.css", headers={"If-None-Match": etag}, status=405)
    assert response.headers["Allow"] == "GET, HEAD"
    head = client.head("/static/css/site.css", headers={"If-None-Match": etag}, status=304)
    assert head.headers["ETag"] == etag


def test_a_bare_environ(site):
    """Only PATH_INFO: the method defaults to GET; no PATH_INFO at all is not ours."""
    static = StaticFiles(site)
    assert not static.handles({})
    assert static.handles({"PATH_INFO": "/static/x"}) and not static.handles({"PATH_INFO": "/staticx"})
    captured = []
    for _ in range(2):  # the second answer comes from the cache
        body = static({"PATH_INFO": "/static/css/site.css"}, lambda status, headers: captured.append(status))
        assert b"".join(body) == b"body { color: red }\n"
        body.close()
    assert captured == ["200 OK", "200 OK"]


def test_response_for_gives_a_response_to_change(site):
    static = StaticFiles(site, max_age=120)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/static/css/site.css"}
    response = static.response_for(environ)
    response.headers["X-Extra"] = "1"
    client = webtest.TestApp(lambda env, start: static.response_for(env)(env, start))
    page = client.get("/static/css/site.css")
    assert page.text == "body { color: red }\n" and page.headers["Cache-Control"] == "public, max-age=120"
    assert page.headers["Content-Type"] == "text/css; charset=utf-8"
    assert response.headers["X-Extra"] == "1" and response.status_code == 200
    assert static.response_for({"PATH_INFO": "/static/css/site.css"}).status_code == 200  # GET by default
    client.get("/static/css/site.css", headers={"If-None-Match": page.headers["ETag"]}, status=304)
    head = client.head("/static/css/site.css")
    assert head.body == b"" and head.headers["Content-Length"] == "20"


@pytest.mark.parametrize(
    ("path", "method", "error"),
    [
        ("/static/../secret.txt", "GET", "NotFound"),
        ("/static/escape", "GET", "NotFound"),
        ("/static/nope.txt", "GET", "NotFound"),
        ("/static/css/site.css", "POST", "MethodNotAllowed"),
        ("/static/css/site.css\x00", "GET", "BadRequest"),
    ],
)
def test_response_for_raises_what_serve_would_answer(site, path, method, error):
    with pytest.raises(HTTPError) as raised:
        StaticFiles(site).response_for({"REQUEST_METHOD": method, "PATH_INFO": path})
    assert type(raised.value).__name__ == error
    if error == "MethodNotAllowed":
        assert raised.value.allowed == ["GET", "HEAD"]


def _serve(static, path, **environ):
    """``StaticFiles.serve`` on a bare environ: (returned code, status line, headers, body bytes)."""
    started = {}
    code, body = static.serve(
        {"REQUEST_METHOD": "GET", "PATH_INFO": path, **environ},
        lambda status, headers: started.update(status=status, headers=headers),
    )
    try:
        data = b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()
    return code, started["status"], started["headers"], data


def test_serve_returns_the_code_it_started(site):
    """The code is what the app's request log records: the same as the status line, on every path."""
    static = StaticFiles(site)
    code, status, _, data = _serve(static, "/static/css/site.css")
    assert (code, status, data) == (200, "200 OK", b"body { color: red }\n")
    etag = dict(_serve(static, "/static/css/site.css")[2])["ETag"]
    cold = StaticFiles(site)  # nothing cached: the full path answers the conditional request
    for each in (static, cold):
        assert _serve(each, "/static/css/site.css", HTTP_IF_NONE_MATCH=etag)[:2] == (304, "304 Not Modified")
    code, status, headers, data = _serve(static, "/static/css/site.css", HTTP_RANGE="bytes=0-3")
    assert (code, status, data) == (206, "206 Partial Content", b"body")
    assert headers[-2:] == [("Content-Range", "bytes 0-3/20"), ("Content-Length", "4")]
    # Range is defined for GET only (RFC 9110 §14.2): a HEAD gets the whole file's headers, no body.
    code, status, headers, data = _serve(
        static, "/static/css/site.css", REQUEST_METHOD="HEAD", HTTP_RANGE="bytes=0-3"
    )
    assert (code, status, data) == (200, "200 OK", b"") and ("Content-Length", "20") in headers
    assert _serve(static, "/static/css/site.css", REQUEST_METHOD="HEAD")[:2] == (200, "200 OK")


def test_if_modified_since_alone_on_a_cold_cache(site):
    target = site / "css" / "site.css"
    os.utime(target, (946782245, 946782245))
    since = "Sun, 02 Jan 2000 03:04:05 GMT"
    code, _, headers, _ = _serve(StaticFiles(site), "/static/css/site.css", HTTP_IF_MODIFIED_SINCE=since)
    assert code == 304
    assert [name for name, _ in headers] == ["ETag", "Cache-Control"]  # no Last-Modified beside the ETag
    assert headers[1] == ("Cache-Control", "public, max-age=3600")
    earlier = "Sun, 02 Jan 2000 03:04:04 GMT"
    assert _serve(StaticFiles(site), "/static/css/site.css", HTTP_IF_MODIFIED_SINCE=earlier)[0] == 200


def test_revalidation_sees_a_file_changed_or_removed_since_it_was_cached(site):
    """The first request after the change is the conditional one: the cached validators must not answer."""
    client = webtest.TestApp(StaticFiles(site))
    target = site / "css" / "site.css"
    old = client.get("/static/css/site.css").headers["ETag"]
    target.write_text("body { color: blue; margin: 0 }\n", encoding="utf-8")
    fresh = client.get("/static/css/site.css", headers={"If-None-Match": old}, status=200)
    assert fresh.text == "body { color: blue; margin: 0 }\n"
    target.unlink()
    client.get("/static/css/site.css", headers={"If-None-Match": fresh.headers["ETag"]}, status=404)


@pytest.mark.parametrize(
    ("prefix", "url"),
    [
        ("", "/css/site.css"),
        ("/", "/css/site.css"),
        ("X/", "/X/css/site.css"),
        ("/X-Files/", "/X-Files/css/site.css"),
    ],
)
def test_prefixes(site, prefix, url):
    static = StaticFiles(site, prefix=prefix)
    assert webtest.TestApp(static).get(url).text == "body { color: red }\n"
    assert static.handles({"PATH_INFO": url})


def test_default_max_age_is_an_hour(site):
    response = webtest.TestApp(StaticFiles(site)).get("/static/css/site.css")
    assert response.headers["Cache-Control"] == "public, max-age=3600"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_revalidation_of_a_cached_file_costs_a_stat_not_an_open(site):
    """The documented hot path: a 304 for a file served before is one stat; only a 200 opens it."""
    static = StaticFiles(site)
    path = "/static/css/site.css"
    headers = dict(_serve(static, path)[2])  # served once: remembered
    watch = OpenWatch(site / "css" / "site.css")
    try:
        for conditional in (
            {"HTTP_IF_NONE_MATCH": headers["ETag"]},
            {"HTTP_IF_MODIFIED_SINCE": headers["Last-Modified"]},
            {"HTTP_IF_NONE_MATCH": headers["ETag"], "REQUEST_METHOD": "HEAD"},
        ):
            assert _serve(static, path, **conditional)[0] == 304, conditional
        assert watch.count() == 0
        assert _serve(static, path)[0] == 200
        assert watch.count() == 1
    finally:
        watch.close()


def test_a_file_changed_in_place_with_the_same_size_is_served_fresh_from_the_cache(site):
    """Same size, new bytes and mtime: the fast 200 path (cached file) and the 304 path see the change."""
    static = StaticFiles(site)
    path = "/static/css/site.css"
    target = site / "css" / "site.css"
    os.utime(target, (946782245, 946782245))
    first = _serve(static, path)
    assert first[3] == b"body { color: red }\n"
    target.write_bytes(b"body { color: tan }\n")  # 20 bytes, as before
    os.utime(target, (946782300, 946782300))
    second = _serve(static, path)
    assert second[3] == b"body { color: tan }\n"
    old_etag, new_etag = dict(first[2])["ETag"], dict(second[2])["ETag"]
    assert new_etag != old_etag and new_etag == f'"{target.stat().st_mtime_ns:x}-14"'
    assert dict(second[2])["Last-Modified"] == "Sun, 02 Jan 2000 03:05:00 GMT"
    assert _serve(static, path, HTTP_IF_NONE_MATCH=old_etag)[:2] == (200, "200 OK")
    assert _serve(static, path, HTTP_IF_NONE_MATCH=new_etag)[:2] == (304, "304 Not Modified")


@pytest.mark.parametrize("entries", [-1, 1.5, "9"])
def test_cache_entries_must_be_a_count(site, entries):
    with pytest.raises(ValueError, match="cache_entries"):
        StaticFiles(site, cache_entries=entries)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
@pytest.mark.parametrize(("entries", "opens"), [(0, 1), (1, 1), (2, 0)])
def test_the_cache_holds_at_most_cache_entries_files(site, entries, opens):
    """Two files served; then a's revalidation opens it again unless a is still remembered."""
    (site / "b.txt").write_text("b", encoding="utf-8")
    static = StaticFiles(site, cache_entries=entries)
    etag = dict(_serve(static, "/static/css/site.css")[2])["ETag"]
    assert _serve(static, "/static/b.txt")[3] == b"b"
    watch = OpenWatch(site / "css" / "site.css")
    try:
        assert _serve(static, "/static/css/site.css", HTTP_IF_NONE_MATCH=etag)[0] == 304
        assert watch.count() == opens
    finally:
        watch.close()


def test_a_head_with_range_gets_the_200_headers_cached_or_not(site):
    """RFC 9110 §14.2: GET is the only method with range semantics; a server MUST ignore Range on any
    other, HEAD included. So a HEAD with Range answers the headers of the whole file's 200, no body."""
    for static in (StaticFiles(site), StaticFiles(site, cache_entries=0)):
        for _ in range(2):  # the second time from the cache, if any
            code, status, headers, data = _serve(
                static, "/static/css/site.css", REQUEST_METHOD="HEAD", HTTP_RANGE="bytes=0-3"
            )
            assert (code, status, data) == (200, "200 OK", b"")
            assert dict(headers)["Content-Length"] == "20" and "Content-Range" not in dict(headers)


def test_the_open_file_reads_whole_blocks_across_short_reads(tmp_path, monkeypatch):
    """``read(n)`` returns n bytes unless the file ends first, however few bytes each read(2) gives."""
    from miniweb import static as static_module

    (tmp_path / "f.bin").write_bytes(bytes(range(50)))
    real_read = os.read
    monkeypatch.setattr(static_module.os, "read", lambda fd, n: real_read(fd, min(n, 3)))
    file, st = open_file(str(tmp_path / "f.bin"))
    try:
        assert st.st_size == 50 and file.name == str(tmp_path / "f.bin") and not file.closed
        assert file.read(10) == bytes(range(10)) and file.tell() == 10
        assert file.read(0) == b""
        assert file.seek(45) == 45 and file.read(10) == bytes(range(45, 50))
        assert file.read(10) == b""
        file.seek(40)
        assert file.read() == bytes(range(40, 50)) and file.read(None) == b""
    finally:
        file.close()
    assert file.closed
    with pytest.raises(ValueError, match=r"^I/O operation on closed file$"):
        file.fileno()
    file.close()  # twice: nothing happens (the descriptor number may belong to another file by now)


def test_opening_closes_the_descriptor_when_fstat_fails(tmp_path, monkeypatch):
    from miniweb import static as static_module

    (tmp_path / "f.bin").write_bytes(b"x")
    before = sorted(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None

    def fail(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(static_module.os, "fstat", fail)
    with pytest.raises(OSError, match="Input/output"):
        open_file(str(tmp_path / "f.bin"))
    monkeypatch.undo()
    if before is not None:
        assert sorted(os.listdir("/proc/self/fd")) == before


def test_an_open_file_a_server_never_closed_is_closed_when_collected(tmp_path):
    (tmp_path / "f.bin").write_bytes(b"x")

    file, _ = open_file(str(tmp_path / "f.bin"))
    fd = file.fileno()
    del file
    with pytest.raises(OSError):
        os.fstat(fd)  # closed (CPython frees it at once: reference counting)


def test_a_large_file_through_the_fallback_iterator_in_whole_blocks(site, wsgi_call):
    """No wsgi.file_wrapper: the body is the file in 64 KiB blocks (the last one shorter)."""
    data = bytes(i % 253 for i in range(150_000))
    (site / "big.bin").write_bytes(data)
    static = StaticFiles(site)
    for _ in range(2):  # the second time from the cache
        code, _, headers, body = _serve(static, "/static/big.bin")
        assert code == 200 and body == data and dict(headers)["Content-Length"] == "150000"
        chunks = static.serve({"PATH_INFO": "/static/big.bin"}, lambda status, headers: None)[1]
        try:
            assert [len(chunk) for chunk in chunks] == [65536, 65536, 150_000 - 2 * 65536]
        finally:
            chunks.close()


_NOBODY = 65534  # the unprivileged uid/gid the permission tests drop to (Debian's and Fedora's "nobody")


def _as_unprivileged(task):
    """``task()`` (returning JSON-able data) run where a chmod-000 file is really unreadable.

    Root reads every file, so as root it runs in a forked child that first drops to nobody (setgid, then
    setuid); as anyone else, here. Skipped if the drop fails.
    """
    return _in_child(task, drop_privileges=True) if os.geteuid() == 0 else task()


def _in_child(task, drop_privileges=False):
    """``task()`` (returning JSON-able data) in a forked child, its result sent back over a pipe."""
    import json

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 0
        try:
            os.close(read_end)
            try:
                if drop_privileges:
                    os.setgroups([])
                    os.setgid(_NOBODY)
                    os.setuid(_NOBODY)
            except PermissionError as exc:
                result = {"skip": f"cannot drop privileges: {exc}"}
            else:
                try:
                    result = {"result": task()}
                except BaseException as exc:  # reported to the parent, which fails the test with it
                    result = {"error": repr(exc)}
            with os.fdopen(write_end, "w") as out:
                json.dump(result, out)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as received:
        text = received.read()  # EOF when the child exits: a bounded wait
    _, status = os.waitpid(pid, 0)
    assert status == 0 and text, f"the child failed (wait status {status})"
    found = json.loads(text)
    if "skip" in found:
        pytest.skip(found["skip"])
    assert "error" not in found, found.get("error")
    return found["result"]


def _a_directory_others_can_enter():
    """A temporary directory whose every ancestor other users may enter (``$TMPDIR`` may be private:
    pytest's and scripts/mutate.py's are), for files nobody must reach."""
    import stat
    import tempfile

    for candidate in (tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"):
        path = Path(candidate).resolve()
        try:
            if all(os.stat(p).st_mode & stat.S_IXOTH for p in (path, *path.parents)) and path.is_dir():
                return str(path)
        except OSError:
            continue
    pytest.skip("no temporary directory other users can enter")


@pytest.fixture
def open_site():
    """A static directory nobody can reach (pytest's tmp_path is private to root), owned by nobody."""
    import shutil
    import tempfile

    top = tempfile.mkdtemp(prefix="miniweb-static-", dir=_a_directory_others_can_enter())
    try:
        os.chmod(top, 0o755)
        root = os.path.join(top, "static")
        os.mkdir(root)
        with open(os.path.join(root, "plain.txt"), "w", encoding="utf-8") as f:
            f.write("readable")
        with open(os.path.join(root, "locked.txt"), "w", encoding="utf-8") as f:
            f.write("TOP SECRET")
        os.chmod(os.path.join(root, "locked.txt"), 0)
        if os.geteuid() == 0:
            for name in ("", "plain.txt", "locked.txt"):
                os.chown(os.path.join(root, name), _NOBODY, _NOBODY)
        yield root
    finally:
        shutil.rmtree(top)


def _warnings_while(run):
    """(run(), the ``miniweb.static`` warnings logged meanwhile as (level, message))."""
    import logging

    records = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    logger = logging.getLogger("miniweb.static")
    logger.addHandler(handler)
    try:
        result = run()
    finally:
        logger.removeHandler(handler)
    return result, [(r.levelname, r.getMessage()) for r in records]


def _readable_here(root, wsgi_call):
    """The same site served as the test runner (``serve`` and ``response_for``): a readable file is 200.

    Also what makes mutmut, which records the functions each test calls in its own process (the
    unprivileged child's calls are not seen), run these tests against the mutants of those functions."""
    static = StaticFiles(root)
    assert _serve(static, "/static/plain.txt")[:2] == (200, "200 OK")
    status, _, body = wsgi_call(lambda env, start: static.response_for(env)(env, start), "/static/plain.txt")
    assert (status, body) == ("200 OK", b"readable")


def test_an_unreadable_file_is_a_404_with_a_warning(open_site, wsgi_call):
    """chmod 000: not served (404, no byte of it), and the log says which file and why."""
    _readable_here(open_site, wsgi_call)

    def task():
        static = StaticFiles(open_site)
        locked = os.path.join(os.path.realpath(open_site), "locked.txt")
        code = None

        def first():
            nonlocal code
            try:
                static.serve({"PATH_INFO": "/static/locked.txt"}, lambda status, headers: None)
            except HTTPError as error:
                code = error.code
            return webtest.TestApp(static).get("/static/locked.txt", status=404).text

        body, logged = _warnings_while(first)
        environ = {"PATH_INFO": "/static/locked.txt"}
        code_too, logged_too = _warnings_while(lambda: _raises(static.response_for, environ))
        return {"code": code, "secret": "SECRET" in body, "logged": logged, "response_for": code_too,
                "logged_too": logged_too, "locked": locked}  # fmt: skip

    found = _as_unprivileged(task)
    message = f"static file {found['locked']} is not readable"
    assert found["code"] == 404 and not found["secret"]
    assert [tuple(item) for item in found["logged"]] == [("WARNING", message)] * 2
    assert found["response_for"] == 404
    assert [tuple(item) for item in found["logged_too"]] == [("WARNING", message)]


def _raises(call, *args):
    try:
        call(*args)
    except HTTPError as error:
        return error.code
    raise AssertionError("no HTTPError raised")


def test_a_cached_file_made_unreadable_is_a_404_with_a_warning(open_site, wsgi_call):
    """Served once (remembered), then chmod 000 by its owner: the next GET finds out, 404 and the warning."""
    _readable_here(open_site, wsgi_call)

    def task():
        static = StaticFiles(open_site)
        client = webtest.TestApp(static)
        first = client.get("/static/plain.txt").text
        os.chmod(os.path.join(open_site, "plain.txt"), 0)
        response, logged = _warnings_while(lambda: client.get("/static/plain.txt", status=404))
        return {"first": first, "second": response.text, "logged": logged}

    found = _as_unprivileged(task)
    assert found["first"] == "readable" and "readable" not in found["second"]
    path = os.path.join(os.path.realpath(open_site), "plain.txt")
    assert [tuple(item) for item in found["logged"]] == [("WARNING", f"static file {path} is not readable")]


def test_an_open_file_may_be_descriptor_0(tmp_path):
    """A server started with stdin closed gets descriptor 0 for the first file it opens: a file like any
    other (read, closed), not one taken for closed. In a child: pytest-xdist talks over this process's."""

    (tmp_path / "f.bin").write_bytes(b"zero")

    def task():
        os.close(0)
        file, _ = open_file(str(tmp_path / "f.bin"))
        found = {"fd": file.fileno(), "closed": file.closed, "data": file.read().decode()}
        file.close()
        try:
            os.fstat(0)
        except OSError:
            found["closed after"] = True
        return found

    assert _in_child(task) == {"fd": 0, "closed": False, "data": "zero", "closed after": True}
    # The same calls in this process too, on an ordinary descriptor: mutmut picks the tests of a mutant
    # by the functions they call in the test's own process, so without these the child's checks above
    # would never be run against a mutated fileno or close.
    file, _ = open_file(str(tmp_path / "f.bin"))
    assert os.fstat(file.fileno()).st_size == 4 and not file.closed
    file.close()
    assert file.closed
    with pytest.raises(ValueError, match="^I/O operation on closed file$"):
        file.fileno()


def test_a_changed_file_dropped_from_the_cache_by_another_request_meanwhile(site, monkeypatch):
    """Threads share the cache: while one request finds a cached file changed, another may have dropped
    its entry already. The first goes on (checks the file again), it does not fail on the missing entry."""
    from miniweb import static as static_module

    static = StaticFiles(site)
    path = "/static/css/site.css"
    assert _serve(static, path)[0] == 200  # remembered
    (site / "css" / "site.css").write_text("body { color: blue; margin: 0 }\n", encoding="utf-8")
    real_open = os.open

    def open_after_another_thread(name, flags, *args):
        static._files.pop(path, None)  # what the other request did in the meantime
        return real_open(name, flags, *args)

    monkeypatch.setattr(static_module.os, "open", open_after_another_thread)
    assert _serve(static, path)[3] == b"body { color: blue; margin: 0 }\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_remembered_file_replaced_by_a_fifo_is_a_404_without_waiting_for_a_writer(site):
    """Opening a FIFO for reading waits for a writer, unless non-blocking: the request must not hang."""
    import threading

    static = StaticFiles(site)
    path = "/static/css/site.css"
    etag = dict(_serve(static, path)[2])["ETag"]  # remembered
    target = site / "css" / "site.css"
    target.unlink()
    os.mkfifo(target)
    found = []

    def requests():
        for conditional in ({}, {"HTTP_IF_NONE_MATCH": etag}):
            try:
                _serve(static, path, **conditional)
            except HTTPError as error:
                found.append(error.code)

    worker = threading.Thread(target=requests, daemon=True)
    worker.start()
    worker.join(timeout=30)  # a bound, not a timing: the answer needs no wait at all
    if worker.is_alive():  # stuck in open(): give it a writer so that the thread ends
        os.close(os.open(target, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=30)
    assert found == [404, 404]


def test_ranges_and_whole_files_survive_short_reads_without_a_file_wrapper(site, monkeypatch):
    """Under a server without wsgi.file_wrapper the body is read: every block whole, however few bytes
    each read(2) returns (FileSlice reads the part through OpenFile.read)."""
    from miniweb import static as static_module

    data = bytes(i % 241 for i in range(70_000))
    (site / "big.bin").write_bytes(data)
    real_read = os.read
    monkeypatch.setattr(static_module.os, "read", lambda fd, n: real_read(fd, min(n, 1000)))
    static = StaticFiles(site)
    code, _, headers, body = _serve(static, "/static/big.bin", HTTP_RANGE="bytes=100-69999")
    assert code == 206 and body == data[100:] and dict(headers)["Content-Length"] == "69900"
    chunks = static.serve({"PATH_INFO": "/static/big.bin"}, lambda status, headers: None)[1]
    try:
        assert [len(chunk) for chunk in chunks] == [65536, 70_000 - 65536]
    finally:
        chunks.close()


def test_max_age_none_sends_no_cache_control(site, wsgi_call):
    """``max_age=None``: no Cache-Control on the 200 nor on the 304 (the validators alone)."""
    static = StaticFiles(site, max_age=None)
    status, headers, _ = wsgi_call(static, "/static/css/site.css")
    assert status == "200 OK" and "Cache-Control" not in dict(headers)
    etag = dict(headers)["ETag"]
    status, headers, _ = wsgi_call(static, "/static/css/site.css", HTTP_IF_NONE_MATCH=etag)
    assert (status, headers) == ("304 Not Modified", [("ETag", etag)])


def test_if_none_match_decides_over_our_own_last_modified_on_a_warm_cache(site):
    """RFC 9110 §13.2.2: with If-None-Match present, If-Modified-Since is ignored, also when it is our own
    Last-Modified byte for byte (the warm path answers that one without parsing it)."""
    client = webtest.TestApp(StaticFiles(site))
    first = client.get("/static/css/site.css")
    ours = first.headers["Last-Modified"]
    client.get("/static/css/site.css", headers={"If-Modified-Since": ours}, status=304)
    both = {"If-None-Match": '"other"', "If-Modified-Since": ours}
    assert client.get("/static/css/site.css", headers=both, status=200).body == first.body
    later = ours.replace("GMT", "+0000")  # the same instant, spelt otherwise: parsed, still not modified
    client.get("/static/css/site.css", headers={"If-Modified-Since": later}, status=304)
    earlier = "Sat, 01 Jan 2000 00:00:00 GMT"  # before the file's mtime: modified since, the whole file
    modified = client.get("/static/css/site.css", headers={"If-Modified-Since": earlier}, status=200)
    assert modified.body == first.body
