"""bench.apps: the app every server is measured on must be valid WSGI (wsgiref.validate) and exact."""

import http.client
import threading
import warnings
from wsgiref.simple_server import WSGIRequestHandler, make_server
from wsgiref.util import FileWrapper, setup_testing_defaults
from wsgiref.validate import validator

import pytest

from bench.apps import HELLO, STATIC_PATH, STATIC_SIZE, application


def call(path: str, *, file_wrapper: bool = True):
    environ: dict = {"SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": ""}
    setup_testing_defaults(environ)
    if file_wrapper:
        environ["wsgi.file_wrapper"] = FileWrapper
    else:
        environ.pop("wsgi.file_wrapper", None)
    got: dict = {}

    def start_response(status, headers, exc_info=None):
        got["status"], got["headers"] = status, dict(headers)
        return lambda data: None

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # wsgiref.validate reports problems as WSGIWarning
        result = validator(application)(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            result.close()
    return got["status"], got["headers"], body


def test_hello_is_13_bytes_of_text_with_content_length():
    status, headers, body = call("/")
    assert status == "200 OK"
    assert body == HELLO == b"Hello, World!"
    assert headers["Content-Type"] == "text/plain"
    assert headers["Content-Length"] == "13"


@pytest.mark.parametrize("file_wrapper", [True, False])
def test_file_is_64_kib_with_or_without_file_wrapper(file_wrapper):
    status, headers, body = call("/64k", file_wrapper=file_wrapper)
    assert status == "200 OK"
    assert len(body) == STATIC_SIZE == 64 * 1024
    assert headers["Content-Length"] == str(STATIC_SIZE)
    assert body == STATIC_PATH.read_bytes()


def test_other_paths_are_404():
    status, _, body = call("/nope")
    assert status.startswith("404")
    assert body == b"Not Found"


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def test_served_over_a_real_socket_by_wsgiref():
    server = make_server("127.0.0.1", 0, validator(application), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for path, size in (("/", 13), ("/64k", STATIC_SIZE)):
            conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
            conn.request("GET", path)
            resp = conn.getresponse()
            assert resp.status == 200
            assert len(resp.read()) == size == int(resp.getheader("Content-Length"))
            conn.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
