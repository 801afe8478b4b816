"""The demo's settings, all from the environment (one object, read once at start-up).

    DATABASE_URL   mysql://user:password@host:port/dbname  (default: scripts/localdb.py's private instance)
    SECRET_KEY     signs CSRF tokens; every process behind one load balancer needs the same value
    DB_POOL_SIZE   connections per process (default 10)
    REFCACHE_ENTRIES   the areas' in-process cache, in entries (default 4096; 0 = off): refcache.py
    REFCACHE_SEARCHES  search pages kept in process (default 512; 0 = none)
    MINIWEB_DEBUG  1 shows tracebacks on the 500 page (never in production)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

__all__ = ["DEFAULT_DATABASE_URL", "DatabaseConfig", "Settings", "SettingsError", "parse_database_url"]

log = logging.getLogger(__name__)

# Must match scripts/localdb.py's defaults (a test checks it): `make demo` works with no settings at all.
DEFAULT_DATABASE_URL = "mysql://favorites:favorites@127.0.0.1:13306/favorites"
# Fixed, so several demo processes agree on CSRF tokens; a warning says to set a real one.
_DEV_SECRET_KEY = "miniweb-demo-insecure-dev-key"
# Entries of the areas' cache: every area's family (3,422), its list pages, the areas of favourites (the
# data bounds them too: ~11 MB all in); and of search pages (~20 KB each, so 512 is ~10 MB at most).
REFCACHE_ENTRIES = 4096
REFCACHE_SEARCHES = 512


class SettingsError(ValueError):
    """A setting that cannot be used; the message says which and why."""


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    host: str
    port: int
    user: str
    password: str
    database: str
    unix_socket: str | None = None

    def connect_args(self) -> dict:
        """Keyword arguments for pymysql.connect()."""
        args = {"host": self.host, "port": self.port, "user": self.user, "password": self.password,
                "database": self.database}
        if self.unix_socket:
            args["unix_socket"] = self.unix_socket
        return args


def parse_database_url(url: str) -> DatabaseConfig:
    """`mysql://user:password@host:port/dbname[?unix_socket=/path]`; user, password, name percent-decoded."""
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb", "mysql+pymysql"):
        raise SettingsError(f"DATABASE_URL must start with mysql://, got {parts.scheme or 'nothing'}://")
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise SettingsError("DATABASE_URL must name one database: mysql://user:password@host:port/dbname")
    try:
        port = parts.port or 3306
    except ValueError:
        raise SettingsError("DATABASE_URL has a port that is not a number between 0 and 65535") from None
    query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
    return DatabaseConfig(host=parts.hostname or "127.0.0.1", port=port,
                          user=unquote(parts.username or "root"), password=unquote(parts.password or ""),
                          database=database,
                          unix_socket=unquote(query["unix_socket"]) if "unix_socket" in query else None)


def _int(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    database: DatabaseConfig
    secret_key: str
    pool_size: int = 10            # per process; MariaDB's default max_connections is 151
    # Seconds. Together they bound a page's wait on a hung database (issue 12: a 503 within 12 s): at most
    # the pool wait, or a ping plus a connect, or a connect plus a read; /healthz stays within 3 s.
    connect_timeout: float = 2     # a refused connection fails at once; a hung server's greeting this late
    read_timeout: float = 6        # our queries take milliseconds: this catches a hung server
    write_timeout: float = 6
    pool_wait_timeout: float = 3   # for a free connection when all are busy, then 503
    pool_ping_after: float = 5     # a connection idle longer than this is pinged before use
    health_timeout: float = 1      # /healthz: its own pool; connect and query each within this
    debug: bool = False
    refcache_entries: int = REFCACHE_ENTRIES  # the areas' cache (refcache.py); 0 turns it off
    refcache_searches: int = REFCACHE_SEARCHES  # search pages in it; 0 turns that part off

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        secret_key = environ.get("SECRET_KEY", "")
        if not secret_key:
            log.warning("SECRET_KEY is not set: using the fixed development key, fine for the demo only")
            secret_key = _DEV_SECRET_KEY
        return cls(
            database=parse_database_url(environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL),
            secret_key=secret_key,
            pool_size=_int(environ, "DB_POOL_SIZE", 10, 1, 1000),
            debug=environ.get("MINIWEB_DEBUG", "") in ("1", "true", "yes"),
            refcache_entries=_int(environ, "REFCACHE_ENTRIES", REFCACHE_ENTRIES, 0, 1_000_000),
            refcache_searches=_int(environ, "REFCACHE_SEARCHES", REFCACHE_SEARCHES, 0, 1_000_000),
        )
