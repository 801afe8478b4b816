"""scripts/localdb.py: the private instance and its clear messages; settings.py's DATABASE_URL parsing."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from apps.favorites.settings import DEFAULT_DATABASE_URL, Settings, SettingsError, parse_database_url
from scripts.localdb import LocalDBError, LocalMariaDB

ROOT = Path(__file__).resolve().parents[2]


def test_default_instance_is_the_apps_default_url() -> None:
    assert LocalMariaDB().url == DEFAULT_DATABASE_URL
    assert LocalMariaDB().datadir == ROOT / ".data" / "mariadb"


def test_start_is_idempotent(mariadb: LocalMariaDB) -> None:
    pid = mariadb._pid()
    again = LocalMariaDB(mariadb.datadir, mariadb.port)  # a second process finding the running instance
    assert again.running()
    again.start()
    assert mariadb._pid() == pid  # the same server, not a second one


def test_port_taken_says_so(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        db = LocalMariaDB(tmp_path / "db", port=s.getsockname()[1])
        with pytest.raises(LocalDBError, match=r"port \d+ on 127.0.0.1 is taken"):
            db.start()


def test_stop_when_not_running_is_fine(tmp_path: Path) -> None:
    assert LocalMariaDB(tmp_path / "never", port=1).stop() is False


def test_cli_reports_status_and_url(mariadb: LocalMariaDB) -> None:
    args = [sys.executable, "-m", "scripts.localdb"]
    opts = ["--datadir", str(mariadb.datadir), "--port", str(mariadb.port)]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    status = subprocess.run([*args, "status", *opts], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert status.returncode == 0, status.stderr
    assert "running" in status.stderr
    url = subprocess.run([*args, "url", *opts], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60, check=False)
    assert url.stdout.strip() == mariadb.url


def test_parse_database_url() -> None:
    cfg = parse_database_url("mysql://us%40er:p%3Ass@db.example:3307/my_db")
    assert (cfg.host, cfg.port, cfg.user, cfg.password, cfg.database) == (
        "db.example", 3307, "us@er", "p:ss", "my_db")
    assert parse_database_url("mysql://u@localhost/x").port == 3306
    sock = parse_database_url("mysql://u:p@localhost/x?unix_socket=/run/mysqld/mysqld.sock")
    assert sock.connect_args()["unix_socket"] == "/run/mysqld/mysqld.sock"


@pytest.mark.parametrize("url", ["postgres://u:p@h/db", "mysql://u:p@h:3306/", "mysql://u:p@h:99999/db",
                                 "mysql://u:p@h/a/b"])
def test_bad_database_url_is_a_clear_error(url: str) -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        parse_database_url(url)


def test_settings_from_env() -> None:
    s = Settings.from_env({"DATABASE_URL": "mysql://a:b@h:1/d", "SECRET_KEY": "k", "DB_POOL_SIZE": "3"})
    assert (s.database.host, s.secret_key, s.pool_size) == ("h", "k", 3)
    assert Settings.from_env({}).database == parse_database_url(DEFAULT_DATABASE_URL)
    with pytest.raises(SettingsError, match="DB_POOL_SIZE"):
        Settings.from_env({"DB_POOL_SIZE": "many"})
