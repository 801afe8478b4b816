"""bench.staticpath serves each case through the parser, the WSGI handler and the sendfile path (its figures
are not tested: only that every request gets the answer the case is about)."""

from __future__ import annotations

import pytest

from bench import apps, mwapps, staticpath


@pytest.mark.parametrize("case", ["bare-file", "static"])
def test_the_file_cases_send_the_whole_file_each_time(case):
    one = staticpath.serve_case(case, 1)
    assert one > apps.STATIC_SIZE
    assert staticpath.serve_case(case, 3) == 3 * one


@pytest.mark.parametrize("case", ["bare-hello", "hello", "304", "304-since", "304-stat"])
def test_the_small_cases_send_a_head_and_no_file(case):
    one = staticpath.serve_case(case, 1)
    assert 0 < one < 1024
    assert staticpath.serve_case(case, 2) == 2 * one


def test_a_case_answered_otherwise_is_an_error(monkeypatch):
    monkeypatch.setitem(staticpath.CASES, "static", (mwapps.application, "/static/nope.bin"))
    with pytest.raises(RuntimeError, match="unexpected response"):
        staticpath.serve_case("static", 1)
