"""miniweb's template context (templating._Template: globals read as a plain dict) renders what Jinja2's
own Template renders, with template-specific globals, globals changed after loading, and imports."""

from __future__ import annotations

import os
import subprocess
import sys

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


@jinja2.pass_context
def _from_context(context, name: str) -> str:
    return f"ctx:{context.get(name)}"


@jinja2.pass_eval_context
def _from_eval_context(eval_ctx, text: str) -> str:
    return f"eval:{eval_ctx.autoescape}:{text}"


@jinja2.pass_environment
def _from_environment(environment, text: str) -> str:
    return f"env:{environment.trim_blocks}:{text}"


class _Called:  # a callable object whose __call__ wants the context
    @jinja2.pass_context
    def __call__(self, context, name: str) -> str:
        return f"obj:{context.get(name)}"


class _Slotted:  # a callable object without a __dict__
    __slots__ = ()

    def __call__(self, text: str) -> str:
        return f"slot:{text}"


class _Owner:
    def method(self, text: str) -> str:
        return f"method:{text}"

    @jinja2.pass_context
    def marked(self, context, name: str) -> str:
        return f"marked:{context.get(name)}"


CALLS = {
    "calls.html": "{{ ctx('t') }}|{{ ev('x') }}|{{ en('y') }}|{{ obj('t') }}|{{ slot('z') }}"
                  "|{{ owner.method('m') }}|{{ owner.marked('t') }}|{{ len('abc') }}|{{ 'a-b'.split('-') }}"
                  "|{{ self }}",
}  # fmt: skip


def test_calls_from_templates_hand_the_context_to_whatever_asks_for_it(tmp_path) -> None:
    # _Context.call skips Jinja2's questions only for callables that cannot want the context; everything
    # marked (functions, methods, a __call__) still gets its context, eval context or environment.
    (tmp_path / "calls.html").write_text(CALLS["calls.html"], encoding="utf-8")
    names = {"ctx": _from_context, "ev": _from_eval_context, "en": _from_environment, "obj": _Called(),
             "slot": _Slotted(), "owner": _Owner(), "len": len}
    ours = create_environment(tmp_path, auto_reload=False, names=names)
    plain = jinja2.Environment(loader=jinja2.FileSystemLoader(tmp_path), autoescape=True,
                               trim_blocks=True, lstrip_blocks=True)
    plain.globals.update(names)
    rendered = [env.get_template("calls.html").render(t="深圳") for env in (ours, plain)]
    assert rendered[0] == rendered[1]
    assert rendered[0] == ("ctx:深圳|eval:True:x|env:True:y|obj:深圳|slot:z|method:m|marked:深圳|3|"
                           "[&#39;a&#39;, &#39;b&#39;]|&lt;TemplateReference &#39;calls.html&#39;&gt;")


def test_callables_that_cannot_want_the_context_skip_jinja2s_questions(tmp_path, monkeypatch) -> None:
    # What _Context.call saves: Jinja2's own call (which asks each callable twice what it wants passed)
    # runs only for callables that may want something: marked ones, objects with a __call__.
    asked = []
    jinja_call = jinja2.runtime.Context.call
    monkeypatch.setattr(jinja2.runtime.Context, "call",
                        lambda self, obj, *a, **k: asked.append(obj) or jinja_call(self, obj, *a, **k))
    (tmp_path / "calls.html").write_text(CALLS["calls.html"], encoding="utf-8")
    owner, slot = _Owner(), _Slotted()
    names = {"ctx": _from_context, "ev": _from_eval_context, "en": _from_environment, "obj": _Called(),
             "slot": slot, "owner": owner, "len": len}
    create_environment(tmp_path, auto_reload=False, names=names).get_template("calls.html").render(t="x")
    assert asked == [_from_context, _from_eval_context, _from_environment, names["obj"], slot, owner.marked]


def test_templates_are_read_as_utf8_whatever_the_locale(tmp_path) -> None:
    (tmp_path / "zh.html").write_text("行政区划：{{ x }}", encoding="utf-8")
    code = ("import sys; from miniweb.templating import create_environment; "
            "env = create_environment(sys.argv[1], auto_reload=False, names={}); "
            "page = env.get_template('zh.html').render(x=chr(0x6DF1) + chr(0x5733)); "  # 深圳, in ASCII
            "sys.stdout.buffer.write(page.encode('utf-8'))")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert done.stdout.decode("utf-8") == "行政区划：深圳"


def test_includes_see_the_loop_and_the_block_they_are_in(tmp_path, envs) -> None:
    loop = ("{% for x in items %}{% set y = x * 2 %}{% include 'item.html' %}{% endfor %}"
            "{% include 'item.html' without context %}")
    (tmp_path / "loop.html").write_text(loop, encoding="utf-8")
    (tmp_path / "item.html").write_text("[{{ x }}/{{ y }}/{{ site }}]", encoding="utf-8")
    ours, plain = _both(envs, "loop.html", items=[1, 2])
    assert ours == plain == "[1/2/&lt;站&gt;][2/4/&lt;站&gt;][//&lt;站&gt;]"


def test_whitespace_control_and_the_template_cache(tmp_path) -> None:
    # trim_blocks and lstrip_blocks: a block tag's own line leaves nothing behind; templates are kept in a
    # plain dict (cache_size=-1: every template file of the app, no LRU bookkeeping per lookup).
    (tmp_path / "list.html").write_text("<ul>\n  {% for x in items %}\n  <li>{{ x }}</li>\n  {% endfor %}\n"
                                        "</ul>\n", encoding="utf-8")
    env = create_environment(tmp_path, auto_reload=False, names={})
    page = env.get_template("list.html").render(items=["a", "<b>"])
    assert page == "<ul>\n  <li>a</li>\n  <li>&lt;b&gt;</li>\n</ul>"
    assert type(env.cache) is dict and len(env.cache) == 1


@pytest.mark.parametrize("auto_reload", [True, False])
def test_auto_reload_sees_a_changed_template_only_when_asked_to(tmp_path, auto_reload: bool) -> None:
    page = tmp_path / "p.html"
    page.write_text("第一版", encoding="utf-8")
    env = create_environment(tmp_path, auto_reload=auto_reload, names={})
    assert env.get_template("p.html").render() == "第一版"
    page.write_text("第二版", encoding="utf-8")
    os.utime(page, (page.stat().st_mtime + 10,) * 2)  # a later mtime, whatever the filesystem's resolution
    assert env.get_template("p.html").render() == ("第二版" if auto_reload else "第一版")
