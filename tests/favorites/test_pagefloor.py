"""bench.pagefloor: its floor app answers the page's bytes after exactly the statement it names, on the
test database; its report takes each app's median round and the differences between the rounds."""

from __future__ import annotations

import pytest

from bench import pagefloor
from bench import pages as bench_pages
from tests.favorites.conftest import global_status


@pytest.fixture
def floor(mariadb, con, tmp_path, monkeypatch):
    bench_pages.add_user(mariadb.url)
    body = tmp_path / "page.html"
    body.write_bytes("<!doctype html><title>页</title>".encode() * 100)
    monkeypatch.setenv("DATABASE_URL", mariadb.url)
    monkeypatch.setenv(pagefloor._BODY_ENV, str(body))
    monkeypatch.setattr(pagefloor, "_floor", pagefloor._Floor())
    yield body.read_bytes()
    pagefloor._floor.get()[0].close()


def _get(path: str) -> tuple[str, dict, bytes]:
    seen = []
    answer = pagefloor.application({"PATH_INFO": path}, lambda *response: seen.append(response))
    body = b"".join(answer)
    return seen[0][0], dict(seen[0][1]), body


@pytest.mark.parametrize(("path", "statements"), [("/server", 0), ("/version", 1), ("/favorites", 1)])
def test_the_floor_app_answers_the_page_after_its_one_statement(floor, con, path, statements) -> None:
    # The floor app has a pool of its own, so its session's counters are out of reach: the server's
    # global count (this worker's instance; SHOW is not a SELECT).
    _get("/server")  # the first request makes the pool and looks the user up: not counted
    before = global_status(con, "Com_select")
    status, headers, body = _get(path)
    assert global_status(con, "Com_select") - before == statements
    assert status == "200 OK" and body == floor and headers["Content-Length"] == str(len(floor))


def test_the_floor_app_needs_the_bench_user(mariadb, con, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", mariadb.url)
    monkeypatch.setenv(pagefloor._BODY_ENV, str(tmp_path / "none.html"))
    monkeypatch.setattr(pagefloor, "_floor", pagefloor._Floor())
    with pytest.raises(RuntimeError, match="add_user"):
        _get("/server")


def _round(server: float, statement: float, page: float) -> dict[str, pagefloor.Row]:
    # req/s falls as the CPU a request rises, as over the wire
    return {kind: pagefloor.Row(1e6 / cpu, cpu * 0.75, cpu * 0.25, 1.0, 20.0)
            for kind, cpu in zip(pagefloor._KINDS, (server, statement, page), strict=True)}


def test_the_report_takes_the_median_round_and_the_differences() -> None:
    text = pagefloor.report("/favorites", [_round(50, 200, 500), _round(40, 220, 600), _round(60, 180, 440)],
                            [0.01, None, 0.02])
    assert "| server      | 20,000 (20,000, 25,000, 16,667)" in text  # the median by req/s: 50 µs
    assert "| + statement | 5,000 (5,000, 4,545, 5,556)" in text
    assert "| the page    | 2,000 (2,000, 1,667, 2,273)" in text
    assert "150 + 50" in text  # user + system of the page's median round (500 µs)
    # statement - server: 150, 180, 120 -> 150; page - statement: 300, 380, 260 -> 300
    assert "the statement adds 150 µs" in text and "the rest of the page 300 µs" in text
    assert "stolen" not in text  # a round without a /proc/stat reading: no stolen shares at all


def test_the_report_gives_the_stolen_shares_when_every_round_has_one() -> None:
    text = pagefloor.report("/areas/440300", [_round(50, 200, 500)], [0.044])
    assert text.endswith("\n\nCPU time stolen by the host (steal, /proc/stat), per round: 4.4 %")
