"""The demo in a real browser: headless Chromium (Selenium) -> our server (subprocess) -> the test MariaDB.

The whole flow, at a desktop size (1280x900) and a phone's (390x844): sign up, browse 广东省 -> 深圳市 (with
its map), collect it (back on the same page with a notice), un-collect it through the confirmation page,
collect it again, set its note to `我的家乡 <b>深圳</b>` (shown as text, the notice on screen), remove it
(confirming), log out, log in again; a second user sees none of the first user's favourites.
A screenshot of each step goes to test-output/screenshots/<size>-NN-<step>.png.
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
        driver.set_window_size(1280, 900)
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()


@pytest.mark.parametrize(("size", "width", "height"), [("desktop", 1280, 900), ("phone", 390, 844)])
def test_the_whole_flow_in_chromium(live_server: str, browser, con, size: str, width: int,
                                    height: int) -> None:
    server = live_server
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.set_window_size(width, height)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = iter(range(1, 100))

    def shot(name: str) -> None:
        browser.save_screenshot(str(SCREENSHOTS / f"{size}-{next(shots):02d}-{name}.png"))

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

    def on_screen(element) -> bool:
        top = browser.execute_script("return arguments[0].getBoundingClientRect().top", element)
        return 0 <= top < browser.execute_script("return window.innerHeight")

    def fill_account_form(form_id: str, name: str, password: str) -> None:
        form = browser.find_element(By.ID, form_id)
        form.find_element(By.NAME, "username").send_keys(name)
        form.find_element(By.NAME, "password").send_keys(password)
        click_and_wait(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))

    name, password = f"{size}用户", "a long enough password"
    browser.get(server + "/")
    assert h1() == "全国 34 个省级行政区"
    nav = browser.find_element(By.ID, "nav-login")
    assert nav.size["height"] >= 44  # a touch target, also on the phone
    shot("index")

    click_and_wait(browser.find_element(By.ID, "nav-signup"))
    fill_account_form("signup-form", name, password)
    assert browser.find_element(By.ID, "user-name").text == name
    assert "账号已创建" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    shot("signed-up")

    click_and_wait(browser.find_element(By.LINK_TEXT, "广东省"))
    assert h1() == "广东省"
    assert browser.find_element(By.CSS_SELECTOR, ".pagination [aria-current=page]").text == "1"
    shot("guangdong")

    click_and_wait(browser.find_element(By.LINK_TEXT, "深圳市"))
    assert h1() == "深圳市"
    svg = browser.find_element(By.CSS_SELECTOR, "svg.china-map")
    assert svg.size["width"] <= width and svg.find_elements(By.CSS_SELECTOR, "circle.child")
    shot("shenzhen-map")

    click_and_wait(browser.find_element(By.ID, "collect"))  # POST with the CSRF token, 303 back here
    assert browser.current_url == server + "/areas/440300"
    assert "已收藏深圳市" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    shot("collected")

    click_and_wait(browser.find_element(By.ID, "uncollect"))
    assert "取消收藏深圳市？" in h1()
    shot("confirm-uncollect")
    click_and_wait(browser.find_element(By.CSS_SELECTOR, "#confirm-remove button"))
    assert browser.current_url == server + "/areas/440300"
    assert "已取消收藏深圳市" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    click_and_wait(browser.find_element(By.ID, "collect"))

    click_and_wait(browser.find_element(By.ID, "nav-favorites"))  # "收藏" in the header
    assert browser.current_url == server + "/favorites"
    assert browser.find_element(By.ID, "nav-favorites").get_attribute("aria-current") == "page"
    row = browser.find_element(By.ID, "fav-440300")
    assert "深圳市" in row.text
    assert browser.find_elements(By.CSS_SELECTOR, "svg.china-map circle")
    shot("favorites")

    note = row.find_element(By.NAME, "note")
    note.clear()
    note.send_keys(NOTE)
    click_and_wait(row.find_element(By.CSS_SELECTOR, ".note-form button"))
    shown = browser.find_element(By.CSS_SELECTOR, "#fav-440300 .note")
    assert shown.text == NOTE                                            # the tags are text...
    assert shown.find_elements(By.TAG_NAME, "b") == []                   # ...not markup
    notice = browser.find_element(By.CSS_SELECTOR, "#fav-440300 .notice")
    assert notice.text == "已保存深圳市的备注。" and on_screen(notice)      # visible without scrolling
    shot("note-saved")

    click_and_wait(browser.find_element(By.ID, "remove-440300"))
    assert "取消收藏深圳市？" in h1()
    click_and_wait(browser.find_element(By.CSS_SELECTOR, "#confirm-remove button"))
    assert "已取消收藏" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    assert browser.find_elements(By.ID, "fav-440300") == []
    shot("removed")

    click_and_wait(browser.find_element(By.LINK_TEXT, "全国"))
    click_and_wait(browser.find_element(By.LINK_TEXT, "北京市"))
    click_and_wait(browser.find_element(By.ID, "collect"))  # one favourite kept for the second user's check
    click_and_wait(browser.find_element(By.ID, "logout"))
    assert "已退出登录" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    shot("logged-out")

    click_and_wait(browser.find_element(By.ID, "nav-login"))
    fill_account_form("login-form", name, password)
    click_and_wait(browser.find_element(By.ID, "nav-favorites"))
    assert browser.find_elements(By.ID, "fav-110000")
    click_and_wait(browser.find_element(By.ID, "logout"))

    click_and_wait(browser.find_element(By.ID, "nav-signup"))
    fill_account_form("signup-form", f"{size}第二人", password)
    click_and_wait(browser.find_element(By.ID, "nav-favorites"))
    assert browser.find_elements(By.CSS_SELECTOR, "ul.favorites li") == []  # none of the first user's
    assert "还没有收藏" in browser.page_source
    shot("second-user")
