"""Development mode: templates reload when edited, and the debug error page (never without debug)."""

from __future__ import annotations

import os

import pytest
import webtest

from miniweb import App
from miniweb.debug_page import render_debug_page
from miniweb.errors import InternalServerError
from miniweb.messages import Messages


def _template_app(folder, debug):
    app = App(template_folder=str(folder), debug=debug)

    @app.route("/")
    def index(request):
        return app.render(request, "page.html", name="Zoë")

    return app


def _edit(path, text):
    """Rewrite the template and push its mtime forward, so the change shows whatever the clock's grain."""
    before = os.stat(path).st_mtime
    path.write_text(text, encoding="utf-8")
    os.utime(path, (before + 10, before + 10))


@pytest.mark.parametrize("debug", [True, False])
def test_template_edits_show_only_in_debug_mode(tmp_path, debug):
    page = tmp_path / "page.html"
    page.write_text("old {{ name }}", encoding="utf-8")
    client = webtest.TestApp(_template_app(tmp_path, debug))
    assert client.get("/").text == "old Zoë"
    _edit(page, "new {{ name }}")
    assert client.get("/").text == ("new Zoë" if debug else "old Zoë")


def _failing_app(debug):
    app = App(template_folder=None, debug=debug)

    def load_area(code):
        api_key = "sk-live-" + "hunter" + "2"  # noqa: F841 - a local (the source shows only its recipe)
        raise LookupError(f"no area <{code}>")

    @app.route("/areas/(?P<code>[^/]+)")
    def area(request, code):
        return load_area(code)

    @app.route("/chained")
    def chained(request):
        try:
            {}["missing-key"]
        except KeyError as exc:
            raise ValueError("bad input") from exc

    return app


def test_debug_page_shows_each_frame_with_its_source():
    response = webtest.TestApp(_failing_app(True)).get("/areas/<i>x", status=500)
    assert response.content_type == "text/html"
    text = response.text
    # Each frame: file, line, function; the failing line's source, marked, with its neighbours.
    assert f"{__file__}, line " in text and "in area</div>" in text and "in load_area</div>" in text
    assert '<tr class="here"><td class="no">' in text
    assert "raise LookupError(f&quot;no area &lt;{code}&gt;&quot;)" in text
    assert "def load_area(code):" in text  # a line of context before the failing one
    # The exception line, escaped: the URL's markup never becomes markup.
    assert "<strong>LookupError: no area &lt;&lt;i&gt;x&gt;</strong>" in text
    assert "<i>x" not in text
    assert "hunter2" not in text  # locals are off by default


def test_debug_page_shows_chained_exceptions_oldest_first():
    text = webtest.TestApp(_failing_app(True)).get("/chained", status=500).text
    first, cause_link, last = (
        text.index("KeyError: &#x27;missing-key&#x27;"),
        text.index("The above exception was the direct cause of the following exception:"),
        text.index("ValueError: bad input"),
    )
    assert first < cause_link < last


def test_debug_page_locals_only_when_asked():
    try:
        password = "hunter" + "2 <tag>"  # noqa: F841 - the local the page shows
        raise RuntimeError("x")
    except RuntimeError as exc:
        error = exc
    messages = Messages(None)
    without = render_debug_page(InternalServerError(), error, messages)
    with_locals = render_debug_page(InternalServerError(), error, messages, with_locals=True)
    assert "hunter2" not in without
    assert "<td>password</td><td>&#x27;hunter2 &lt;tag&gt;&#x27;</td>" in with_locals


def test_debug_page_survives_a_broken_repr():
    class Broken:
        def __repr__(self):
            raise RuntimeError("no repr")

    try:
        value = Broken()  # noqa: F841
        raise RuntimeError("x")
    except RuntimeError as exc:
        page = render_debug_page(InternalServerError(), exc, Messages(None), with_locals=True)
    assert "<td>value</td><td>&lt;Broken instance at 0x" in page


def test_without_debug_the_500_page_leaks_nothing():
    response = webtest.TestApp(_failing_app(False)).get("/areas/x", status=500)
    text = response.text
    for leak in ("Traceback", "LookupError", "no area", "load_area", __file__, "hunter2"):
        assert leak not in text
    assert "<h1>500 " in text


def test_json_clients_never_get_the_traceback_even_in_debug_mode():
    client = webtest.TestApp(_failing_app(True))
    response = client.get("/areas/x", headers={"Accept": "application/json"}, status=500)
    assert response.content_type == "application/json"
    assert response.json["error"]["code"] == 500
    assert "LookupError" not in response.text and "load_area" not in response.text
