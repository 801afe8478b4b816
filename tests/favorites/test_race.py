"""Twenty requests race to collect the same area: exactly one row, one "added", nineteen "already"."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import webtest

from apps.favorites import repository as repo

RACERS = 20


def test_twenty_concurrent_collects_make_one_row(wsgi_app, con) -> None:
    barrier = threading.Barrier(RACERS, timeout=60)

    def racer(_: int) -> str:
        client = webtest.TestApp(wsgi_app)  # one client per thread: its own cookies, its own form
        form = client.get("/areas/440305").forms["collect-form"]
        barrier.wait()  # every racer holds a ready form; now all post at once
        resp = form.submit(status=303)
        return resp.location.split("?", 1)[1].split("=", 1)[0]

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(racer, range(RACERS)))

    assert sorted(outcomes) == ["added"] + ["already"] * (RACERS - 1)
    assert [f.area.district_id for f in repo.favorites(con)] == [440305]
