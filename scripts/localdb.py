"""A private MariaDB instance for the demo and the tests, and the schema + data loader.

    python -m scripts.localdb start|stop|status|url [--datadir DIR] [--port N]

`start` with DATABASE_URL set starts nothing: it loads the schema and data into that database. Otherwise it
runs a MariaDB server of our own: data directory `.data/mariadb/` (git-ignored), its own TCP port on
127.0.0.1 (13306 by default) and unix socket in the data directory, so a system MySQL is left alone.
The first start initialises the directory with `mariadb-install-db`; every start creates the database and
the app user if missing and loads `sql/schema.sql` + `sql/areas.sql` (both idempotent). Starting a running
instance is fine (found through its pid file and a ping). `stop` shuts it down cleanly (SIGTERM is
mariadbd's normal shutdown) and waits for it.

Locked down (every start enforces it, so a data directory made by an older version is migrated in place):
- the administrator (`root`, or the OS user's own name when not run as root) logs in only through the unix
  socket, as the OS user who owns the data directory (`unix_socket` authentication: no password exists to
  guess, and TCP logins as root are refused); the data directory is mode 0700, so no other OS user can
  even reach the socket;
- `secure_file_priv` is `<datadir>/files/`: LOAD DATA / SELECT ... INTO OUTFILE cannot touch anything else
  (an instance running without it is restarted once);
- the app's user may only SELECT the areas and SELECT/INSERT/UPDATE/DELETE its own tables (APP_GRANTS):
  no FILE, no DDL. The schema is loaded by the administrator over the socket, never by the app.

The same as an API, used by the tests for a throwaway instance in a temp dir on a free port:

    db = LocalMariaDB(tmp_path / "db", port=free_port()); db.start(); ...; db.stop(); db.url

The server is started in its own session, so it outlives `make demo`'s shell and ignores its Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pymysql
from pymysql.constants import CLIENT

__all__ = ["LocalMariaDB", "LocalDBError", "DEFAULT_PORT", "DEFAULT_DATADIR", "APP_GRANTS", "free_port",
           "load_sql", "parse_url", "admin_name"]

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SQL_FILES = (ROOT / "sql" / "schema.sql", ROOT / "sql" / "areas.sql")
DEFAULT_DATADIR = ROOT / ".data" / "mariadb"
# MySQL's 3306 with a 1 in front: fixed, memorable, clear of a system server, and below Linux's ephemeral
# range (32768-60999), where any outgoing connection may hold the port for a while (33306 was, once).
DEFAULT_PORT = 13306
START_TIMEOUT = 60.0          # first start on a slow disk: install-db + InnoDB log files take a while
STOP_TIMEOUT = 60.0           # a clean InnoDB shutdown flushes the buffer pool
POLL_INTERVAL = 0.1           # how often to ping a starting server
# What the app does, table by table, and nothing more: the reference data is read-only to it.
APP_GRANTS = {
    "areas": "SELECT",
    "area_chars": "SELECT",  # the search index of the area names, kept by triggers (sql/schema.sql)
    "data_version": "SELECT",  # the areas' version, moved on by triggers: the pages' cache (refcache.py)
    "favorites": "SELECT, INSERT, UPDATE, DELETE",
    "users": "SELECT, INSERT",
    "login_failures": "SELECT, INSERT, UPDATE, DELETE",
}


def admin_name() -> str:
    """The administrator account: `root` for the OS root user, else the OS user's own name.

    `unix_socket` authentication lets an OS user log in only as the MariaDB account of the same name, so a
    non-root owner of the data directory gets an administrator account named after them
    (mariadb-install-db --auth-root-socket-user).
    """
    return "root" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name


class _UnixSocketAuth:
    """PyMySQL client side of MariaDB's `unix_socket` plugin: the server checks SO_PEERCRED, we send nothing.

    Plugged in through `auth_plugin_map`; PyMySQL calls it on the server's auth-switch request.
    """

    def __init__(self, con: pymysql.Connection) -> None:
        self.con = con

    def authenticate(self, packet):  # -> the server's answer packet
        self.con.write_packet(b"")
        answer = self.con._read_packet()
        answer.check_error()
        return answer


class LocalDBError(RuntimeError):
    """Something we cannot do; the message is one sentence saying what to do about it."""


def free_port() -> int:
    """An ephemeral TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_url(url: str) -> dict:
    """`mysql://user:password@host:port/dbname` -> PyMySQL connect() arguments (percent-decoded)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb", "mysql+pymysql") or not parts.path.strip("/"):
        raise LocalDBError(f"DATABASE_URL must look like mysql://user:password@host:port/dbname, got {url!r}")
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "database": unquote(parts.path.strip("/")),
    }


def load_sql(connect_args: dict, files: tuple[Path, ...] = SQL_FILES) -> None:
    """Run the schema and data files (idempotent) against one database."""
    con = pymysql.connect(**connect_args, charset="utf8mb4", client_flag=CLIENT.MULTI_STATEMENTS,
                          connect_timeout=10, autocommit=True)
    try:
        with con.cursor() as cur:
            for path in files:
                cur.execute(path.read_text(encoding="utf-8"))
                while cur.nextset():  # drain every statement's result, so errors surface here
                    pass
    finally:
        con.close()


def _find_binary(*names: str) -> str:
    for name in names:
        # /usr/sbin is not on every user's PATH, but that is where Debian puts mariadbd.
        for found in (shutil.which(name), *(Path(d, name) for d in ("/usr/sbin", "/usr/local/sbin"))):
            if found and Path(found).exists():
                return str(found)
    raise LocalDBError(f"{names[0]} is not installed; install it with `apt-get install mariadb-server` "
                       "(or run `make demo`), or set DATABASE_URL to an existing MySQL/MariaDB database.")


class LocalMariaDB:
    """One private mariadbd: its data directory, port and socket; start() and stop() are idempotent."""

    def __init__(self, datadir: Path = DEFAULT_DATADIR, port: int = DEFAULT_PORT, *,
                 database: str = "favorites", user: str = "favorites", password: str = "favorites",
                 extra_args: tuple[str, ...] = ()) -> None:
        self.datadir = Path(datadir).resolve()
        self.port = port
        self.database, self.user, self.password = database, user, password
        self.extra_args = tuple(extra_args)  # more mariadbd options (scripts/replication.py)
        self.socket = self.datadir / "mariadb.sock"
        self.tmpdir = self.datadir.with_name(self.datadir.name + "-tmp")  # not inside: it is no database
        self.pidfile = self.datadir / "mariadb.pid"
        self.logfile = self.datadir / "mariadb.err"
        self.files_dir = self.datadir / "files"   # secure_file_priv: the only place file I/O may happen
        self.admin = admin_name()
        self._proc: subprocess.Popen | None = None
        if len(str(self.socket)) > 100:  # sun_path is 108 bytes on Linux
            raise LocalDBError(f"the data directory path {self.datadir} is too long for a unix socket; "
                               "use a shorter --datadir.")

    @property
    def url(self) -> str:
        return (f"mysql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
                f"@127.0.0.1:{self.port}/{quote(self.database, safe='')}")

    # -- state ---------------------------------------------------------------------------------------------

    def _pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by someone else
        return pid

    def admin_args(self) -> dict:
        """PyMySQL connect() arguments for the administrator over the unix socket."""
        return {"unix_socket": str(self.socket), "user": self.admin, "password": "",
                "auth_plugin_map": {"unix_socket": _UnixSocketAuth}}

    def admin_connect(self, **kwargs) -> pymysql.Connection:
        return pymysql.connect(**self.admin_args(), charset="utf8mb4", connect_timeout=2, autocommit=True,
                               **kwargs)

    def ping(self) -> bool:
        """True when the server answers on its socket."""
        try:
            self.admin_connect().close()
        except pymysql.MySQLError:
            return False
        return True

    def running(self) -> bool:
        return self._pid() is not None and self.ping()

    # -- start ---------------------------------------------------------------------------------------------

    def start(self) -> LocalMariaDB:
        """Start the server unless it runs already, then make sure database, user, schema and data exist."""
        if self.running() and not self._runs_locked_down():
            # Started by an older version without secure_file_priv: restart it with today's options.
            log.info("restarting MariaDB to confine file access to %s", self.files_dir)
            self.stop()
        if self.running():
            log.info("MariaDB is already running on 127.0.0.1:%d (data in %s)", self.port, self.datadir)
        else:
            self._spawn()
        self._provision()
        return self

    def _spawn(self) -> None:
        mariadbd = _find_binary("mariadbd", "mysqld")
        self._check_port_free()
        self.datadir.mkdir(parents=True, exist_ok=True)
        self.tmpdir.mkdir(exist_ok=True)
        # A private tmpdir: in a shared /tmp, a bootstrap's temporary tables were seen vanishing under
        # parallel test runs ("Error on delete of '/tmp/#sql-temptable-...'", mariadb-install-db aborted).
        self.datadir.chmod(0o700)  # the socket inside is ours alone (older versions left it 0755)
        self.files_dir.mkdir(exist_ok=True)
        user_args = ["--user=root"] if os.geteuid() == 0 else []  # mariadbd refuses root without it
        user_args.append(f"--tmpdir={self.tmpdir}")
        if not (self.datadir / "mysql").is_dir():
            self._install_db(user_args)
        self.pidfile.unlink(missing_ok=True)  # stale: _pid() said the process is gone
        args = [
            mariadbd, "--no-defaults", *user_args,  # --no-defaults: ignore /etc/mysql, it is the system's
            f"--datadir={self.datadir}", f"--socket={self.socket}", f"--pid-file={self.pidfile}",
            f"--log-error={self.logfile}", f"--port={self.port}", "--bind-address=127.0.0.1",
            f"--secure-file-priv={self.files_dir}",
            "--skip-name-resolve",               # no DNS lookups per connection (and none offline)
            "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
            "--innodb-buffer-pool-size=64M",     # a dev box with other things running: 3.5k rows need little
            "--innodb-log-file-size=16M",
            "--performance-schema=OFF",
            "--max-connections=200",
            *self.extra_args,
        ]
        log.info("starting MariaDB on 127.0.0.1:%d (data in %s)", self.port, self.datadir)
        # Own session: Ctrl-C on `make demo` stops the web server, not the database behind it.
        self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not self.ping():
            if self._proc.poll() is not None:
                raise LocalDBError(f"MariaDB exited during start-up (code {self._proc.returncode}); "
                                   f"see {self.logfile}: {self._log_tail()}")
            if time.monotonic() > deadline:
                raise LocalDBError(f"MariaDB did not answer within {START_TIMEOUT:.0f} s; "
                                   f"see {self.logfile}.")
            time.sleep(POLL_INTERVAL)

    def _check_port_free(self) -> None:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as mariadbd does: TIME_WAIT is fine
            try:
                s.bind(("127.0.0.1", self.port))
            except OSError:
                raise LocalDBError(f"port {self.port} on 127.0.0.1 is taken by another program; stop it, "
                                   "or choose another port with --port (and DATABASE_URL).") from None

    def _install_db(self, user_args: list[str]) -> None:
        install = _find_binary("mariadb-install-db", "mysql_install_db")
        log.info("initialising a new MariaDB data directory in %s", self.datadir)
        # The administrator authenticates by the OS user on the socket (unix_socket); no password at all.
        result = subprocess.run(
            [install, "--no-defaults", *user_args, f"--datadir={self.datadir}",
             "--auth-root-authentication-method=socket", f"--auth-root-socket-user={self.admin}",
             "--skip-test-db"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=START_TIMEOUT, check=False)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise LocalDBError(f"mariadb-install-db failed in {self.datadir}: {' / '.join(tail)}")

    def _runs_locked_down(self) -> bool:
        con = self.admin_connect()
        try:
            with con.cursor() as cur:
                cur.execute("SELECT @@secure_file_priv")
                (priv,) = cur.fetchone()
        finally:
            con.close()
        return bool(priv) and Path(priv).resolve() == self.files_dir

    def _provision(self) -> None:
        # Identifiers cannot be parameters; ours come from our own code, quoted all the same.
        db = "`" + self.database.replace("`", "``") + "`"
        con = self.admin_connect()
        try:
            with con.cursor() as cur:
                self._lock_down(cur)
                cur.execute(f"CREATE DATABASE IF NOT EXISTS {db} "
                            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        finally:
            con.close()
        # The schema is loaded here, as the administrator over the socket: the app's user has no DDL.
        load_sql({**self.admin_args(), "database": self.database})
        con = self.admin_connect()
        try:
            with con.cursor() as cur:
                for host in ("127.0.0.1", "localhost"):
                    cur.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s",
                                (self.user, host, self.password))
                    # From scratch each start: whatever an older version granted (ALL PRIVILEGES) goes.
                    cur.execute("REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@%s", (self.user, host))
                    for table, privileges in APP_GRANTS.items():
                        cur.execute(f"GRANT {privileges} ON {db}.`{table}` TO %s@%s", (self.user, host))
        finally:
            con.close()

    def _lock_down(self, cur) -> None:
        """The administrator by unix_socket only; no other root, no anonymous or `mysql` account."""
        cur.execute("ALTER USER %s@'localhost' IDENTIFIED VIA unix_socket", (self.admin,))
        cur.execute("SELECT user, host FROM mysql.user WHERE (user = 'root' AND host <> 'localhost') "
                    "OR user = '' OR (user = 'mysql' AND host = 'localhost' AND user <> %s)", (self.admin,))
        for user, host in cur.fetchall():
            log.info("dropping the account %r@%r left by an older version", user, host)
            cur.execute("DROP USER %s@%s", (user, host))

    # -- stop ----------------------------------------------------------------------------------------------

    def stop(self) -> bool:
        """Shut the server down cleanly and wait for it; False when it was not running."""
        pid = self._pid()
        if pid is None:
            return False
        log.info("stopping MariaDB (pid %d)", pid)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while self._alive(pid):
            if time.monotonic() > deadline:
                raise LocalDBError(f"MariaDB (pid {pid}) did not stop within {STOP_TIMEOUT:.0f} s; "
                                   f"see {self.logfile}, or kill it with `kill -9 {pid}`.")
            time.sleep(POLL_INTERVAL)
        return True

    def _alive(self, pid: int) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            if self._proc.poll() is None:  # our child: reap it, or it lingers as a zombie
                return True
            self._proc = None
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def _log_tail(self, lines: int = 3) -> str:
        with contextlib.suppress(OSError):
            return " / ".join(self.logfile.read_text(errors="replace").strip().splitlines()[-lines:])
        return "(no log)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The demo's private MariaDB instance.")
    parser.add_argument("command", choices=["start", "stop", "status", "url"])
    parser.add_argument("--datadir", type=Path, default=DEFAULT_DATADIR)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="localdb: %(message)s", stream=sys.stderr)
    external = os.environ.get("DATABASE_URL")
    try:
        if external and args.command == "start":
            log.info("DATABASE_URL is set: starting nothing, loading schema and data into it")
            try:
                load_sql(parse_url(external))
            except pymysql.MySQLError as exc:
                raise LocalDBError(f"cannot load the schema into DATABASE_URL's database ({exc.args[-1]}); "
                                   "check that it runs and the user may create tables.") from None
            return 0
        db = LocalMariaDB(args.datadir, args.port)
        if args.command == "start":
            db.start()
            log.info("ready: DATABASE_URL=%s", db.url)
        elif args.command == "stop":
            if not db.stop():
                log.info("MariaDB was not running (data in %s)", db.datadir)
        elif args.command == "status":
            running = db.running()
            log.info("%s (127.0.0.1:%d, data in %s)", "running" if running else "stopped",
                     db.port, db.datadir)
            return 0 if running else 3
        else:
            sys.stdout.write((external or db.url) + "\n")
    except LocalDBError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
