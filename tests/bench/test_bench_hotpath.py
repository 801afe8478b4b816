"""bench.hotpath serves real requests through the parser and the WSGI handler (its figures are not tested)."""

from __future__ import annotations

from bench.hotpath import serve_requests


def test_serve_requests_sends_one_full_response_per_request():
    one = serve_requests(1)
    assert one > len(b"HTTP/1.1 200 OK\r\n\r\nHello, World!")
    assert serve_requests(50) == 50 * one
