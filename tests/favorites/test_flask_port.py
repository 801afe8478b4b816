"""bench/flask_favorites.py, the Flask port the benchmark compares the demo with, renders the same pages.

The comparison is fair only if both do the same work: same queries, same templates, same HTML out.
"""

from __future__ import annotations

import re

import pytest
import webtest

from apps.favorites import create_app

_TOKEN = re.compile(r'name="csrf_token" value="[^"]*"')


@pytest.fixture
def clients(settings, con):
    from bench.flask_favorites import create_app as create_flask_app

    return webtest.TestApp(create_app(settings)), webtest.TestApp(create_flask_app(settings))


@pytest.mark.parametrize(
    "path", ["/", "/areas/440300", "/areas/440000?page=1", "/search?q=%E5%8D%97", "/favorites"]
)
def test_same_html_as_the_demo(clients, path):
    demo, port = clients
    ours, theirs = demo.get(path), port.get(path)
    assert ours.status_int == theirs.status_int == 200
    assert _TOKEN.sub("", ours.text) == _TOKEN.sub("", theirs.text)
