"""Fixtures for the demo's tests: one throwaway MariaDB for the whole session, the app on top of it.

The instance lives in a temp dir on a free port and is stopped at the end; nothing touches the demo's
own `.data/mariadb/` or a system MySQL. Tests that write start from an empty favourites table.

`make mutate` runs these tests once per mutant, hundreds of sessions in a row: it starts one instance for
the whole run and names it in MINIWEB_TEST_MARIADB (`DATADIR:PORT`, scripts/mutate.py). A session then
uses that instance and leaves it running; it first reloads the schema and the reference data (an upsert:
a run killed on timeout inside test_the_character_index_follows_renamed_areas may have left an area
renamed), and `con` empties the app's own tables before each test, as it does for a fresh instance.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.favorites import repository as repo
from apps.favorites.db import Database
from apps.favorites.settings import Settings, parse_database_url
from scripts.localdb import LocalMariaDB
from tests.processes import free_port, running, started

TEST_SECRET_KEY = "tests-secret-key"
SHARED_MARIADB = "MINIWEB_TEST_MARIADB"  # DATADIR:PORT of an instance someone else started and stops


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything that needs the database is marked `db`, so `pytest -m "not db"` runs the rest.
    for item in items:
        if "mariadb" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMariaDB]:
    shared = os.environ.get(SHARED_MARIADB)
    if shared:
        datadir, _, port = shared.rpartition(":")
        db = LocalMariaDB(Path(datadir), port=int(port))
        if not db.running():
            pytest.fail(f"{SHARED_MARIADB}={shared}: no MariaDB answers there")
        yield db.start()  # running already: start() only provisions (schema, areas, grants)
        return
    db = LocalMariaDB(tmp_path_factory.mktemp("mariadb"), port=free_port())
    with started(db.start, db.stop):
        yield db


@pytest.fixture(scope="session")
def settings(mariadb: LocalMariaDB) -> Settings:
    return Settings(database=parse_database_url(mariadb.url), secret_key=TEST_SECRET_KEY, pool_size=25)


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[Database]:
    database = Database(settings)
    yield database
    database.close()


@pytest.fixture
def con(database: Database, mariadb: LocalMariaDB) -> Iterator:
    """A pooled connection; no favourites, users or failed logins when the test starts."""
    if not mariadb.running():  # a failed outage test must not take every later test down with it
        mariadb.start()
    admin = mariadb.admin_connect(database=mariadb.database)  # the app's user may not delete users
    try:
        with admin.cursor() as cur:  # test set-up, not app SQL: the app never empties tables
            for table in ("favorites", "login_failures", "users"):
                cur.execute(f"DELETE FROM {table}")
    finally:
        admin.close()
    con = database.connection()
    try:
        yield con
    finally:
        database.release(con)


@pytest.fixture(scope="session")
def wsgi_app(settings: Settings):
    from apps.favorites import create_app

    return create_app(settings)


@pytest.fixture
def app(settings):
    """A demo app of its own (its own pool and caches), closed after the test."""
    from apps.favorites import create_app

    app = create_app(settings)
    yield app
    app.database.close()


USER, PASSWORD = "测试用户", "correct horse battery"


def sign_up(client, username: str = USER, password: str = PASSWORD):
    """Sign up (and so log in) through the form, as a person would; the response after the redirect."""
    form = client.get("/signup").forms["signup-form"]
    form["username"], form["password"] = username, password
    return form.submit(status=303).follow()


def user_id(con, username: str = USER) -> int:
    return repo.user_by_name(con, username)[0]


def session_status(con, name: str) -> int:
    """A counter the server keeps for this connection's session (``SHOW SESSION STATUS``), so the server
    says what we sent: ``Com_select`` (SELECTs; SHOW is not one), ``Questions`` (every statement, this
    SHOW included), ``Com_admin_commands`` (pings), ``Handler_read_rnd_next`` (rows read by scans)."""
    return _status(con, "SESSION", name)


def global_status(con, name: str) -> int:
    """The same counter summed over every connection (``SHOW GLOBAL STATUS``): what another pool sent,
    on this test session's own MariaDB."""
    return _status(con, "GLOBAL", name)


def _status(con, scope: str, name: str) -> int:
    with con.cursor() as cur:
        cur.execute(f"SHOW {scope} STATUS LIKE %s", (name,))
        return int(cur.fetchone()[1])


@pytest.fixture
def anon(wsgi_app, con):
    """A WebTest client over the app, not logged in; tables emptied (through `con`)."""
    import webtest

    return webtest.TestApp(wsgi_app)


@pytest.fixture
def web(wsgi_app, con):
    """A WebTest client logged in as USER (signed up just now); tables emptied (through `con`)."""
    import webtest

    client = webtest.TestApp(wsgi_app)
    sign_up(client)
    return client


@pytest.fixture
def live_server(mariadb, con, tmp_path: Path) -> Iterator[str]:
    """`python -m server PORT apps.favorites:application` on the test database; its base URL."""
    port = free_port()
    env = {"DATABASE_URL": mariadb.url, "SECRET_KEY": "live-server-test-key"}
    command = [sys.executable, "-m", "server", str(port), "apps.favorites:application"]
    with running(command, port=port, env=env, log=tmp_path / "server.log"):
        yield f"http://127.0.0.1:{port}"
