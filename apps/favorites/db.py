"""The connection pool: PyMySQL connections through DBUtils' PooledDB.

Why DBUtils: it is small, maintained since 2005, thread-safe, and checks a connection when it is taken from
the pool (`ping=1`), reconnecting when the server was restarted, so the app recovers from a database
outage without a restart. It connects lazily (`mincached=0`): the app starts even when the database is down.

A request takes a connection only when a view first needs one and gives it back in a teardown hook
(see app.py); `reset=True` rolls back anything left open when it goes back to the pool.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import pymysql
from dbutils.pooled_db import PooledDB, PooledDBError
from pymysql.constants import CLIENT

from .settings import Settings

__all__ = ["Database", "DatabaseUnavailable", "database_errors"]

log = logging.getLogger(__name__)

# What "the database is not there" looks like: refused/lost connections, timeouts, a server shutting down.
_UNAVAILABLE = (pymysql.err.OperationalError, pymysql.err.InterfaceError, PooledDBError)


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


class Database:
    """A pool of PyMySQL connections for one database."""

    def __init__(self, settings: Settings) -> None:
        self._pool = PooledDB(
            creator=pymysql,
            mincached=0,                     # connect on first use, so start-up never needs the database
            maxcached=settings.pool_size,
            maxconnections=settings.pool_size,
            blocking=True,                   # a request waits for a free connection rather than failing
            ping=1,                          # check on checkout; reconnects after a database restart
            reset=True,                      # roll back whatever a request left open
            charset="utf8mb4",
            # Reads see the latest committed data (no snapshot kept open between statements); writes
            # are explicit BEGIN ... COMMIT transactions (repository._transaction).
            autocommit=True,
            # FOUND_ROWS: UPDATE reports matched rows, so saving an unchanged note still counts as found.
            client_flag=CLIENT.FOUND_ROWS,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            write_timeout=settings.write_timeout,
            **settings.database.connect_args(),
        )

    def connection(self) -> pymysql.connections.Connection:
        """A connection from the pool; `.close()` gives it back."""
        with database_errors():
            return self._pool.connection()

    def close(self) -> None:
        self._pool.close()
