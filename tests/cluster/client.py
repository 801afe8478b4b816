"""One request with http.client (a fresh connection), optionally from a chosen loopback source address."""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    def csrf(self) -> tuple[str, str]:
        """(the cookie to send back, the form token) from a page with a form."""
        return self.headers["Set-Cookie"].split(";", 1)[0], _TOKEN.search(self.text).group(1)


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
        return Reply(response.status, dict(response.getheaders()), response.read().decode("utf-8", "replace"))
    finally:
        con.close()
