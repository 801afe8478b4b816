"""Requests with http.client (a fresh connection each); a `Browser` keeps cookies across requests and hosts.

The demo's favourites are per user, so a test that collects first signs up (or logs in) with a Browser; its
cookie jar is one site's, whichever host answers, which is what lets a test send the cookies minted by one
app host to another.
"""

from __future__ import annotations

import http.client
import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "cluster-test-password"
_ADDED = 'class="notice success" role="status">已收藏'   # the flash; not the page's own "已收藏 ·" mark
_ALREADY = "已经收藏过了"
TOKEN_PAGE = "/areas/110000"   # any page with a form carries the CSRF token


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str
    set_cookies: list[str] = field(default_factory=list)   # every Set-Cookie header (dict keeps one)

    def token(self) -> str:
        """The CSRF token of the page's first form."""
        return _TOKEN.search(self.text).group(1)


def update_jar(jar: dict[str, str], set_cookies: list[str]) -> None:
    """Apply Set-Cookie headers to `jar` (name -> value): a Max-Age=0 or an empty value deletes."""
    for header in set_cookies:
        pair, _, attributes = header.partition(";")
        name, _, value = pair.strip().partition("=")
        if not value or "max-age=0" in attributes.lower().replace(" ", ""):
            jar.pop(name, None)
        else:
            jar[name] = value


def collect_outcome(page: str) -> str | None:
    """"added" or "already" from the notice a collect leaves on the next page; None without one."""
    if _ALREADY in page:
        return "already"
    return "added" if _ADDED in page else None


def cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in jar.items())


def fetch(base: str, path: str, *, method: str = "GET", form: dict | None = None,
          headers: dict | None = None, source: str | None = None) -> Reply:
    parts = urlsplit(base)
    con = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30,
                                     source_address=(source, 0) if source else None)
    headers = dict(headers or {})
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        con.request(method, path, body=body, headers=headers)
        response = con.getresponse()
        return Reply(response.status, dict(response.getheaders()), response.read().decode("utf-8", "replace"),
                     response.msg.get_all("Set-Cookie") or [])
    finally:
        con.close()


def new_username() -> str:
    return f"c{uuid.uuid4().hex[:12]}"   # 13 characters: within NAME_MIN..NAME_MAX, unique per test run


class Browser:
    """One user's cookies (session + CSRF nonce); every request may go to any host (`base`)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies: dict[str, str] = {}
        self.username: str | None = None

    def fetch(self, path: str, *, base: str | None = None, method: str = "GET", form: dict | None = None,
              headers: dict | None = None) -> Reply:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = cookie_header(self.cookies)
        reply = fetch(base or self.base, path, method=method, form=form, headers=headers)
        update_jar(self.cookies, reply.set_cookies)
        return reply

    def post(self, path: str, form: dict | None = None, *, base: str | None = None,
             token_from: str = TOKEN_PAGE) -> Reply:
        """POST a form with this browser's CSRF token, read from a page of the same host first."""
        token = self.fetch(token_from, base=base).token()
        return self.fetch(path, base=base, method="POST", form={**(form or {}), "csrf_token": token})

    def signup(self, *, base: str | None = None) -> Reply:
        """Create a fresh account and log in (the answer: 303 and a new session on success)."""
        name = new_username()
        reply = self.post("/signup", {"username": name, "password": PASSWORD}, base=base,
                          token_from="/signup")
        if reply.status == 303:
            self.username = name
        return reply

    def login(self, username: str, *, base: str | None = None) -> Reply:
        reply = self.post("/login", {"username": username, "password": PASSWORD}, base=base,
                          token_from="/login")
        if reply.status == 303:
            self.username = username
        return reply

    def collect(self, district: int, *, base: str | None = None) -> tuple[Reply, str | None]:
        """POST the collect form, then follow its redirect on the same host to read the notice.

        The app answers 303 back to the page either way; the notice on that page says whether this POST
        added the favourite ("added") or found it there already ("already": the POST was applied twice).
        """
        reply = self.post(f"/areas/{district}/collect", base=base)
        if reply.status != 303:
            return reply, None
        return reply, collect_outcome(self.fetch(reply.headers["Location"], base=base).text)


def signed_up(base: str) -> Browser:
    """A Browser logged in as a new user (fails the test when signing up does not work)."""
    browser = Browser(base)
    reply = browser.signup()
    assert reply.status == 303, (reply.status, reply.text[:300])
    return browser
