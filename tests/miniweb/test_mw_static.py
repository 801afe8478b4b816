"""StaticFiles: serving, caching headers, 304, HEAD, file_wrapper, and the traversal guard."""

from __future__ import annotations

import os

import pytest
import webtest

from miniweb import App, SecurityHeaders, StaticFiles


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
