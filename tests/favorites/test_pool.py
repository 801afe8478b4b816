"""apps/favorites/pool.py against the real test MariaDB: round trips counted by the server itself,
bounded waits, broken connections replaced, and the pool lock free while a connection talks to the server."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import threading
import time

import pymysql
import pytest

from apps.favorites.db import Database
from apps.favorites.pool import Pool, PoolTimeout
from tests.favorites.conftest import session_status


@pytest.fixture
def small(settings):
    database = Database(dataclasses.replace(settings, pool_size=2, pool_wait_timeout=0.5, pool_ping_after=60))
    yield database.pool
    database.close()


def test_reads_cost_no_ping_and_no_rollback(small: Pool, mariadb) -> None:
    con = small.acquire()
    with con.cursor() as cur:
        cur.execute("SELECT district FROM areas WHERE district_id = 440300")
        assert cur.fetchone() == ("深圳市",)
    pings, rollbacks = session_status(con, "Com_admin_commands"), session_status(con, "Com_rollback")
    small.release(con)
    again = small.acquire()
    assert again is con  # the same connection back, LIFO
    assert session_status(again, "Com_admin_commands") == pings  # no ping on checkout (idle < ping_after)
    assert session_status(again, "Com_rollback") == rollbacks  # no rollback on return after autocommit reads
    small.release(again)


def test_an_open_transaction_is_rolled_back_on_return(small: Pool, con) -> None:
    taken = small.acquire()
    taken.begin()
    with taken.cursor() as cur:
        cur.execute("INSERT INTO login_failures VALUES ('addr', 'pool-test', 1, NOW(3))")
    small.release(taken)
    again = small.acquire()
    assert again is taken and session_status(again, "Com_rollback") == 1
    with again.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM login_failures WHERE subject = 'pool-test'")
        assert cur.fetchone() == (0,)
    small.release(again)


def test_an_idle_connection_is_pinged_and_a_dead_one_replaced(settings, mariadb) -> None:
    database = Database(dataclasses.replace(settings, pool_size=1, pool_ping_after=0))
    pool = database.pool
    try:
        con = pool.acquire()
        pings = session_status(con, "Com_admin_commands")
        pool.release(con)
        again = pool.acquire()  # idle longer than 0 s: pinged
        assert again is con and session_status(again, "Com_admin_commands") == pings + 1
        admin = mariadb.admin_connect()
        with admin.cursor() as cur:
            cur.execute("KILL %s", (again.thread_id(),))
        admin.close()
        pool.release(again)
        fresh = pool.acquire()  # the ping fails: a new connection in its place
        assert fresh is not con and fresh.thread_id() != con.thread_id()
        with fresh.cursor() as cur:
            cur.execute("SELECT 1")
        pool.release(fresh)
        assert pool.open_connections == 1
    finally:
        database.close()


def test_a_connection_the_server_closed_while_idle_is_not_handed_out(small: Pool, mariadb) -> None:
    # Idle far less than ping_after, so no ping is due: what finds the closed socket is the local check.
    con = small.acquire()
    small.release(con)
    admin = mariadb.admin_connect()
    try:
        with admin.cursor() as cur:
            cur.execute("KILL %s", (con.thread_id(),))
            deadline = time.monotonic() + 10  # until the server has closed it (sent FIN), bounded
            while time.monotonic() < deadline:
                cur.execute("SELECT COUNT(*) FROM information_schema.processlist WHERE id = %s",
                            (con.thread_id(),))
                if cur.fetchone()[0] == 0:
                    break
                time.sleep(0.01)
    finally:
        admin.close()
    fresh = small.acquire()
    try:
        with fresh.cursor() as cur:
            cur.execute("SELECT 1")  # the killed connection would raise here
            assert cur.fetchone() == (1,)
        assert fresh.thread_id() != con.thread_id()
    finally:
        small.release(fresh)
    assert small.open_connections == 1


def test_a_broken_connection_frees_its_slot(small: Pool, mariadb) -> None:
    con = small.acquire()
    admin = mariadb.admin_connect()
    with admin.cursor() as cur:
        cur.execute("KILL %s", (con.thread_id(),))
    admin.close()
    with pytest.raises(pymysql.err.OperationalError), con.cursor() as cur:
        cur.execute("SELECT 1")
    assert not con.open
    small.release(con)
    assert small.open_connections == 0 and small.idle_connections == 0


def test_waiting_for_a_free_connection_is_bounded(small: Pool) -> None:
    held = [small.acquire(), small.acquire()]
    started = time.monotonic()
    with pytest.raises(PoolTimeout):
        small.acquire()
    waited = time.monotonic() - started
    assert 0.5 <= waited < 10, waited  # it did wait for its timeout, and then gave up
    small.release(held.pop())
    small.release(small.acquire())  # a released connection is handed on
    small.release(held.pop())


def test_the_lock_is_free_while_a_connection_waits_on_the_server(settings, mariadb) -> None:
    database = Database(dataclasses.replace(settings, pool_size=2, pool_ping_after=0, health_timeout=5))
    pool = database.pool
    pool.release(pool.acquire())  # one idle connection, due for a ping at its next checkout
    pid = int(mariadb.pidfile.read_text().strip())

    def take() -> None:
        with contextlib.suppress(Exception):
            pool.release(pool.acquire())  # succeeds only if the database resumed in time

    in_ping = threading.Thread(target=take)
    os.kill(pid, signal.SIGSTOP)
    try:
        in_ping.start()
        deadline = time.monotonic() + 10
        while pool.idle_connections and time.monotonic() < deadline:  # wait until it took the idle one
            time.sleep(0.01)
        assert pool.idle_connections == 0
        # The other thread is now pinging a hung server (up to 5 s); the pool lock must be free meanwhile.
        assert pool._cond.acquire(timeout=1)
        pool._cond.release()
        assert in_ping.is_alive()
    finally:
        os.kill(pid, signal.SIGCONT)
        in_ping.join(60)
        database.close()
