"""Fixtures that run the real server on an ephemeral port in a background thread, and stop it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from server import Config, Server
from tests.server.client import Running

# Plain asserts in the shared helper module explain their failures as a test's would.
pytest.register_assert_rewrite("tests.server.sansio")


@pytest.fixture
def serve() -> Iterator[Callable[..., Running]]:
    """`serve(app, **config_changes)` starts a server on 127.0.0.1:<ephemeral> and stops it afterwards."""
    running: list[Running] = []

    def start(app: Callable, **changes: object) -> Running:
        config = Config(port=0, access_log=False, threads=16).replace(**changes)
        server = Server(app, config)
        thread = threading.Thread(target=server.serve_forever, name="test-server", daemon=True)
        thread.start()
        running.append(Running(server, thread))
        return running[-1]

    yield start
    for item in running:
        item.stop()
