"""miniweb's template context (templating._Template: globals read as a plain dict) renders what Jinja2's
own Template renders, with template-specific globals, globals changed after loading, and imports."""

from __future__ import annotations

import jinja2
import pytest

from miniweb.templating import _Template, create_environment

TEMPLATES = {
    "base.html": "<title>{% block title %}{% endblock %}</title>[{{ site }}|{{ shade }}]"
                 "{% block body %}{% endblock %}",
    "m.html": "{% macro who(x) %}{{ x }}:{{ site }}:{{ shade | default('-') }}{% endmacro %}",
    "page.html": '{% extends "base.html" %}{% from "m.html" import who %}'
                 "{% block title %}{{ t }}{% endblock %}"
                 "{% block body %}{{ who(t) }}{% include 'part.html' %}{% endblock %}",
    "part.html": "({{ t }}{{ site }})",
}  # fmt: skip


@pytest.fixture
def envs(tmp_path) -> tuple[jinja2.Environment, jinja2.Environment]:
    for name, text in TEMPLATES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    ours = create_environment(tmp_path, auto_reload=False, names={"site": "<站>"})
    plain = jinja2.Environment(loader=jinja2.FileSystemLoader(tmp_path), autoescape=True,
                               trim_blocks=True, lstrip_blocks=True)
    plain.globals["site"] = "<站>"
    return ours, plain


def _both(envs, name: str, globals: dict | None = None, **context) -> list[str]:
    return [env.get_template(name, globals=globals).render(**context) for env in envs]


def test_pages_render_as_with_jinja2s_own_template(envs) -> None:
    assert type(envs[0].get_template("page.html")) is _Template
    ours, plain = _both(envs, "page.html", t="深圳<>")
    assert ours == plain
    assert ours == "<title>深圳&lt;&gt;</title>[&lt;站&gt;|]深圳&lt;&gt;:&lt;站&gt;:-(深圳&lt;&gt;&lt;站&gt;)"
    envs[0].globals["shade"] = envs[1].globals["shade"] = "蓝"  # added after loading: seen, as in Jinja2
    ours, plain = _both(envs, "page.html", t="x")
    assert ours == plain and "[&lt;站&gt;|蓝]" in ours  # (m.html's module was made before: no 蓝 there)
    ours, plain = _both(envs, "page.html", t="y", shade="红")  # a render's own value wins over a global
    assert ours == plain and "[&lt;站&gt;|红]" in ours


def test_template_globals_win_over_the_environments(envs) -> None:
    for env in envs:
        env.get_template("base.html", globals={"site": "本页"})
    ours, plain = _both(envs, "base.html")
    assert ours == plain == "<title></title>[本页|]"


def test_an_import_sees_the_importers_own_globals_and_otherwise_shares_one_module(tmp_path, envs) -> None:
    ours, plain = _both(envs, "page.html", globals={"shade": "绿"}, t="z")  # page.html's own global
    assert ours == plain and ":绿(" in ours  # so m.html's module was made for this context
    macros = envs[0].get_template("m.html")
    module = macros._get_default_module()
    context = envs[0].get_template("part.html").new_context({})
    assert macros._get_default_module(context) is module  # nothing the module lacks: the cached one
