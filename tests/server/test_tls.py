"""TLS: Python's ssl client and curl over a certificate made for the test run by openssl."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
import warnings

import pytest

from tests.server import wsgi_apps as apps
from tests.server.client import WAIT, ResponseReader, read_all


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """(certfile, keyfile): a self-signed certificate for localhost and 127.0.0.1, made now."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=WAIT,
    )  # fmt: skip
    return str(cert), str(key)


@pytest.fixture
def tls_serve(serve, certificate):
    def start(app, **changes):
        return serve(app, certfile=certificate[0], keyfile=certificate[1], **changes)

    return start


def _client_context(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certificate[0])
    context.set_alpn_protocols(["http/1.1"])
    return context


def _tls_socket(running, certificate) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", running.port), timeout=WAIT)
    return _client_context(certificate).wrap_socket(raw, server_hostname="localhost")


def test_python_client_keep_alive_over_tls(tls_serve, certificate):
    running = tls_serve(apps.echo_environ)
    conn = http.client.HTTPSConnection("localhost", running.port, timeout=WAIT,
                                       context=_client_context(certificate))  # fmt: skip
    try:
        for _ in range(3):  # one connection, three requests
            conn.request("POST", "/x", body=b"secret")
            response = conn.getresponse()
            info = json.loads(response.read())
            assert response.status == 200
            assert info["wsgi.url_scheme"] == "https" and info["body"] == "secret"
        assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
        assert conn.sock.selected_alpn_protocol() == "http/1.1"
    finally:
        conn.close()


def test_pipelining_over_tls(tls_serve, certificate):
    running = tls_serve(apps.echo_path)
    with _tls_socket(running, certificate) as sock:
        sock.sendall(b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % n for n in range(5)))
        reader = ResponseReader(sock)
        assert [reader.next()[1] for _ in range(5)] == [b"/%d" % n for n in range(5)]


def test_file_wrapper_over_tls_is_read_not_sendfile(tls_serve, certificate, tmp_path):
    data = bytes(range(256)) * 8192  # 2 MiB
    path = tmp_path / "file.bin"
    path.write_bytes(data)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](path.open("rb"))

    running = tls_serve(app)
    with _tls_socket(running, certificate) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reader = ResponseReader(sock)
        assert reader.next()[1] == data
        assert reader.next()[1] == data


def test_tls_1_1_is_refused(tls_serve, certificate):
    running = tls_serve(apps.hello)
    context = _client_context(certificate)
    try:
        with warnings.catch_warnings():  # deprecated: which is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError):
        pytest.skip("this OpenSSL cannot even offer TLS 1.1")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _tls = context.wrap_socket(socket.create_connection(("127.0.0.1", running.port), timeout=WAIT),
                                   server_hostname="localhost")  # fmt: skip
        _tls.close()


def test_plain_http_to_a_tls_port_is_closed_not_hung(tls_serve):
    running = tls_serve(apps.hello, header_timeout=WAIT)
    started = time.monotonic()
    raw = running.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"Hello" not in raw
    assert time.monotonic() - started < WAIT / 2  # closed by the failed handshake, not the timeout


def test_a_stalled_handshake_blocks_nobody_and_is_dropped(tls_serve, certificate):
    running = tls_serve(apps.hello, threads=1, header_timeout=1.0)
    stalled = [socket.create_connection(("127.0.0.1", running.port), timeout=WAIT) for _ in range(3)]
    stalled[0].sendall(b"\x16\x03\x01")  # the first bytes of a ClientHello, then nothing
    try:
        # With one worker thread and three silent handshakes, a real client is still served at once.
        conn = http.client.HTTPSConnection("localhost", running.port, timeout=WAIT,
                                           context=_client_context(certificate))  # fmt: skip
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"Hello, World!"
        conn.close()
        for sock in stalled:  # dropped at header_timeout: the server closes (EOF or reset)
            assert read_all(sock) == b""
    finally:
        for sock in stalled:
            sock.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_over_tls(tls_serve, certificate):
    running = tls_serve(apps.hello)
    url = f"https://localhost:{running.port}/"
    result = subprocess.run(
        ["curl", "-sS", "--cacert", certificate[0], "--resolve", f"localhost:{running.port}:127.0.0.1",
         url, url],
        capture_output=True, timeout=WAIT, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello, World!" * 2  # two requests, over one kept-alive connection


def test_cli_tls_options(certificate, tmp_path):
    from tests.server.client import run_cli

    missing = run_cli("8899", "tests.server.wsgi_apps:hello", "--certfile", str(tmp_path / "none.pem"))
    assert missing.returncode == 1 and "cannot set up TLS" in missing.stderr, missing.stderr
    alone = run_cli("8899", "tests.server.wsgi_apps:hello", "--keyfile", certificate[1])
    assert alone.returncode == 2 and "need --certfile" in alone.stderr
    reqs = run_cli("8899", "tests.server.wsgi_apps:hello", "--certfile", certificate[0],
                   "--cert-reqs", "required")  # fmt: skip
    assert reqs.returncode == 2 and "needs --ca-certs" in reqs.stderr


def test_write_timeout_over_tls_counts_from_the_last_progress(tls_serve, certificate):
    """As on plain TCP: a slow reader keeps its response; one that stops reading is dropped about
    write_timeout after its last read (before: never, the TLS send retried for ever and held the thread).
    """
    timeout = 2.0
    closed = threading.Event()
    closed_at: list[float] = []

    class Body:
        def __iter__(self):
            yield b"y" * (64 * 1024 * 1024)

        def close(self) -> None:
            closed_at.append(time.monotonic())
            closed.set()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Body()

    running = tls_serve(app, write_timeout=timeout)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(WAIT)
    raw.connect(("127.0.0.1", running.port))
    sock = _client_context(certificate).wrap_socket(raw, server_hostname="localhost")
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        # Slow but steady: 2 MiB every quarter of the timeout, for three timeouts. Never dropped.
        reading_until = time.monotonic() + 3 * timeout
        while time.monotonic() < reading_until:
            received = 0
            while received < 2 * 1024 * 1024:
                received += len(sock.recv(65536))
            assert not closed.wait(timeout / 4), "a client still reading was dropped"
        last_read = time.monotonic()
        assert closed.wait(WAIT), "the stalled TLS client was never dropped"
        elapsed = closed_at[0] - last_read
        assert elapsed < 1.75 * timeout, f"dropped {elapsed:.2f}s after the last read (limit {timeout}s)"
    finally:
        sock.close()


def test_a_tls_body_still_arriving_is_received_by_the_dispatcher(tls_serve, certificate):
    """One worker thread: while a TLS upload waits for the rest of its body, another client is served;
    the body, decrypted by the dispatcher as it arrives, reaches the app de-chunked with its length."""
    running = tls_serve(apps.echo_environ, threads=1, body_timeout=5.0)
    upload = _tls_socket(running, certificate)
    try:
        upload.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        other = http.client.HTTPSConnection("localhost", running.port, timeout=WAIT,
                                            context=_client_context(certificate))  # fmt: skip
        other.request("GET", "/meanwhile")
        assert json.loads(other.getresponse().read())["PATH_INFO"] == "/meanwhile"
        other.close()
        upload.sendall(b"6\r\n world\r\n0\r\n\r\n")
        response, body = ResponseReader(upload).next()
        info = json.loads(body)
        assert (response.status, info["body"], info["CONTENT_LENGTH"]) == (200, "hello world", "11")
    finally:
        upload.close()


def test_required_client_certificates_admit_a_client_with_one_only(tls_serve, certificate):
    """--ca-certs + --cert-reqs required (the test certificate is its own CA): a client with the
    certificate is served; one without is refused with TLS's "certificate required" alert."""
    running = tls_serve(apps.hello, ca_certs=certificate[0], cert_reqs="required")
    with_cert = _client_context(certificate)
    with_cert.load_cert_chain(*certificate)
    conn = http.client.HTTPSConnection("localhost", running.port, timeout=WAIT, context=with_cert)
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"Hello, World!"
    conn.close()
    with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
        sock = _tls_socket(running, certificate)  # TLS 1.3: the alert comes with the first read
        try:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.recv(4096)
        finally:
            sock.close()
