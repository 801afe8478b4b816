"""The area page as the demo renders it (bytes, cached parts spliced in) is the plain Jinja2 render of the
same context, byte for byte, in every state the page has: logged out and in, collected or not, each page
of a long list of children, an area without children, and the first request after the data is reloaded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import webtest

from miniweb import HtmlBytes
from tests.favorites.conftest import sign_up

GUANGDONG, SHENZHEN, FUTIAN = 440000, 440300, 440304  # 广东省 has 21 cities: two pages of 20 at most


@pytest.fixture
def renders(app, con) -> Iterator[list]:
    """Every render of the app: (template, the whole context as the template sees it, the response body)."""
    seen: list = []
    render = app.render

    def recording(request, template, **context):
        response = render(request, template, **context)
        context.setdefault("request", request)
        context.setdefault("csrf_token", app.csrf_token(request))  # made once per request: the page's own
        seen.append((template, context, response.body))
        return response

    app.render = recording
    yield seen


def _same_as_plain(app, client, renders, path: str, parts: int = 3, template: str = "area.html") -> str:
    renders.clear()
    body = client.get(path).body
    ((rendered_template, context, rendered),) = renders
    assert rendered == body and rendered_template == template
    # spliced in as bytes, which is what this test is about
    assert sum(type(v) is HtmlBytes and bool(v) for v in context.values()) == parts
    assert body == app.jinja_env.get_template(template).render(context).encode("utf-8"), path
    return body.decode("utf-8")


def test_every_state_of_the_area_page_is_the_plain_render(app, renders, admin_run) -> None:
    client = webtest.TestApp(app)
    for _ in range(2):  # cold, then from the cache
        for path in (f"/areas/{SHENZHEN}", f"/areas/{GUANGDONG}", f"/areas/{GUANGDONG}?page=2"):
            assert "收藏 " in _same_as_plain(app, client, renders, path)
        assert "没有下级地区" not in _same_as_plain(app, client, renders, f"/areas/{FUTIAN}", parts=2)
    sign_up(client)
    assert 'id="logout"' in _same_as_plain(app, client, renders, f"/areas/{GUANGDONG}?page=2")
    client.get(f"/areas/{SHENZHEN}").forms["collect-form"].submit(status=303)
    page = _same_as_plain(app, client, renders, f"/areas/{SHENZHEN}")  # with the "collected" notice
    assert 'id="uncollect"' in page and 'role="status"' in page
    assert 'id="uncollect"' in _same_as_plain(app, client, renders, f"/areas/{SHENZHEN}")
    try:
        admin_run("UPDATE areas SET district = '福田新区' WHERE district_id = %s", (FUTIAN,))
        page = _same_as_plain(app, client, renders, f"/areas/{SHENZHEN}")  # the cache's entries are stale
        assert "福田新区" in page and "福田区" not in page
        assert "福田新区" in _same_as_plain(app, client, renders, f"/areas/{FUTIAN}", parts=2)
    finally:
        admin_run("UPDATE areas SET district = '福田区' WHERE district_id = %s", (FUTIAN,))
    assert "福田区" in _same_as_plain(app, client, renders, f"/areas/{SHENZHEN}")


def test_the_favourites_page_is_the_plain_render(app, renders) -> None:
    client = webtest.TestApp(app)
    sign_up(client)
    page = _same_as_plain(app, client, renders, "/favorites", parts=1, template="favorites.html")
    assert "china-map" not in page  # no favourites: no map, though the (empty) map is in the context
    for code in (SHENZHEN, FUTIAN, GUANGDONG):
        client.get(f"/areas/{code}").forms["collect-form"].submit(status=303)
    for _ in range(2):  # cold, then from the cache
        page = _same_as_plain(app, client, renders, "/favorites", parts=1, template="favorites.html")
        assert page.count('class="china-map"') == 1 and f"#fav-{FUTIAN}" in page
    form = client.get("/favorites").forms[f"note-{FUTIAN}"]
    form["note"] = "长" * 201  # one character too long: the page again, with a 400
    renders.clear()
    body = form.submit(status=400).body
    ((_, context, rendered),) = renders
    assert rendered == body == app.jinja_env.get_template("favorites.html").render(context).encode("utf-8")


@pytest.fixture
def admin_run(mariadb, con) -> Iterator:
    """An administrator's statement on the test database (the app's user may only read the areas)."""
    connection = mariadb.admin_connect(database=mariadb.database)

    def run(sql: str, params: tuple = ()) -> None:
        with connection.cursor() as cur:
            cur.execute(sql, params)

    try:
        yield run
    finally:
        connection.close()
