"""miniweb's templates escape their output with templating._escape, which must give exactly what
markupsafe.escape gives, for every value, in every place a template puts one."""

from __future__ import annotations

import jinja2
import markupsafe
import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from miniweb import HtmlBytes
from miniweb.htmlbytes import render_bytes
from miniweb.templating import _escape, create_environment

pytestmark = pytest.mark.skipif(markupsafe.__dict__.get("_escape_inner") is None,
                                reason="markupsafe < 3.0: Jinja2's escape is kept")


class _Html:
    def __html__(self) -> str:
        return "<i>自己的</i>"


class _Text(str):  # a str subclass that is not Markup: escaped as text
    pass


class _Named:
    def __str__(self) -> str:
        return "a<b>&'\""


VALUES = ["", "plain", "<script>alert('x')</script> & \"q\"", "深圳 & 南山", Markup("<b>安全</b>"),
          Markup(""), 0, -12, 10**30, True, False, None, 1.5, _Html(), _Text("<t>"), _Named(), [1, "<"],
          {"k": "<v>"}]  # fmt: skip
IDS = [f"{i}-{type(value).__name__}" for i, value in enumerate(VALUES)]  # the same in every xdist worker


@given(st.text())
def test_text_escapes_as_markupsafe_does(text: str) -> None:
    assert _escape(text) == str(markupsafe.escape(text))


@pytest.mark.parametrize("value", VALUES, ids=IDS)
def test_every_kind_of_value_escapes_as_markupsafe_does(value) -> None:
    assert _escape(value) == str(markupsafe.escape(value))


def test_the_common_values_take_no_markup_wrapper() -> None:
    # What makes it cheaper: text and numbers come back as plain str, Markup as the very same object.
    kept = Markup("<b>安全</b>")
    assert type(_escape("<a>")) is str and type(_escape(42)) is str and _escape(kept) is kept
    assert type(_escape(1.5)) is Markup  # anything else: markupsafe's own escape


TEMPLATES = {
    "m.html": "{% macro cell(v) %}<td>{{ v }}</td>{% endmacro %}"
              "{% macro box() %}<div>{{ caller() }}</div>{% endmacro %}",
    "page.html": '{% from "m.html" import cell, box %}'
                 "[{{ x }}]{{ cell(x) }}{{ cell(cell(x)) }}"
                 "{% set kept %}<p>{{ x }}</p>{% endset %}{{ kept }}{{ kept }}"
                 "{% filter upper %}{{ x }}{% endfilter %}"
                 "{{ x ~ '<>' }}{{ x | string }}{{ x | e }}"
                 "{% call box() %}{{ x }}{% endcall %}"
                 "{% for i in [x, x] %}{{ loop.index }}{{ i }}{% endfor %}"
                 "{% autoescape false %}{{ x }}{% endautoescape %}",
}  # fmt: skip


@pytest.fixture
def envs(tmp_path) -> tuple[jinja2.Environment, jinja2.Environment]:
    for name, text in TEMPLATES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    ours = create_environment(tmp_path, auto_reload=False, names={})
    plain = jinja2.Environment(loader=jinja2.FileSystemLoader(tmp_path), autoescape=True,
                               trim_blocks=True, lstrip_blocks=True)
    return ours, plain


def test_templates_use_the_cheaper_escape(envs) -> None:
    ours, plain = (env.get_template("page.html") for env in envs)
    assert ours.root_render_func.__globals__["escape"] is _escape
    assert plain.root_render_func.__globals__["escape"] is markupsafe.escape  # what it replaces


@pytest.mark.parametrize("value", VALUES, ids=IDS)
def test_pages_render_as_with_jinja2s_own_escape(envs, value) -> None:
    ours, plain = (env.get_template("page.html").render(x=value) for env in envs)
    assert ours == plain
    if value == "<script>alert('x')</script> & \"q\"":  # nothing escaped twice, nothing left raw
        assert "[&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;q&#34;]" in ours
        assert "<td><td>&lt;script&gt;" in ours and "&amp;lt;" not in ours.replace("&amp;lt;&gt;", "")


def test_html_bytes_are_spliced_as_before(envs, tmp_path) -> None:
    # page.html without its filter block: a filter would see the marker (htmlbytes.py says so)
    (tmp_path / "bytes.html").write_text(TEMPLATES["page.html"].replace("upper", "string"), encoding="utf-8")
    page = render_bytes(envs[0].get_template("bytes.html"), {"x": HtmlBytes("<b>地图</b>".encode())})
    assert page.decode() == envs[1].get_template("bytes.html").render(x=Markup("<b>地图</b>"))
    assert page.count("<b>地图</b>".encode()) == 13


def test_undefined_values_behave_as_in_jinja2(tmp_path) -> None:
    (tmp_path / "u.html").write_text("[{{ missing }}]", encoding="utf-8")
    ours = create_environment(tmp_path, auto_reload=False, names={})
    assert ours.get_template("u.html").render() == "[]"
    ours.undefined = jinja2.StrictUndefined
    ours.cache.clear()
    with pytest.raises(jinja2.UndefinedError):
        ours.get_template("u.html").render()
