"""A bounded load through nginx: N keep-alive connections for D seconds, mostly GETs, some POSTs.

Every connection is its own user (signed up through nginx before the load starts: favourites are per
user). Each POST collects an area no other POST touches, so its answer says how often it was applied: the
page it redirects to says "已收藏…" the first time, "…已经收藏过了" when the same POST reached the database
twice (a retry).
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from .client import PASSWORD, collect_outcome, cookie_header, new_username, update_jar

GET_PATHS = ("/", "/areas/110000", "/areas/440300", "/search?q=%E5%8C%97%E4%BA%AC", "/favorites")
POST_EVERY = 10          # one request in ten is a POST
REQUEST_TIMEOUT = 30.0   # per request; a stuck request counts as failed, it never hangs the test
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class LoadResult:
    gets: int = 0
    get_failures: list[str] = field(default_factory=list)
    posts_applied: list[int] = field(default_factory=list)     # 303, then the "added" notice
    posts_twice: list[int] = field(default_factory=list)       # 303, then "already": applied twice
    posts_failed: list[tuple[int, str]] = field(default_factory=list)
    logged_in: int = 0                                          # clients signed up, load under way
    login_failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def requests(self) -> int:
        return self.gets + len(self.posts_applied) + len(self.posts_twice) + len(self.posts_failed)


class _Client:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.con: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}
        self.token = ""

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, dict, bytes]:
        if self.con is None:
            self.con = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
        headers = {"Cookie": cookie_header(self.cookies)} if self.cookies else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.con.request(method, path, body=body, headers=headers)
            response = self.con.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.con.close()
            self.con = None
            raise
        update_jar(self.cookies, response.msg.get_all("Set-Cookie") or [])
        if response.getheader("Connection", "").lower() == "close":
            self.con.close()
            self.con = None
        return response.status, dict(response.getheaders()), data

    def _token(self, path: str) -> str:
        status, _, body = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        return _TOKEN.search(body.decode()).group(1)

    def login(self) -> None:
        """Sign up as a new user (logged in), then the CSRF token of the new session's nonce."""
        form = {"username": new_username(), "password": PASSWORD, "csrf_token": self._token("/signup")}
        status, _, _ = self.request("POST", "/signup", urlencode(form))
        if status != 303:
            raise RuntimeError(f"POST /signup: {status}")
        self.token = self._token("/areas/110000")  # signing up regenerated the session and its nonce


def run_load(url: str, *, post_ids: Iterator[int], connections: int = 20, duration: float = 10.0,
             result: LoadResult | None = None, stop: threading.Event | None = None) -> LoadResult:
    """Run the load until `duration` has passed or `stop` is set; `result` fills while it runs."""
    stop = stop or threading.Event()
    result = result or LoadResult()
    ids_lock = threading.Lock()
    deadline = time.monotonic() + duration

    def worker(number: int) -> None:
        client = _Client(url)
        try:
            client.login()
        except (OSError, http.client.HTTPException, RuntimeError) as exc:
            with result.lock:
                result.login_failures.append(repr(exc))
            return
        with result.lock:
            result.logged_in += 1
        n = number
        while time.monotonic() < deadline and not stop.is_set():
            n += 1
            if n % POST_EVERY == 0:
                with ids_lock:
                    district = next(post_ids)
                _post(client, district, result)
            else:
                path = GET_PATHS[n % len(GET_PATHS)]
                try:
                    status, _, _ = client.request("GET", path)
                    error = None if status == 200 else f"{path}: {status}"
                except (OSError, http.client.HTTPException) as exc:
                    error = f"{path}: {exc!r}"
                with result.lock:
                    result.gets += 1
                    if error:
                        result.get_failures.append(error)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + REQUEST_TIMEOUT + 30)
    return result


def _post(client: _Client, district: int, result: LoadResult) -> None:
    try:
        status, headers, _ = client.request("POST", f"/areas/{district}/collect",
                                            urlencode({"csrf_token": client.token}))
    except (OSError, http.client.HTTPException) as exc:
        with result.lock:
            result.posts_failed.append((district, repr(exc)))
        return
    outcome = None
    if status == 303:
        try:  # the notice on the page it redirects to says whether this POST added the row
            _, _, page = client.request("GET", headers.get("Location", "/"))
            outcome = collect_outcome(page.decode("utf-8", "replace"))
        except (OSError, http.client.HTTPException) as exc:
            outcome = f"the page after the POST: {exc!r}"
    with result.lock:
        if outcome == "added":
            result.posts_applied.append(district)
        elif outcome == "already":
            result.posts_twice.append(district)
        else:
            result.posts_failed.append((district, f"{status} {outcome}"))
