"""Logging: one configure call, and one log line per request."""

from __future__ import annotations

import logging
import re

import pytest
import webtest

from miniweb import App, configure_logging


@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def _app():
    app = App(template_folder=None)

    @app.route(r"/areas/(\d+)")
    def area(request, district_id):
        return district_id

    return app


def test_request_log_line(caplog):
    with caplog.at_level(logging.INFO, logger="miniweb.request"):
        client = webtest.TestApp(_app())
        client.get("/areas/12?x=1")
        client.get("/%E5%9C%B0%E5%8C%BA", status=404)
    lines = [r.getMessage() for r in caplog.records if r.name == "miniweb.request"]
    assert len(lines) == 2
    assert re.fullmatch(r"GET /areas/12 200 \d+\.\dms", lines[0])
    assert re.fullmatch(r"GET /地区 404 \d+\.\dms", lines[1])


def test_configure_logging_to_a_file(tmp_path, restore_root_logger):
    log = tmp_path / "app.log"
    configure_logging("INFO", filename=str(log), fmt="%(levelname)s|%(name)s|%(message)s")
    configure_logging(
        "INFO", filename=str(log), fmt="%(levelname)s|%(name)s|%(message)s"
    )  # replaces, no duplicate
    webtest.TestApp(_app()).get("/areas/5")
    logging.getLogger("myapp").debug("hidden at INFO")
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and lines[0].startswith("INFO|miniweb.request|GET /areas/5 200 ")


def test_configure_logging_level_filters(tmp_path, restore_root_logger):
    log = tmp_path / "warn.log"
    configure_logging(logging.WARNING, filename=str(log))
    webtest.TestApp(_app()).get("/areas/5")
    logging.getLogger("myapp").warning("警告 shown")
    text = log.read_text(encoding="utf-8")
    assert "miniweb.request" not in text and "WARNING myapp: 警告 shown" in text
