"""url_for's fast path (miniweb/building.py) gives byte for byte what the general path gives, for every
route shape, the demo's routes and adversarial values; its quoting equals urllib's; Jinja2 calls through
miniweb's Context keep Jinja2's rules."""

from __future__ import annotations

import itertools
import uuid
from urllib.parse import quote, urlencode

import jinja2
import pytest

from miniweb import App, BuildError
from miniweb.building import BUILT_PATHS, query_string, quote_arg
from miniweb.templating import create_environment

ADVERSARIAL = ["中文", "a/b", "%", "%25", " ", "a b", "", "x-y", "?#&=+", "~._-", "é", "\U0001f600", "..",
               "/", "a\nb", "0", "440300", 0, 7, -1, 440300, 10**20, 1.5, True, uuid.UUID(int=5)]  # fmt: skip


def _reference(app: App, name: str, args: tuple, kwargs: dict) -> str:
    """The general path with urllib's own quoting: what url_for gave before it had a fast path."""
    routes = app.router._by_name.get(name)
    if not routes:
        raise BuildError(f"no route named {name!r}")
    error = None
    for route in routes:
        remaining = dict(kwargs)
        try:
            if route._built_static is not None and not args:
                path = route._built_static
            elif route._plan is None:
                raise BuildError(f"route {route.name!r} ({route.pattern}) is too complex to build URLs from")
            else:
                path = route._plan.build_general(args, remaining)
        except BuildError as exc:
            error = exc
            continue
        query = {key: value for key, value in remaining.items() if value is not None}
        return path + "?" + urlencode(query, doseq=True, quote_via=quote) if query else path
    raise error


def _outcome(build, *args, **kwargs):
    try:
        return build(*args, **kwargs)
    except BuildError as exc:
        return ("BuildError", str(exc))


def _compare(app: App, name: str, args: tuple, kwargs: dict) -> None:
    expected = _outcome(_reference, app, name, args, kwargs)
    for _ in range(2):  # the second call may answer from the paths kept by value
        assert _outcome(app.url_for, name, *args, **kwargs) == expected, (name, args, kwargs)


def _shapes_app() -> App:
    app = App(template_folder=None)
    routes = {
        "plain": r"/about/",
        "literal": r"/地区/a b%/(\d+)",
        "one": r"/areas/([0-9]{6})",
        "one_any": r"/echo/(.+)",
        "one_named": r"/show/(?P<item>\d+)\.html",
        "one_seg": r"/seg/([^/]+)/edit",
        "two": r"/m/(\w+)/(\d+)",
        "two_named": r"/n/(?P<a>[^/]+)/(?P<b>[^/]+)",
        "two_mixed": r"/x/([^/]+)/(?P<b>\d+)",
        "two_dash": r"/d/([^/]+)-([^/]+)",
        "adjacent": r"/j/(\d+)(\w*)",
        "three": r"/t/([^/]+)/([^/]+)/([^/]+)",
        "alternative": r"/alt/(a|b/c)",
        "optional": r"/opt/(\d*)",
    }
    for name, pattern in routes.items():
        app.add_route(pattern, lambda request, *a, **k: "", name=name)

    @app.route(r"/typed/([^/]+)")
    def typed_int(request, n: int):
        return ""

    @app.route(r"/typed2/([^/]+)/(?P<f>[^/]+)")
    def typed_two(request, u: uuid.UUID, f: float):
        return ""

    @app.route(r"/v/(\d+)", name="variants")
    @app.route(r"/v", name="variants")
    def variants(request, n=None):
        return ""

    return app


TEXTS = [*(chr(c) for c in range(0x300)), *(v for v in ADVERSARIAL if isinstance(v, str))]


@pytest.mark.parametrize("text", TEXTS)
def test_quote_arg_is_quote_with_nothing_safe(text):
    assert quote_arg(text) == quote(text, safe="")


def test_quote_arg_refuses_what_quote_refuses():
    with pytest.raises(UnicodeEncodeError):
        quote("\ud800", safe="")
    with pytest.raises(UnicodeEncodeError):
        quote_arg("\ud800")


@pytest.mark.parametrize(
    "query",
    [{"q": "北京 市", "page": 2}, {"next": "/areas/440300?page=2&x=%"}, {"tag": ["a", "b/c"], "skip": None},
     {"empty": []}, {"b": b"\xff/", "f": 1.5, "t": True, "n": -3, "u": uuid.UUID(int=1)}, {"k y": "v"},
     {"none": None}, {"s": "", "z": 0}],
)  # fmt: skip
def test_query_string_is_urlencode(query):
    kept = {key: value for key, value in query.items() if value is not None}
    expected = urlencode(kept, doseq=True, quote_via=quote) if kept else None
    assert query_string(query) == expected


def test_every_route_shape_builds_as_the_general_path():
    app = _shapes_app()
    values = ADVERSARIAL
    for route in app.router:
        for arity in range(4):
            for args in itertools.product(values, repeat=arity) if arity < 3 else [("a", 1, "中")]:
                _compare(app, route.name, args, {})
                _compare(app, route.name, args, {"page": 2, "q": "南 /%"})
        named = [n for n in route.regex.groupindex]
        for value in values:
            _compare(app, route.name, (), dict.fromkeys(named, value))
            _compare(app, route.name, (value,), dict.fromkeys(named, value))


def test_the_demo_routes_build_as_the_general_path(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://nobody:none@127.0.0.1:9/none")  # never connected
    monkeypatch.setenv("SECRET_KEY", "test")
    from apps.favorites import create_app

    app = create_app()
    names = {route.name for route in app.router}
    assert {"area", "search", "favorites", "remove", "collect", "edit_note", "login"} <= names
    for name in sorted(names):
        for value in ADVERSARIAL:
            _compare(app, name, (value,), {})
            _compare(app, name, (value,), {"next": "/areas/440300?page=2", "page": 3})
            _compare(app, name, (), {"next": value, "q": value})
        _compare(app, name, (), {})
    assert app.url_for("area", 440300) == "/areas/440300"
    remove = app.url_for("remove", "440300", next="/areas/440300")
    assert remove == "/favorites/440300/remove?next=%2Fareas%2F440300"


def test_paths_past_the_kept_ones_are_still_built_and_checked():
    app = _shapes_app()
    for n in range(BUILT_PATHS + 50):
        assert app.url_for("one", f"{n:06d}") == f"/areas/{n:06d}"
        assert app.url_for("two", f"w{n}", n) == f"/m/w{n}/{n}"
    with pytest.raises(BuildError):
        app.url_for("one", "12345")  # five digits: refused, kept or not
    with pytest.raises(BuildError):
        app.url_for("typed_int", "x")


def test_url_for_under_a_mount_point_prefixes_the_fast_path():
    app = _shapes_app()
    app.add_route(r"/where", lambda request: app.url_for("one", 440300) + " " + app.url_for("plain", a=1))
    seen = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/where",
        "SCRIPT_NAME": "/d\xc3\xa9mo",
        "QUERY_STRING": "",
    }
    body = b"".join(app(environ, lambda status, headers, exc_info=None: seen.append(status)))
    assert seen == ["200 OK"]
    assert body.decode() == "/d%C3%A9mo/areas/440300 /d%C3%A9mo/about/?a=1"


# --- Jinja2 calls through miniweb's Context ---------------------------------------------------------------


class _Holder:
    def plain(self, x):
        return f"plain {x}"

    @jinja2.pass_context
    def marked(self, context, x):
        return f"marked {context['who']} {x}"


def _render(source: str, tmp_path, stock: bool = False, **context) -> str:
    (tmp_path / "t.html").write_text(source, encoding="utf-8")
    holder = _Holder()

    @jinja2.pass_context
    def with_context(context, x):
        return f"context {context['who']} {x}"

    @jinja2.pass_environment
    def with_environment(environment, x):
        return f"env {environment.autoescape} {x}"

    def stops():
        raise StopIteration

    names = {"plain": lambda x: f"fn {x}", "with_context": with_context, "with_environment": with_environment,
             "method": holder.plain, "marked_method": holder.marked, "stops": stops}  # fmt: skip
    env = create_environment(tmp_path, auto_reload=False, names=names)
    if stock:  # Jinja2's own Context, for comparison
        env = jinja2.Environment(loader=env.loader, autoescape=True, trim_blocks=True, lstrip_blocks=True)
        env.globals.update(names)
    return env.get_template("t.html").render(who="w", **context)


def test_template_calls_keep_jinjas_pass_rules(tmp_path):
    source = (
        "{{ plain(1) }}|{{ with_context(2) }}|{{ with_environment(3) }}|{{ method(4) }}|"
        "{{ marked_method(5) }}|"
        "{% for i in [6] %}{{ plain(i) }}/{{ with_context(i) }}/{{ 'ab'.startswith('a') }}{% endfor %}|"
        "{% set who = 'inner' %}{{ with_context(7) }}|{{ stops() is undefined }}|{{ ','.join(['x', 'y']) }}"
    )
    expected = "fn 1|context w 2|env True 3|plain 4|marked w 5|fn 6/context w 6/True|context inner 7|True|x,y"
    assert _render(source, tmp_path) == expected == _render(source, tmp_path, stock=True)


@pytest.mark.parametrize(
    "source",
    ["{% for who in ['a', 'b'] %}{{ with_context(loop.index) }};{{ plain(who) }};{% endfor %}",
     "{% macro m(x) %}{% for who in [x] %}{{ with_context(who) }}{{ method(who) }}{% endfor %}{% endmacro %}"
     "{{ m('a') }}{% for i in [1] %}{{ m(i) }}{% endfor %}",
     "{% block b %}{% set who = 'blk' %}{{ with_context(1) }}{{ plain(2) }}{% endblock %}"],
)  # fmt: skip
def test_template_calls_in_loops_macros_and_blocks_render_as_with_jinjas_own_context(tmp_path, source):
    assert _render(source, tmp_path) == _render(source, tmp_path, stock=True)
