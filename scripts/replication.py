"""MariaDB GTID replication between two private instances: one primary, one read-only replica.

    primary = LocalMariaDB(dir1, port1, extra_args=primary_args(1))
    replica = LocalMariaDB(dir2, port2, extra_args=replica_args(2))
    primary.start(); replica.start(); setup_replication(primary, replica)
    replication_status(primary, replica)  # threads, lag, GTID positions

Both instances are provisioned from the same sql/ files by LocalMariaDB.start(), so they hold the same data
before replication begins; the replica then starts at the primary's current GTID position
(`gtid_slave_pos = @@gtid_binlog_pos`) and follows it with `MASTER_USE_GTID=slave_pos`, which lets it resume
at the right transaction after either side restarts (MariaDB KB "Global Transaction ID"). On a real system
the replica is seeded from a dump taken with `mariadb-dump --gtid` instead.

The replica runs `--read-only`: the app's user cannot write there by mistake; replication and the
administrator (over the unix socket, `LocalMariaDB.admin_connect()`) can.
"""

from __future__ import annotations

import logging
import secrets
import time

import pymysql

from .localdb import LocalDBError, LocalMariaDB

__all__ = ["REPLICATION_USER", "primary_args", "replica_args", "setup_replication", "replication_status",
           "wait_caught_up"]

log = logging.getLogger(__name__)

REPLICATION_USER = "replicator"
POLL_INTERVAL = 0.05


def primary_args(server_id: int = 1) -> tuple[str, ...]:
    return (f"--server-id={server_id}",
            "--log-bin=primary-bin",        # the binary log is what replicas read
            "--binlog-format=ROW",          # row images: deterministic on the replica whatever the SQL
            "--gtid-strict-mode=ON")        # refuse anything that would make GTID positions ambiguous


def replica_args(server_id: int = 2) -> tuple[str, ...]:
    return (f"--server-id={server_id}",
            "--relay-log=replica-relay-bin",  # a fixed name, not one derived from the host name
            "--read-only=ON",
            "--gtid-strict-mode=ON")


def _root(db: LocalMariaDB) -> pymysql.Connection:
    # The administrator over the unix socket (unix_socket authentication): the only way in with the rights
    # replication needs; root over TCP is refused on a locked-down instance (scripts/localdb.py).
    return db.admin_connect(read_timeout=10, cursorclass=pymysql.cursors.DictCursor)


def setup_replication(primary: LocalMariaDB, replica: LocalMariaDB, password: str | None = None) -> None:
    """Create the replication user on the primary and point the replica at it (fresh instances only)."""
    password = password or secrets.token_urlsafe(18)
    con = _root(primary)
    try:
        with con.cursor() as cur:
            user = (REPLICATION_USER, password)
            cur.execute("CREATE USER IF NOT EXISTS %s@'127.0.0.1' IDENTIFIED BY %s", user)
            cur.execute("ALTER USER %s@'127.0.0.1' IDENTIFIED BY %s", user)
            cur.execute("GRANT REPLICATION SLAVE ON *.* TO %s@'127.0.0.1'", (REPLICATION_USER,))
            cur.execute("SELECT @@gtid_binlog_pos AS pos")
            position = cur.fetchone()["pos"]
    finally:
        con.close()
    con = _root(replica)
    try:
        with con.cursor() as cur:
            cur.execute("STOP SLAVE")
            cur.execute("SET GLOBAL gtid_slave_pos = %s", (position,))
            cur.execute("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%s, MASTER_USER=%s, "
                        "MASTER_PASSWORD=%s, MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos",
                        (primary.port, REPLICATION_USER, password))
            cur.execute("START SLAVE")
    finally:
        con.close()
    log.info("replica on port %d follows the primary on port %d from GTID %r", replica.port, primary.port,
             position)


def _query_one(db: LocalMariaDB, sql: str) -> dict | None:
    try:
        con = _root(db)
    except pymysql.MySQLError:
        return None
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()
    finally:
        con.close()


def replication_status(primary: LocalMariaDB, replica: LocalMariaDB) -> dict:
    """What `status` shows: the replica's threads, lag in seconds (None when unknown) and GTID positions.

    `seconds_behind_primary` is the server's own estimate (SHOW SLAVE STATUS); `caught_up` compares GTIDs,
    which is exact: the replica has applied everything the primary has written.
    """
    source = _query_one(primary, "SELECT @@gtid_binlog_pos AS pos")
    applied = _query_one(replica, "SELECT @@gtid_slave_pos AS pos")
    state = _query_one(replica, "SHOW SLAVE STATUS")
    status: dict = {
        "primary_gtid": source["pos"] if source else None,
        "replica_gtid": applied["pos"] if applied else None,
        "io_running": state["Slave_IO_Running"] if state else None,
        "sql_running": state["Slave_SQL_Running"] if state else None,
        "seconds_behind_primary": state["Seconds_Behind_Master"] if state else None,
        "last_error": (state["Last_IO_Error"] or state["Last_SQL_Error"]) if state else None,
    }
    status["caught_up"] = bool(source and applied and source["pos"] == applied["pos"])
    return status


def wait_caught_up(primary: LocalMariaDB, replica: LocalMariaDB, timeout: float = 30.0) -> dict:
    """Poll until the replica has applied the primary's last transaction; its status, or LocalDBError."""
    deadline = time.monotonic() + timeout
    while True:
        status = replication_status(primary, replica)
        if status["caught_up"]:
            return status
        if time.monotonic() > deadline:
            raise LocalDBError(f"the replica did not catch up within {timeout:.0f} s: {status}")
        time.sleep(POLL_INTERVAL)
