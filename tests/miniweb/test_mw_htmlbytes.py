"""Pages rendered to bytes with HtmlBytes parts spliced in (miniweb/htmlbytes.py) equal the plain render."""

from __future__ import annotations

import jinja2
import pytest
import webtest
from markupsafe import Markup

from miniweb import App, HtmlBytes
from miniweb.htmlbytes import _PREFIX, render_bytes

TEMPLATES = {
    "page.html": "<h1>{{ title }}</h1>{{ big }}<p>{{ note }}</p>{% if empty %}EMPTY{% endif %}"
                 "{% if big %}<i>有</i>{% endif %}{{ empty }}|{{ big }}|{{ small }}{{ nested.part }}",
    "plain.html": "<p>{{ note }}</p>",
}  # fmt: skip


@pytest.fixture
def env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.DictLoader(TEMPLATES), autoescape=True)


def _context(**extra) -> dict:
    svg = "<svg>" + "<path d='M0 0L1 1'/>" * 500 + "</svg>"
    return {"title": "深圳 <市>", "big": HtmlBytes(b"<b>", svg.encode(), "<i>福田</i>".encode()),
            "note": '"quoted" & <tag>', "empty": HtmlBytes(b"", b""),
            "small": HtmlBytes.of(Markup("<br>南山")),
            "nested": {"part": HtmlBytes(b"<hr>")}, **extra}  # fmt: skip


def test_render_bytes_is_the_plain_render_encoded(env) -> None:
    template = env.get_template("page.html")
    plain = template.render(_context()).encode("utf-8")
    assert render_bytes(template, _context()) == plain
    assert plain.count(b"<path") == 1000 and b"EMPTY" not in plain and "<i>有</i>".encode() in plain
    assert render_bytes(env.get_template("plain.html"), {"note": "<深圳>"}) == "<p>&lt;深圳&gt;</p>".encode()


FORGED = [_PREFIX + "9;", _PREFIX + "0", _PREFIX[:-2] + "x:0;", "\x00" + "0" * 16 + ":0;"]


@pytest.mark.parametrize("forged", FORGED, ids=["unknown-index", "no-end", "other-token", "zero-token"])
def test_text_that_looks_like_a_marker_stays_text(env, forged) -> None:
    template = env.get_template("page.html")
    context = _context(note=f"a{forged}b", title=forged)
    plain = template.render(context).encode()
    assert render_bytes(template, _context(note=f"a{forged}b", title=forged)) == plain


def test_html_bytes() -> None:
    part = HtmlBytes("<b>地图</b>".encode(), b"<svg/>")
    assert part.__html__() == "<b>地图</b><svg/>" and str(Markup(part)) == "<b>地图</b><svg/>"
    assert part == HtmlBytes.of("<b>地图</b><svg/>") and hash(part) == hash(HtmlBytes.of("<b>地图</b><svg/>"))
    assert part != HtmlBytes(b"<b>") and bool(part) and not HtmlBytes() and not HtmlBytes(b"")
    assert repr(part) == "HtmlBytes(19 bytes in 2 chunks)"


def test_app_render_splices_the_parts(tmp_path) -> None:
    page = TEMPLATES["page.html"] + "{{ csrf_token | length > 0 }}"
    (tmp_path / "page.html").write_text(page, encoding="utf-8")
    app = App(template_folder=str(tmp_path), secret_key="test-secret")
    seen = []

    @app.route("/")
    def page(request):
        seen.append(request)
        return app.render(request, "page.html", **_context())

    body = webtest.TestApp(app).get("/").body
    plain = app.jinja_env.get_template("page.html").render(_context(request=seen[0]), csrf_token="x")
    assert body == plain.encode("utf-8") and body.endswith(b"True")
