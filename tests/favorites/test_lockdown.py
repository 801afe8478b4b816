"""The private MariaDB is locked down (checked against the real instance the tests start):
no TCP root, no password-less account, file I/O confined to <datadir>/files, the app user's grants minimal."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pymysql
import pytest

from scripts.localdb import APP_GRANTS, LocalMariaDB


def _app_con(mariadb: LocalMariaDB) -> pymysql.Connection:
    return pymysql.connect(host="127.0.0.1", port=mariadb.port, user=mariadb.user, password=mariadb.password,
                           database=mariadb.database, connect_timeout=5)


@pytest.mark.parametrize("password", ["", "root", "favorites"])
def test_root_over_tcp_is_refused(mariadb: LocalMariaDB, password: str) -> None:
    with pytest.raises(pymysql.err.OperationalError) as refused:
        pymysql.connect(host="127.0.0.1", port=mariadb.port, user="root", password=password,
                        connect_timeout=5)
    assert refused.value.args[0] == 1045  # ER_ACCESS_DENIED_ERROR


def test_root_over_the_socket_needs_the_owner(mariadb: LocalMariaDB) -> None:
    con = mariadb.admin_connect()  # we are the OS user owning the data dir: unix_socket lets us in
    try:
        with con.cursor() as cur:
            cur.execute("SELECT user, host, priv FROM mysql.global_priv")
            accounts = [(user, host, json.loads(priv)) for user, host, priv in cur.fetchall()]
            cur.execute("SELECT host FROM mysql.user WHERE user = 'root'")
            root_hosts = {host for (host,) in cur.fetchall()}
            cur.execute("SHOW GRANTS FOR CURRENT_USER()")
            admin_grants = " ".join(g for (g,) in cur.fetchall())
    finally:
        con.close()
    # Every account that can log in needs a password hash or the OS user (mariadb.sys is locked).
    passwordless = [(user, host) for user, host, priv in accounts
                    if not priv.get("account_locked") and priv.get("plugin") != "unix_socket"
                    and not priv.get("authentication_string")]
    assert passwordless == []
    assert root_hosts <= {"localhost"}
    assert "unix_socket" in admin_grants
    # The socket sits in a directory only its owner may enter.
    mode = stat.S_IMODE(os.stat(mariadb.datadir).st_mode)
    assert mode == 0o700 and os.stat(mariadb.datadir).st_uid == os.geteuid()


def test_file_io_is_confined_to_the_files_dir(mariadb: LocalMariaDB, tmp_path: Path) -> None:
    con = mariadb.admin_connect()
    try:
        with con.cursor() as cur:
            cur.execute("SELECT @@secure_file_priv")
            (priv,) = cur.fetchone()
            outside = tmp_path / "outfile.txt"
            with pytest.raises(pymysql.err.OperationalError) as refused:
                cur.execute(f"SELECT 1 INTO OUTFILE '{outside}'")
            inside = mariadb.files_dir / f"probe-{os.getpid()}.txt"
            cur.execute(f"SELECT 1 INTO OUTFILE '{inside}'")  # the one place file I/O is allowed
    finally:
        con.close()
    assert Path(priv).resolve() == mariadb.files_dir and mariadb.files_dir.parent == mariadb.datadir
    assert refused.value.args[0] == 1290  # ER_OPTION_PREVENTS_STATEMENT: --secure-file-priv
    assert not outside.exists() and inside.read_text() == "1\n"
    inside.unlink()


def test_app_user_cannot_write_files(mariadb: LocalMariaDB) -> None:
    target = mariadb.files_dir / "app-outfile.txt"
    con = _app_con(mariadb)
    try:
        with con.cursor() as cur, pytest.raises(pymysql.err.OperationalError) as refused:
            cur.execute(f"SELECT district FROM areas LIMIT 1 INTO OUTFILE '{target}'")
    finally:
        con.close()
    assert refused.value.args[0] == 1227  # ER_SPECIFIC_ACCESS_DENIED_ERROR: needs FILE
    assert not target.exists()


def test_app_user_grants_are_minimal(mariadb: LocalMariaDB) -> None:
    con = _app_con(mariadb)
    try:
        with con.cursor() as cur:
            cur.execute("SHOW GRANTS")
            grants = sorted(g for (g,) in cur.fetchall())
            with pytest.raises(pymysql.err.OperationalError) as ddl:
                cur.execute("CREATE TABLE evil (x INT)")
            with pytest.raises(pymysql.err.OperationalError):
                cur.execute("DELETE FROM areas WHERE district_id = 110000")
    finally:
        con.close()
    assert ddl.value.args[0] == 1142  # ER_TABLEACCESS_DENIED_ERROR
    usage = [g for g in grants if g.startswith("GRANT USAGE ON *.* ")]
    tables = [g for g in grants if g not in usage]
    assert len(usage) == 1 and usage[0].startswith(f"GRANT USAGE ON *.* TO `{mariadb.user}`@`127.0.0.1`")
    expected = sorted(f"GRANT {privileges} ON `{mariadb.database}`.`{table}` TO `{mariadb.user}`@`127.0.0.1`"
                      for table, privileges in APP_GRANTS.items())
    assert tables == expected


def test_an_old_open_data_dir_is_migrated(tmp_path: Path) -> None:
    """A data dir as older versions made it (root without password on TCP, ALL PRIVILEGES) is locked down."""
    from tests.processes import free_port

    db = LocalMariaDB(tmp_path / "old", port=free_port())
    db.start()
    try:
        con = db.admin_connect()
        with con.cursor() as cur:  # undo the lock-down the way the old code left things
            cur.execute("CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY ''")
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1'")
            cur.execute("GRANT ALL PRIVILEGES ON favorites.* TO 'favorites'@'127.0.0.1'")
        con.close()
        pymysql.connect(host="127.0.0.1", port=db.port, user="root", password="").close()  # open now
        db.start()  # running already: start() migrates it all the same
        with pytest.raises(pymysql.err.OperationalError):
            pymysql.connect(host="127.0.0.1", port=db.port, user="root", password="", connect_timeout=5)
        con = _app_con(db)
        with con.cursor() as cur:
            cur.execute("SHOW GRANTS")
            assert not any("ALL PRIVILEGES" in g for (g,) in cur.fetchall())
        con.close()
    finally:
        db.stop()
