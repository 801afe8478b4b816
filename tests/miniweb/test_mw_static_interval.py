"""StaticFiles(stat_interval=S): a remembered file's 304 makes no stat within S seconds of the last check
(and App(static_folder=...)'s S: 1 s, 0 with debug=True).

Real files, a clock the test moves by hand (no sleeps). "No stat" is proved by removing the file: a 304
that still comes is one answered without looking at the disk.
"""

from __future__ import annotations

import math
import os
import sys
from fractions import Fraction

import pytest

import miniweb.static
from miniweb import App, StaticFiles
from tests.miniweb.openwatch import OpenWatch

PATH = "/static/css/site.css"


class _Clock:
    """A monotonic clock that moves only when told to; counts its reads."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "static"
    (root / "css").mkdir(parents=True)
    (root / "css" / "site.css").write_text("body { color: red }\n", encoding="utf-8")
    os.utime(root / "css" / "site.css", (946782245, 946782245))
    (tmp_path / "secret.txt").write_text("TOP SECRET", encoding="utf-8")
    return root


@pytest.fixture
def clock(monkeypatch):
    """StaticFiles' clock (miniweb.static._monotonic), replaced by one the test moves."""
    fake = _Clock()
    monkeypatch.setattr(miniweb.static, "_monotonic", fake)
    return fake


def _change(site) -> None:
    """New bytes, size and mtime: a new ETag."""
    target = site / "css" / "site.css"
    target.write_text("body { color: blue; margin: 0 }\n", encoding="utf-8")
    os.utime(target, (946782300, 946782300))


def _status(call, static, **environ) -> str:
    return call(static, PATH, **environ)[0]


@pytest.mark.parametrize("options", [{}, {"stat_interval": 0}], ids=["default", "zero"])
def test_default_zero_sees_a_change_on_the_very_next_revalidation(site, clock, wsgi_call, options):
    """stat_interval=0 (the default): every revalidation stats, however still the clock stands."""
    static = StaticFiles(site, **options)
    old = dict(wsgi_call(static, PATH)[1])["ETag"]
    assert _status(wsgi_call, static, HTTP_IF_NONE_MATCH=old) == "304 Not Modified"
    _change(site)
    status, headers, body = wsgi_call(static, PATH, HTTP_IF_NONE_MATCH=old)
    assert (status, body) == ("200 OK", b"body { color: blue; margin: 0 }\n")
    new = dict(headers)["ETag"]
    assert new != old
    assert _status(wsgi_call, static, HTTP_IF_NONE_MATCH=new) == "304 Not Modified"
    (site / "css" / "site.css").unlink()
    assert _status(wsgi_call, static, HTTP_IF_NONE_MATCH=new) == "404 Not Found"


def test_default_zero_never_reads_the_clock_on_a_remembered_file(site, clock, wsgi_call):
    """The default path pays nothing for the option: no clock read on a warm 304, 200 or 206."""
    static = StaticFiles(site)
    etag = dict(wsgi_call(static, PATH)[1])["ETag"]
    reads = clock.reads
    for environ in ({"HTTP_IF_NONE_MATCH": etag}, {}, {"HTTP_RANGE": "bytes=0-3"}):
        wsgi_call(static, PATH, **environ)
    assert clock.reads == reads


def test_within_the_interval_a_304_comes_from_the_remembered_validators_without_a_stat(
    site, clock, wsgi_call
):
    """Within S of the check (here the first 200), a 304 for a removed file still comes: no stat made;
    at S the next revalidation stats and finds the file gone, 404 as today."""
    static = StaticFiles(site, stat_interval=60)
    _, headers, _ = wsgi_call(static, PATH)
    headers = dict(headers)
    (site / "css" / "site.css").unlink()
    clock.now = 1059.9
    for environ in (
        {"HTTP_IF_NONE_MATCH": headers["ETag"]},
        {"HTTP_IF_MODIFIED_SINCE": headers["Last-Modified"]},
        {"HTTP_IF_NONE_MATCH": headers["ETag"], "REQUEST_METHOD": "HEAD"},
    ):
        status, sent, body = wsgi_call(static, PATH, **environ)
        assert (status, body) == ("304 Not Modified", b""), environ
        assert dict(sent)["ETag"] == headers["ETag"]
    clock.now = 1060.0
    assert _status(wsgi_call, static, HTTP_IF_NONE_MATCH=headers["ETag"]) == "404 Not Found"


def test_a_change_is_seen_late_on_revalidation_then_once_the_interval_is_over(site, clock, wsgi_call):
    """The documented staleness: a file changed on disk keeps its old ETag's 304 until S has passed."""
    static = StaticFiles(site, stat_interval=60)
    old = dict(wsgi_call(static, PATH)[1])["ETag"]
    _change(site)
    clock.now = 1030.0
    assert _status(wsgi_call, static, HTTP_IF_NONE_MATCH=old) == "304 Not Modified"
    clock.now = 1060.0
    status, headers, body = wsgi_call(static, PATH, HTTP_IF_NONE_MATCH=old)
    assert (status, body) == ("200 OK", b"body { color: blue; margin: 0 }\n")
    new = dict(headers)["ETag"]
    assert new != old
    assert _status(wsgi_call, static, HTTP_IF_NONE_MATCH=new) == "304 Not Modified"
    assert _status(wsgi_call, static, HTTP_IF_NONE_MATCH=old) == "200 OK"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_once_the_interval_is_over_a_revalidation_is_one_stat_again_not_an_open(site, clock, wsgi_call):
    """After S the warm path stats the unchanged file and answers 304 itself (the full path would open it)."""
    static = StaticFiles(site, stat_interval=60)
    etag = dict(wsgi_call(static, PATH)[1])["ETag"]
    watch = OpenWatch(site / "css" / "site.css")
    try:
        for now in (1030.0, 1060.0, 1200.0):
            clock.now = now
            assert _status(wsgi_call, static, HTTP_IF_NONE_MATCH=etag) == "304 Not Modified"
        assert watch.count() == 0
    finally:
        watch.close()


def test_a_stat_that_finds_the_file_unchanged_starts_the_interval_again(site, clock, wsgi_call):
    static = StaticFiles(site, stat_interval=60)
    etag = dict(wsgi_call(static, PATH)[1])["ETag"]
    clock.now = 1061.0
    assert _status(wsgi_call, static, HTTP_IF_NONE_MATCH=etag) == "304 Not Modified"  # stat: unchanged
    (site / "css" / "site.css").unlink()
    clock.now = 1120.9
    assert _status(wsgi_call, static, HTTP_IF_NONE_MATCH=etag) == "304 Not Modified"
    clock.now = 1121.0
    assert _status(wsgi_call, static, HTTP_IF_NONE_MATCH=etag) == "404 Not Found"


@pytest.mark.parametrize(
    "environ",
    [{}, {"HTTP_RANGE": "bytes=0-3"}, {"HTTP_IF_NONE_MATCH": '"other"'}, {"REQUEST_METHOD": "HEAD"}],
    ids=["200", "206", "200-after-a-stale-etag", "head"],
)
def test_a_200_or_206_of_the_remembered_file_counts_as_a_fresh_check(site, clock, wsgi_call, environ):
    """Its open + fstat found the file unchanged: the interval starts again from it."""
    static = StaticFiles(site, stat_interval=60)
    etag = dict(wsgi_call(static, PATH)[1])["ETag"]
    clock.now = 1050.0
    assert _status(wsgi_call, static, **environ)[:3] in ("200", "206")
    (site / "css" / "site.css").unlink()
    clock.now = 1109.9
    assert _status(wsgi_call, static, HTTP_IF_NONE_MATCH=etag) == "304 Not Modified"
    clock.now = 1110.0
    assert _status(wsgi_call, static, HTTP_IF_NONE_MATCH=etag) == "404 Not Found"


def test_the_200_path_is_always_checked_within_the_interval(site, tmp_path, clock, wsgi_call):
    """S > 0 changes only the 304: a file replaced is served fresh at once, and a symlink swapped in to a
    file outside the root is refused at once (plain GET, HEAD, range), never served under the old headers."""
    static = StaticFiles(site, stat_interval=60)
    target = site / "css" / "site.css"
    old = dict(wsgi_call(static, PATH)[1])["ETag"]
    _change(site)
    clock.now = 1001.0
    status, headers, body = wsgi_call(static, PATH)
    assert (status, body) == ("200 OK", b"body { color: blue; margin: 0 }\n")
    assert dict(headers)["ETag"] != old
    target.unlink()
    target.symlink_to(tmp_path / "secret.txt")
    for environ in ({}, {"REQUEST_METHOD": "HEAD"}, {"HTTP_RANGE": "bytes=0-3"}):
        status, _, body = wsgi_call(static, PATH, **environ)
        assert status == "404 Not Found" and b"SECRET" not in body, environ
    (site / "css").rename(site / "css-old")
    (site / "css").symlink_to(tmp_path)  # a parent directory swapped to outside the root
    (tmp_path / "site.css").write_text("outside", encoding="utf-8")
    status, _, body = wsgi_call(static, PATH)
    assert status == "404 Not Found" and b"outside" not in body


def test_an_apps_static_folder_revalidates_once_a_second_outside_debug(site, clock, wsgi_call):
    """App(static_folder=...) in production: STAT_INTERVAL (1 s) between a file's stats on revalidation, so
    a 304 under load makes no system call; a removed file is seen at the second, a 200 at once."""
    app = App(template_folder=None, static_folder=str(site))
    assert app.static_files.stat_interval == miniweb.static.STAT_INTERVAL == 1.0
    etag = dict(wsgi_call(app, PATH)[1])["ETag"]
    (site / "css" / "site.css").unlink()
    clock.now = 1000.9
    assert _status(wsgi_call, app, HTTP_IF_NONE_MATCH=etag) == "304 Not Modified"
    clock.now = 1001.0
    assert _status(wsgi_call, app, HTTP_IF_NONE_MATCH=etag) == "404 Not Found"


def test_an_apps_static_folder_stats_every_revalidation_in_debug(site, clock, wsgi_call):
    """App(debug=True): a file edited while developing is seen by the very next revalidation."""
    app = App(template_folder=None, static_folder=str(site), debug=True)
    assert app.static_files.stat_interval == 0
    old = dict(wsgi_call(app, PATH)[1])["ETag"]
    _change(site)
    status, headers, body = wsgi_call(app, PATH, HTTP_IF_NONE_MATCH=old)
    assert (status, body) == ("200 OK", b"body { color: blue; margin: 0 }\n")
    assert dict(headers)["ETag"] != old


def test_debug_set_later_switches_the_static_checks_and_template_reload(site, tmp_path, clock, wsgi_call):
    """``app.debug = True`` after construction, as Flask users write it, takes effect at once: every
    revalidation stats again and templates reload; ``False`` brings the production settings back."""
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "page.html").write_text("one", encoding="utf-8")
    app = App(template_folder=str(templates), static_folder=str(site))
    app.jinja_env.get_template("page.html")  # the environment exists before debug changes
    app.debug = True
    assert (app.debug, app.static_files.stat_interval, app.jinja_env.auto_reload) == (True, 0.0, True)
    old = dict(wsgi_call(app, PATH)[1])["ETag"]
    _change(site)
    assert _status(wsgi_call, app, HTTP_IF_NONE_MATCH=old) == "200 OK"  # seen at once, clock standing
    app.debug = False
    assert (app.debug, app.static_files.stat_interval, app.jinja_env.auto_reload) == (False, 1.0, False)


@pytest.mark.parametrize("interval", [-1, -0.5, math.nan, math.inf, -math.inf, True, False, "5", None])
def test_stat_interval_must_be_a_finite_number_of_seconds(site, interval):
    with pytest.raises(ValueError, match="stat_interval"):
        StaticFiles(site, stat_interval=interval)


@pytest.mark.parametrize(("interval", "seconds"), [(0, 0.0), (1, 1.0), (0.25, 0.25), (Fraction(1, 2), 0.5)])
def test_stat_interval_takes_ints_and_floats(site, interval, seconds):
    static = StaticFiles(site, stat_interval=interval)
    assert static.stat_interval == seconds and type(static.stat_interval) is float
