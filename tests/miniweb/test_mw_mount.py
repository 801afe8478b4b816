"""An app mounted under a prefix (SCRIPT_NAME): url_for, static URLs and redirects stay inside it."""

from __future__ import annotations

import threading
from urllib.parse import quote

import pytest
import webtest
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from miniweb import App, BuildError, redirect

PAGE = """<a id="link" href="{{ url_for('area', 440300, tab='地图') }}">x</a>
<link id="css" href="{{ static_url('site.css') }}">
"""


def _wsgi_str(text: str) -> str:
    """``text`` as PEP 3333 carries it in SCRIPT_NAME/PATH_INFO: its UTF-8 bytes as latin-1."""
    return text.encode("utf-8").decode("latin-1")


@pytest.fixture
def app(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text(PAGE, encoding="utf-8")
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "site.css").write_text("body {}", encoding="utf-8")
    app = App(root_path=str(tmp_path), static_folder="static")

    @app.route(r"/areas/(\d+)", name="area")
    def area(request, district_id):
        return app.url_for("area", district_id, tab=request.args.get("tab"))

    @app.route("/go")
    def go(request):
        return redirect(app.url_for("area", 110000))

    @app.route("/asset")
    def asset(request):
        return app.static_url_for("site.css")

    @app.route("/page")
    def page(request):
        return app.render(request, "page.html")

    @app.route("/bad")
    def bad(request):
        try:
            app.url_for("area", "not-digits")
        except BuildError:
            return "BuildError"
        return "built"

    @app.route("/boom")
    def boom(request):
        raise RuntimeError("handler failed after url_for " + app.url_for("area", 1))

    return app


def test_url_for_in_a_request_starts_with_script_name(app):
    client = webtest.TestApp(app, extra_environ={"SCRIPT_NAME": "/demo"})
    assert client.get("/areas/7").text == "/demo/areas/7"
    assert client.get("/areas/7?tab=%E5%9C%B0%E5%9B%BE").text == "/demo/areas/7?tab=%E5%9C%B0%E5%9B%BE"


def test_redirect_location_under_script_name(app):
    client = webtest.TestApp(app, extra_environ={"SCRIPT_NAME": "/demo"})
    assert client.get("/go", status=303).headers["Location"] == "/demo/areas/110000"


def test_static_url_under_script_name(app):
    client = webtest.TestApp(app, extra_environ={"SCRIPT_NAME": "/demo"})
    assert client.get("/asset").text == "/demo/static/site.css"


def test_template_under_script_name(app):
    response = webtest.TestApp(app, extra_environ={"SCRIPT_NAME": "/demo"}).get("/page")
    assert response.html.find(id="link")["href"] == "/demo/areas/440300?tab=%E5%9C%B0%E5%9B%BE"
    assert response.html.find(id="css")["href"] == "/demo/static/site.css"


def test_route_check_still_applies_under_script_name(app):
    # The built path is checked against the route without the prefix: bad values are still refused.
    assert webtest.TestApp(app, extra_environ={"SCRIPT_NAME": "/demo"}).get("/bad").text == "BuildError"


def test_no_prefix_outside_a_request(app):
    assert app.url_for("area", 7) == "/areas/7"
    assert app.static_url_for("site.css") == "/static/site.css"
    webtest.TestApp(app, extra_environ={"SCRIPT_NAME": "/demo"}).get("/areas/7")
    assert app.url_for("area", 7) == "/areas/7"  # nothing left behind by the request


def test_no_prefix_leaks_into_the_next_request(app):
    mounted = webtest.TestApp(app, extra_environ={"SCRIPT_NAME": "/demo"})
    at_root = webtest.TestApp(app)
    assert mounted.get("/areas/7").text == "/demo/areas/7"
    assert at_root.get("/areas/7").text == "/areas/7"
    mounted.get("/boom", status=500)  # a request that fails resets the mount point too
    assert at_root.get("/areas/7").text == "/areas/7"
    assert at_root.get("/page").html.find(id="css")["href"] == "/static/site.css"


@pytest.mark.parametrize(
    ("script_name", "prefix"),
    [
        (_wsgi_str("/démo"), "/d%C3%A9mo"),
        (_wsgi_str("/中文/应用"), "/%E4%B8%AD%E6%96%87/%E5%BA%94%E7%94%A8"),
        ("/50% off", "/50%25%20off"),  # decoded text: a "%" is a literal percent sign
        ("/demo/", "/demo"),  # no "//" when a dispatcher leaves the trailing slash
    ],
)
def test_prefix_is_percent_encoded(app, script_name, prefix):
    client = webtest.TestApp(app, extra_environ={"SCRIPT_NAME": script_name})
    assert client.get("/areas/7").text == prefix + "/areas/7"
    assert client.get("/go", status=303).headers["Location"] == prefix + "/areas/110000"
    assert client.get("/page").html.find(id="css")["href"] == prefix + "/static/site.css"


@pytest.mark.parametrize("mount", ["/demo", "/démo", "/中文"])
def test_links_built_under_a_dispatcher_lead_back_to_the_app(app, mount):
    # werkzeug's dispatcher moves the mount point from PATH_INFO to SCRIPT_NAME, as PEP 3333 says.
    client = webtest.TestApp(DispatcherMiddleware(App(template_folder=None), {_wsgi_str(mount): app}))
    prefix = quote(mount)
    link = client.get(prefix + "/areas/7").text
    assert link == prefix + "/areas/7"
    assert client.get(link).text == link  # following the link reaches the same page of the same app
    location = client.get(prefix + "/go", status=303).headers["Location"]
    assert client.get(location).text == prefix + "/areas/110000"
    css = client.get(prefix + "/page").html.find(id="css")["href"]
    assert client.get(css).text == "body {}"


def test_each_thread_sees_its_own_request(app):
    barrier = threading.Barrier(2, timeout=10)

    @app.route("/together")
    def together(request):
        barrier.wait()  # both requests are in flight at once
        return app.url_for("area", 1)

    results = {}

    def fetch(script_name):
        results[script_name] = webtest.TestApp(app, extra_environ={"SCRIPT_NAME": script_name}).get(
            "/together"
        )

    threads = [threading.Thread(target=fetch, args=(name,)) for name in ("/a", "/b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {name: response.text for name, response in results.items()} == {
        "/a": "/a/areas/1",
        "/b": "/b/areas/1",
    }


def test_another_apps_url_for_has_no_prefix(app):
    other = App(template_folder=None)
    other.add_route("/elsewhere", lambda request: "", name="elsewhere")

    @app.route("/other")
    def other_link(request):
        return other.url_for("elsewhere")  # this request's SCRIPT_NAME is not the other app's mount point

    assert webtest.TestApp(app, extra_environ={"SCRIPT_NAME": "/demo"}).get("/other").text == "/elsewhere"
