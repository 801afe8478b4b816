"""The demo in a real browser: headless Chromium (Selenium) -> our server (subprocess) -> the test MariaDB.

Open /, go to 广东省, collect 深圳市, see it under 收藏, set its note to `我的家乡 <b>深圳</b>`, see it shown
as text, remove it. A screenshot of each page goes to test-output/screenshots/.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.localdb import free_port

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
NOTE = "我的家乡 <b>深圳</b>"
SERVER_START_TIMEOUT = 30.0
# Without these Chromium tries the network (updates, sync, safe browsing) and hangs on a machine without it.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--lang=zh-CN"]


def _wait_for_port(proc: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with code {proc.returncode}: {log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not listen on {port} within {SERVER_START_TIMEOUT} s")
            time.sleep(0.1)


@pytest.fixture
def server(mariadb, con, tmp_path: Path) -> Iterator[str]:
    """`python -m server PORT apps.favorites:application` on the test database; its base URL."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": mariadb.url, "SECRET_KEY": "browser-test-key",
           "PYTHONPATH": str(ROOT)}
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "server", str(port), "apps.favorites:application"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(proc, port, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.set_window_size(1024, 900)
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()


def test_collect_note_and_remove_in_chromium(server: str, browser, con) -> None:
    from selenium.webdriver.common.by import By

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = iter(range(1, 100))

    def shot(name: str) -> None:
        browser.save_screenshot(str(SCREENSHOTS / f"{next(shots):02d}-{name}.png"))

    def h1() -> str:
        return browser.find_element(By.TAG_NAME, "h1").text

    browser.get(server + "/")
    assert h1() == "全国 34 个省级行政区"
    shot("index")

    browser.find_element(By.LINK_TEXT, "广东省").click()
    assert h1() == "广东省"
    assert browser.current_url == server + "/areas/440000"
    shot("guangdong")

    browser.find_element(By.LINK_TEXT, "深圳市").click()
    assert h1() == "深圳市"
    shot("shenzhen")

    browser.find_element(By.ID, "collect").click()  # POST with the CSRF token, 303 to /favorites
    assert browser.current_url.startswith(server + "/favorites?added=440300")
    assert "已收藏深圳市" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    shot("collected")

    browser.find_element(By.ID, "nav-favorites").click()  # "收藏" in the header
    assert browser.current_url == server + "/favorites"
    row = browser.find_element(By.ID, "fav-440300")
    assert "深圳市" in row.text
    shot("favorites")

    note = row.find_element(By.NAME, "note")
    note.clear()
    note.send_keys(NOTE)
    row.find_element(By.CSS_SELECTOR, ".note-form button").click()
    shown = browser.find_element(By.CSS_SELECTOR, "#fav-440300 .note")
    assert shown.text == NOTE                                            # the tags are text...
    assert shown.find_elements(By.TAG_NAME, "b") == []                   # ...not markup
    field = browser.find_element(By.CSS_SELECTOR, "#fav-440300 input[name=note]")
    assert field.get_attribute("value") == NOTE
    shot("note")

    browser.set_window_size(390, 844)  # a phone: the same page must stay readable
    shot("note-phone")
    browser.set_window_size(1024, 900)

    browser.find_element(By.CSS_SELECTOR, "#fav-440300 .remove-form button").click()
    assert "已取消收藏" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    assert browser.find_elements(By.ID, "fav-440300") == []
    assert "还没有收藏" in browser.page_source
    shot("removed")
