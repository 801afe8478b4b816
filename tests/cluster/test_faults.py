"""Load through nginx while an app host dies (SIGKILL) or every host reloads in turn (SIGHUP).

20 keep-alive connections for 10 s, one request in ten a POST. The counts are logged (`-o log_cli=true`
shows them) for the README's figures.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import pytest

from .conftest import collected, poll
from .load import LoadResult, run_load

log = logging.getLogger(__name__)

CONNECTIONS = 20
DURATION = 10.0
ARBITER = Path(__file__).resolve().parents[2] / "server" / "arbiter.py"


def _load_in_background(cluster, county_ids) -> tuple[threading.Thread, LoadResult]:
    result = LoadResult()
    thread = threading.Thread(target=run_load, args=(cluster.url,), daemon=True, kwargs={
        "post_ids": county_ids, "connections": CONNECTIONS, "duration": DURATION, "result": result})
    thread.start()
    # Every client signs up (a POST) before the fault: a POST is never retried on another host.
    poll(lambda: result.logged_in + len(result.login_failures) == CONNECTIONS and result.requests >= 50,
         timeout=60, what="the load getting going")
    assert result.login_failures == []
    return thread, result


def _check_posts(cluster, result: LoadResult) -> None:
    assert result.posts_twice == [], "a POST was applied twice (retried on another host)"
    assert collected(cluster, result.posts_applied) == set(result.posts_applied)


def test_sigkill_of_one_host_under_load_fails_no_get(cluster, county_ids) -> None:
    thread, result = _load_in_background(cluster, county_ids)
    cluster.kill_host(0, signal.SIGKILL)
    thread.join()
    try:
        log.info("SIGKILL under load: %d GETs, %d failed; %d POSTs applied, %d failed, %d twice",
                 result.gets, len(result.get_failures), len(result.posts_applied), len(result.posts_failed),
                 len(result.posts_twice))
        assert result.get_failures == []
        assert result.gets > 100
        _check_posts(cluster, result)
        # A failed POST was applied once or not at all, never twice (the UNIQUE key would say "already").
        failed = [district for district, _ in result.posts_failed]
        assert len(collected(cluster, failed)) <= len(failed)
    finally:
        cluster.start_host(0)


def _children(pid: int) -> set[int]:
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def _reload_one_host(cluster, index: int) -> None:
    """SIGHUP one host, wait until its old workers are all replaced and nginx sends it requests again.

    That is the rolling deploy's procedure: one host at a time, the next once this one is back in
    rotation (if nginx marked it down, it gets requests again after fail_timeout, 5 s).
    """
    pid, workers = cluster.state["hosts"][index]["pid"], cluster.state["workers"]
    old = _children(pid)
    cluster.reload_host(index)
    poll(lambda: not (_children(pid) & old) and len(_children(pid)) == workers, timeout=60,
         what=f"host {index}'s workers replaced")
    size = cluster.host_log(index).stat().st_size
    poll(lambda: cluster.host_log(index).stat().st_size > size, timeout=30,
         what=f"host {index} back in nginx's rotation")


@pytest.mark.skipif(not ARBITER.exists(), reason="needs the server's SIGHUP rolling reload (issue 9, "
                    "server/arbiter.py), not merged yet")
def test_rolling_deploy_sighup_each_host_in_turn_fails_nothing(cluster, county_ids) -> None:
    result = LoadResult()
    post_ids = iter(county_ids)
    thread = threading.Thread(target=run_load, args=(cluster.url,), daemon=True, kwargs={
        "post_ids": post_ids, "connections": CONNECTIONS, "duration": 60.0, "result": result,
        "stop": (stop := threading.Event())})
    thread.start()
    poll(lambda: result.logged_in + len(result.login_failures) == CONNECTIONS and result.requests >= 50,
         timeout=60, what="the load getting going")
    assert result.login_failures == []
    error_log = Path(cluster.state["nginx"]["conf"]).parent / "error.log"
    errors_before = error_log.stat().st_size
    try:
        for index in range(len(cluster.state["hosts"])):
            _reload_one_host(cluster, index)
    finally:
        stop.set()
        thread.join()
    with error_log.open("rb") as errors:
        errors.seek(errors_before)
        upstream_errors = [line for line in errors.read().decode(errors="replace").splitlines()
                           if "upstream" in line]
    log.info("rolling SIGHUP under load: %d GETs, %d failed; %d POSTs applied, %d failed; %d upstream "
             "errors in nginx's log", result.gets, len(result.get_failures), len(result.posts_applied),
             len(result.posts_failed), len(upstream_errors))
    assert result.get_failures == []
    # Not even a GET retried on another host: no connection to a host was reset or refused.
    assert upstream_errors == []
    # A retiring worker never closes an idle keep-alive connection under nginx: nginx closes it first
    # (its keepalive_timeout is below the server's), or sends one more request, answered with
    # Connection: close. So no POST is reset, and nginx has nothing to answer 502 for.
    assert result.posts_failed == []
    _check_posts(cluster, result)
