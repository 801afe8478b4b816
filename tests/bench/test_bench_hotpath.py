"""bench.hotpath serves real requests through the parser and the WSGI handler (its figures are not tested)."""

from __future__ import annotations

import pytest

from bench.hotpath import serve_requests


def test_serve_requests_sends_one_full_response_per_request():
    one = serve_requests(1)
    assert one > len(b"HTTP/1.1 200 OK\r\n\r\nHello, World!")
    assert serve_requests(50) == 50 * one


def test_serve_cold_times_keep_alive_requests_and_refuses_a_closing_one():
    from bench.apps import application
    from bench.hotpath import HEAD, serve_cold

    assert serve_cold(application, HEAD, 3, 4) > 0
    closing = HEAD.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    with pytest.raises(RuntimeError, match="keep-alive"):
        serve_cold(application, closing, 1, 4)
