"""The database: PyMySQL connections through our own pool (pool.py), and what "unavailable" means.

Two pools per process: the pages' (DB_POOL_SIZE connections) and a small one for /healthz with its own
short timeouts, so a load balancer's health check is never queued behind pages waiting on a hung
database. Both connect lazily: the app starts even when the database is down.

A request takes a connection only when a view first needs one and gives it back in a teardown hook
(see app.py), or before slow work that needs none (views.release_db: logins give it back while they hash
the password); the pool rolls back only a transaction left open, so autocommit reads cost no extra round trip.

The timeouts (settings.py) bound every wait: a page gives up after at most the pool wait, or a connect,
or a ping plus a connect, or one read timeout (the first failing query ends the request with a 503).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import pymysql
from pymysql.constants import CLIENT

from .pool import Pool, PoolTimeout
from .settings import Settings

__all__ = ["Database", "DatabaseUnavailable", "database_errors"]

log = logging.getLogger(__name__)

# What "the database is not there" looks like: refused/lost connections, timeouts, a server shutting down,
# no free connection in time.
_UNAVAILABLE = (pymysql.err.OperationalError, pymysql.err.InterfaceError, PoolTimeout)


class DatabaseUnavailable(Exception):
    """The database cannot be reached or failed mid-query; the app answers 503."""


@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """Turn the driver's connection-level errors into DatabaseUnavailable (other errors pass through)."""
    try:
        yield
    except _UNAVAILABLE as exc:
        log.warning("database unavailable: %s", exc)
        raise DatabaseUnavailable(str(exc)) from exc


def _pool(settings: Settings, *, size: int, wait: float, connect_timeout: float, read_timeout: float,
          write_timeout: float, url_args: dict) -> Pool:  # fmt: skip
    def connect() -> pymysql.connections.Connection:
        return pymysql.connect(
            charset="utf8mb4",
            # Reads see the latest committed data (no snapshot kept open between statements); writes
            # are explicit BEGIN ... COMMIT transactions (repository.base._transaction).
            autocommit=True,
            # FOUND_ROWS: UPDATE reports matched rows, so saving an unchanged note still counts as found.
            client_flag=CLIENT.FOUND_ROWS,
            connect_timeout=connect_timeout, read_timeout=read_timeout, write_timeout=write_timeout,
            **url_args,
        )

    return Pool(connect, size=size, wait_timeout=wait, ping_after=settings.pool_ping_after,
                ping_timeout=min(settings.health_timeout, read_timeout), read_timeout=read_timeout)


class Database:
    """The pages' pool and the health check's pool for one database."""

    def __init__(self, settings: Settings, url_args: dict | None = None) -> None:
        args = settings.database.connect_args() if url_args is None else url_args
        self.pool = _pool(settings, size=settings.pool_size, wait=settings.pool_wait_timeout,
                          connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout,
                          write_timeout=settings.write_timeout, url_args=args)
        self.health_pool = _pool(settings, size=2, wait=settings.health_timeout / 2,
                                 connect_timeout=settings.health_timeout,
                                 read_timeout=settings.health_timeout,
                                 write_timeout=settings.health_timeout, url_args=args)

    def connection(self) -> pymysql.connections.Connection:
        """A connection from the pages' pool; give it back with release()."""
        with database_errors():
            return self.pool.acquire()

    def release(self, con: pymysql.connections.Connection) -> None:
        if not con.open:
            self.pool.suspect()  # it broke: the idle ones may be broken too (a database restart)
        self.pool.release(con)

    @contextlib.contextmanager
    def health_connection(self) -> Iterator[pymysql.connections.Connection]:
        with database_errors():
            con = self.health_pool.acquire()
        try:
            yield con
        finally:
            self.health_pool.release(con)

    def close(self) -> None:
        self.pool.close()
        self.health_pool.close()
