"""The demo in a real browser: headless Chromium (Selenium) -> our server (subprocess) -> the test MariaDB.

Open /, go to 广东省, collect 深圳市, see it under 收藏, set its note to `我的家乡 <b>深圳</b>`, see it shown
as text, remove it. A screenshot of each page goes to test-output/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
NOTE = "我的家乡 <b>深圳</b>"
# Without these Chromium tries the network (updates, sync, safe browsing) and hangs on a machine without it.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--lang=zh-CN"]


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


def test_collect_note_and_remove_in_chromium(live_server: str, browser, con) -> None:
    server = live_server
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = iter(range(1, 100))

    def shot(name: str) -> None:
        browser.save_screenshot(str(SCREENSHOTS / f"{next(shots):02d}-{name}.png"))

    def click_and_wait(element) -> None:
        # A click only starts a navigation (a form post, a 303, the next page); wait until the old page
        # is gone, else the next find_element may still see it.
        old_page = browser.find_element(By.TAG_NAME, "html")
        element.click()
        WebDriverWait(browser, 30).until(lambda _: gone(old_page))

    def gone(element) -> bool:
        """True once `element`'s page was replaced. Mid-navigation ChromeDriver may answer "node does
        not belong to the document" instead of a stale-element error (so `staleness_of` is not enough)."""
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    def h1() -> str:
        return browser.find_element(By.TAG_NAME, "h1").text

    browser.get(server + "/")
    assert h1() == "全国 34 个省级行政区"
    shot("index")

    click_and_wait(browser.find_element(By.LINK_TEXT, "广东省"))
    assert h1() == "广东省"
    assert browser.current_url == server + "/areas/440000"
    shot("guangdong")

    click_and_wait(browser.find_element(By.LINK_TEXT, "深圳市"))
    assert h1() == "深圳市"
    shot("shenzhen")

    click_and_wait(browser.find_element(By.ID, "collect"))  # POST with the CSRF token, 303 back here
    assert browser.current_url == server + "/areas/440300"
    assert "已收藏深圳市" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    assert browser.find_elements(By.ID, "uncollect")
    shot("collected")

    click_and_wait(browser.find_element(By.ID, "nav-favorites"))  # "收藏" in the header
    assert browser.current_url == server + "/favorites"
    row = browser.find_element(By.ID, "fav-440300")
    assert "深圳市" in row.text
    shot("favorites")

    note = row.find_element(By.NAME, "note")
    note.clear()
    note.send_keys(NOTE)
    click_and_wait(row.find_element(By.CSS_SELECTOR, ".note-form button"))
    shown = browser.find_element(By.CSS_SELECTOR, "#fav-440300 .note")
    assert shown.text == NOTE                                            # the tags are text...
    assert shown.find_elements(By.TAG_NAME, "b") == []                   # ...not markup
    field = browser.find_element(By.CSS_SELECTOR, "#fav-440300 input[name=note]")
    assert field.get_attribute("value") == NOTE
    shot("note")

    notice = browser.find_element(By.CSS_SELECTOR, "#fav-440300 .notice")
    assert notice.text == "已保存深圳市的备注。"

    browser.set_window_size(390, 844)  # a phone: the same page must stay readable, the notice on screen
    browser.get(browser.current_url)
    shot("note-phone")
    browser.set_window_size(1024, 900)

    click_and_wait(browser.find_element(By.ID, "remove-440300"))
    assert "取消收藏深圳市？" in h1()
    shot("confirm-remove")
    click_and_wait(browser.find_element(By.CSS_SELECTOR, "#confirm-remove button"))
    assert "已取消收藏" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    assert browser.find_elements(By.ID, "fav-440300") == []
    assert "还没有收藏" in browser.page_source
    shot("removed")
