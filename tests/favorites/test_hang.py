"""The database hangs (its process stopped: connections stay open, nothing answers). A page must not hold
its worker for ever: after the read timeout it answers 503, and once the database resumes, pages work."""

from __future__ import annotations

import dataclasses
import os
import signal
import time

import webtest

from apps.favorites import create_app

# Small timeouts for this test only (the defaults are 5 s to connect, 10 s to read and write).
TIMEOUT = 2


def test_hung_database_times_out_into_a_503_then_recovers(settings, mariadb, con) -> None:
    app = create_app(dataclasses.replace(
        settings, connect_timeout=TIMEOUT, read_timeout=TIMEOUT, write_timeout=TIMEOUT, pool_size=2,
    ))  # fmt: skip
    web = webtest.TestApp(app)
    assert web.get("/").status_code == 200  # the pool now holds a live connection
    pid = int(mariadb.pidfile.read_text().strip())
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        resp = web.get("/areas/440300", status=503)
        waited = time.monotonic() - started
        health = web.get("/healthz", status=503)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert "数据库暂时不可用" in resp.text and "Traceback" not in resp.text
    assert health.json == {"status": "unavailable", "database": "down"}
    # Not a speed check: the request must have waited for the timeout (the database did not answer) and
    # then given up. With a 2 s read timeout that is a few timeouts at most (the pool's ping, a reconnect's
    # handshake, the query), never the minutes a hung server would otherwise hold the worker.
    assert TIMEOUT <= waited < 10 * TIMEOUT, waited

    page = web.get("/areas/440300")  # resumed: the pool replaces the dead connection on checkout
    assert page.html.h1.text == "深圳市"
    app.database.close()
