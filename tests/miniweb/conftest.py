"""Shared helpers for the miniweb tests: a raw WSGI call for requests WebTest refuses to build."""

from __future__ import annotations

import io
from wsgiref.util import setup_testing_defaults

import pytest


def call_wsgi(app, path_info: str, method: str = "GET", query: str = "", body: bytes = b"", **environ):
    """Run ``app`` on a hand-made environ (PEP 3333 strings); returns (status, headers, body)."""
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "wsgi.input": io.BytesIO(body),
    }
    if body:
        env["CONTENT_LENGTH"] = str(len(body))
    env.update(environ)
    setup_testing_defaults(env)
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"], captured["headers"] = status, headers

    chunks = app(env, start_response)
    try:
        data = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return captured["status"], captured["headers"], data


@pytest.fixture
def wsgi_call():
    return call_wsgi
