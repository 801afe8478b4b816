"""bench.mwapps / bench.overhead / bench.framework / bench.pages: the apps answer the same bytes, the
in-process loop checks what it serves, and each server is started with the flags the scenario names.
No timing is asserted."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from wsgiref.util import FileWrapper, setup_testing_defaults
from wsgiref.validate import validator

import pytest

from bench import framework, mwapps, overhead, pages
from bench.apps import HELLO, STATIC_PATH
from bench.peers import Launch


def _call(app, path, **extra):
    environ: dict = {"SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "", **extra}
    setup_testing_defaults(environ)
    environ["wsgi.file_wrapper"] = FileWrapper
    got: dict = {}

    def start_response(status, headers, exc_info=None):
        got["status"], got["headers"] = status, dict(headers)
        return lambda data: None

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # wsgiref.validate reports problems as WSGIWarning
        result = validator(app)(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            result.close()
    return got["status"], got["headers"], body


def test_miniweb_bench_app_is_valid_wsgi_and_answers_like_the_bare_one():
    app = mwapps.miniweb_app()
    assert _call(app, "/")[2] == HELLO
    status, headers, body = _call(app, "/static/static-64k.bin")
    assert status == "200 OK" and body == STATIC_PATH.read_bytes()
    assert _call(app, "/static/static-64k.bin", HTTP_IF_NONE_MATCH=headers["ETag"])[0] == "304 Not Modified"
    assert json.loads(_call(app, mwapps.ITEM_PATH)[2]) == {"id": 42, "name": "item 42"}


@pytest.mark.parametrize("name", ["bare", "miniweb", "flask"])
def test_the_overhead_loop_serves_and_checks_each_case(name):
    app = overhead.FRAMEWORKS[name]()
    for path in overhead.CASES.values():
        overhead.serve(app, path, 3)


def test_the_revalidation_loop_serves_304s_and_refuses_a_200():
    overhead.serve(mwapps.miniweb_app(), overhead.REVALIDATE, 3)

    def no_etag_check(environ, start_response):
        start_response("200 OK", [("ETag", '"x"'), ("Content-Length", "0")])
        return []

    with pytest.raises(RuntimeError, match="answered"):
        overhead.serve(no_etag_check, overhead.REVALIDATE, 1)


def test_the_overhead_loop_refuses_a_wrong_answer():
    def wrong(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"not hello"]

    with pytest.raises(RuntimeError, match="unexpected answer"):
        overhead.serve(wrong, "/", 1)


def test_framework_servers_run_with_default_flags():
    launch = Launch(Path("python"), "127.0.0.1", 8123, 64)
    for peer, app in (
        (framework.BARE, "bench.apps:application"),
        (framework.MINIWEB, "bench.mwapps:application"),
        (framework.FALCON, "bench.mwapps:falcon_application"),
    ):
        argv = peer.argv(launch)
        assert argv[1:4] == ["-m", "server", "8123"] and app in argv
        assert not any("access-log" in a for a in argv)  # the default: access log on


def test_pages_servers():
    launch = Launch(Path("python"), "127.0.0.1", 8123, 64)
    argv = {name: " ".join(peer.argv(launch)) for name, peer in pages.SERVERS.items()}
    assert "-m server 8123 apps.favorites:application" in argv["demo-ours"]
    assert "-k gthread" in argv["flask-gunicorn"] and pages.FLASK_APP in argv["flask-gunicorn"]
    assert "--threads=64" in argv["flask-waitress"] and pages.FLASK_APP in argv["flask-waitress"]


def _result(rps: float, p99: float, errors: int = 0):
    from bench.wrk import WrkResult

    return WrkResult(rps, int(rps * 5), {50.0: p99 / 4, 99.0: p99}, non_2xx=errors)


def test_pages_report_takes_the_median_of_the_rounds_ratios():
    # Each round's ratio is against that round's best Flask stack: a slow round slows all three alike.
    def round_(ours: float, gunicorn: float, waitress: float, errors: int = 0):
        return {"demo-ours": {p: _result(ours, 20.0 + ours / 1000, errors) for p in pages.PAGES},
                "flask-gunicorn": {p: _result(gunicorn, 70.0) for p in pages.PAGES},
                "flask-waitress": {p: _result(waitress, 80.0) for p in pages.PAGES}}

    def check(text: str, name: str) -> str:
        return next(line for line in text.splitlines() if line.startswith(f"| {name} "))

    rounds = [round_(3000, 1000, 1200), round_(2000, 1100, 900), round_(2600, 1000, 1000)]
    text = pages.report(rounds)
    assert "median of 3 rounds, servers in alternation" in text
    ratio = check(text, "/areas/440300 ours / best Flask")
    assert "2.50x (rounds 2.50, 1.82, 2.60)" in ratio and ratio.rstrip(" |").endswith("PASS")
    assert "2,600 / 22.6" in check(text, "/areas/440300")  # ours' median round by req/s, its own p99
    assert "22.6 ms" in check(text, "/areas/440300 ours p99")  # the median of the rounds' p99s
    failing = pages.report([round_(3000, 1000, 1200), round_(2500, 1000, 1000, errors=3)])
    assert check(failing, "/favorites ours / best Flask").rstrip(" |").endswith("FAIL")  # wrk errors
    erring_peer = round_(3000, 1000, 1200)
    erring_peer["flask-waitress"]["/favorites"] = _result(300, 900.0, errors=500)  # slow because it errs
    peer = pages.report([erring_peer])
    assert check(peer, "/favorites ours / best Flask").rstrip(" |").endswith("FAIL")
    assert check(peer, "/areas/440300 ours / best Flask").rstrip(" |").endswith("PASS")
    single = pages.report([round_(2400, 1000, 1100)])
    assert "rounds" not in single and "2.18x" in check(single, "/search?q=%E5%8D%97 ours / best Flask")


def test_framework_rounds_alternate_the_order_of_the_cases(monkeypatch) -> None:
    # Which cases a round measures, in which order (no server is started: the order is the point here;
    # `make bench` runs the real thing). Every other round is the same sequence reversed, so each side
    # of a ratio comes first as often as second, always next to its partner.
    import contextlib
    from types import SimpleNamespace

    measured: list[tuple[str, str]] = []

    @contextlib.contextmanager
    def fake_serve(peer, launch, **kw):
        yield SimpleNamespace(url=peer.name)

    monkeypatch.setattr(framework, "serve", fake_serve)
    monkeypatch.setattr(framework, "_etag", lambda *a: '"tag"')
    monkeypatch.setattr(framework, "measure", lambda url, sc, opts: measured.append((url, sc.name)))
    opts = SimpleNamespace(python=Path("python"), threads=4)
    straight = list(framework._round(opts))
    first, measured[:] = list(measured), []
    mirrored = list(framework._round(opts, mirrored=True))
    assert first == [("bare-wsgi", "hello"), ("miniweb-app", "hello"), ("miniweb-app", "304"),
                     ("miniweb-app", "static"), ("bare-wsgi", "file")]  # each next to its partner
    assert measured == first[::-1]
    assert straight == mirrored[::-1] and set(straight) == set(framework._ROWS)
    measured[:] = []
    with_falcon = list(framework._round(opts, falcon=True))
    assert measured[:3] == [("bare-wsgi", "hello"), ("falcon-app", "hello"), ("miniweb-app", "hello")]
    assert set(with_falcon) == {*framework._ROWS, "Falcon hello"}


@pytest.mark.parametrize("falcon", [True, False])
def test_framework_reports_falcon_beside_the_targets_without_a_verdict(monkeypatch, falcon) -> None:
    from bench.compare import Options

    def round_(opts, mirrored=False, falcon=False):
        found = {name: _result(rps, 3.0) for name, rps in zip(
            framework._ROWS, (60_000, 20_000, 36_000, 19_000, 44_000), strict=True)}
        return found | ({"Falcon hello": _result(30_000, 4.0)} if falcon else {})

    monkeypatch.setattr(framework, "_has_falcon", lambda python: falcon)
    monkeypatch.setattr(framework, "_round", round_)
    opts = Options(python=Path("python"), threads=4, repeat=3)
    lines = framework.framework(opts).splitlines()
    hello = next(line for line in lines if line.startswith("| miniweb hello / bare hello"))
    assert "0.60x (rounds: 0.60, 0.60, 0.60)" in hello and hello.rstrip(" |").endswith("FAIL")
    reference = [line for line in lines if line.startswith("| Falcon hello / bare hello")]
    if falcon:
        assert "0.50x" in reference[0] and "reported" in reference[0]
        assert "PASS" not in reference[0] and "FAIL" not in reference[0]
        assert opts.results["framework"]["ratios"]["falcon-hello"] == 0.5
    else:
        assert reference == [] and "falcon-hello" not in opts.results["framework"]["ratios"]


def test_the_falcon_app_is_built_only_when_asked_for() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        mwapps.nothing  # noqa: B018 - the module's __getattr__ is the point
    assert "falcon_application" not in vars(mwapps)  # importing bench.mwapps did not need Falcon
