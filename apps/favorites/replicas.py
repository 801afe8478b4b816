"""Read/write split: the primary for writes and reads that must see them, a replica for the rest.

    DATABASE_URL          the primary: every write, and reads that must see your own writes (favourites)
    DATABASE_REPLICA_URL  optional, a replica: reads that tolerate a little lag (provinces, areas, search)

Which database a request uses follows from its route (LAG_TOLERANT) and method; without a replica URL
everything goes to the primary, as before. Degraded modes, each without a restart:
- replica down: its reads fall back to the primary;
- primary down: browsing and search keep working from the replica, favourites are read from the replica
  (possibly a moment stale), writes raise WritesUnavailable (a 503 page saying saving is unavailable);
- both down: DatabaseUnavailable, the usual 503 page.
A database that just failed is skipped for RETRY_AFTER seconds, so a dead one costs one failed connect per
process per interval, not one per request (a black-holed host would otherwise cost connect_timeout each).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping

from . import repository
from .db import Database, DatabaseUnavailable
from .settings import Settings, parse_database_url

__all__ = ["Databases", "LAG_TOLERANT", "RETRY_AFTER", "WritesUnavailable"]


#: Route names whose reads may be a moment behind the primary: the areas never change in the app; the area
#: page's "collected" mark may lag a write by the replication delay (the favourites page never does).
LAG_TOLERANT = frozenset({"index", "area", "search"})
RETRY_AFTER = 5.0   # seconds a failed database is skipped before it is tried again
_READS = frozenset({"GET", "HEAD"})


class WritesUnavailable(DatabaseUnavailable):
    """The primary is down while the replica serves reads: browsing works, saving does not."""


class Databases:
    """The primary's pool and, when configured, the replica's; `connection(request)` picks one."""

    def __init__(self, settings: Settings, replica_url: str | None = None) -> None:
        self.primary = Database(settings)
        self.replica = (Database(dataclasses.replace(settings, database=parse_database_url(replica_url)))
                        if replica_url else None)
        self._down_until = {id(self.primary): 0.0, id(self.replica): 0.0}
        self._owner: dict[int, Database] = {}  # id(connection handed out) -> the Database it came from

    @classmethod
    def from_env(cls, settings: Settings, environ: Mapping[str, str] | None = None) -> Databases:
        environ = os.environ if environ is None else environ
        return cls(settings, environ.get("DATABASE_REPLICA_URL") or None)

    def connection(self, request):  # -> a pooled PyMySQL connection; give it back with release()
        if self.replica is None:
            return self.primary.connection()
        if request.method not in _READS:
            try:
                return self._take(self.primary)
            except DatabaseUnavailable as exc:
                raise WritesUnavailable(str(exc)) from exc
        route = getattr(request.route, "name", None)
        order = [self.replica, self.primary] if route in LAG_TOLERANT else [self.primary, self.replica]
        now = time.monotonic()
        order.sort(key=lambda database: self._down_until[id(database)] > now)  # stable: healthy ones first
        for database in order[:-1]:
            try:
                return self._take(database)
            except DatabaseUnavailable:
                continue
        return self._take(order[-1])

    def release(self, con) -> None:
        """Give a connection back to the pool it came from."""
        self._owner.pop(id(con), self.primary).release(con)

    def _take(self, database: Database):
        try:
            con = database.connection()  # the pool pings idle or suspect connections and reconnects
        except DatabaseUnavailable:
            self._down_until[id(database)] = time.monotonic() + RETRY_AFTER
            raise
        self._down_until[id(database)] = 0.0
        self._owner[id(con)] = database  # one dict store: atomic under the GIL, no lock needed
        return con

    def health(self) -> tuple[dict, int]:
        """/healthz's body and status: 200 while pages can be browsed (status "degraded" if a part is down).

        A load balancer should keep sending traffic to a host that answers 200: every host shares the same
        databases, so taking a degraded host out helps nobody. 503 means no database answers at all.
        """
        if self.replica is None:  # one database: the body /healthz always had
            up = _ping(self.primary)
            return ({"status": "ok", "database": "up"} if up else
                    {"status": "unavailable", "database": "down"}), 200 if up else 503
        states = {"primary": _ping(self.primary), "replica": _ping(self.replica)}
        body = {name: "up" if state else "down" for name, state in states.items()}
        body["database"] = "up" if any(states.values()) else "down"
        if not any(states.values()):
            return {"status": "unavailable", **body}, 503
        return {"status": "ok" if all(states.values()) else "degraded", **body}, 200

    def close(self) -> None:
        self.primary.close()
        if self.replica is not None:
            self.replica.close()


def _ping(database: Database) -> bool:
    """Whether the database answers a query, through its /healthz pool (short timeouts: db.py)."""
    try:
        with database.health_connection() as con:
            repository.ping(con)
        return True
    except DatabaseUnavailable:
        return False
