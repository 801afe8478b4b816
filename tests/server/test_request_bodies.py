"""Request bodies are received before a worker thread takes the request (issue 10)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.server import wsgi_apps as apps
from tests.server.client import WAIT, ResponseReader, read_all


def test_slow_uploads_do_not_pin_worker_threads(serve):
    """--threads 2 and four uploads trickling in: between their bytes, both worker threads are free at once
    (two GETs meet in the app), and every upload is still answered, with its own body, once it is whole."""
    threads, uploads, length = 2, 4, 40
    # Each GET waits in the app until `threads` of them are there: it passes only if no worker thread is
    # held by an upload. If one were, the barrier breaks after WAIT and the GET gets a 500.
    meeting = threading.Barrier(threads, timeout=WAIT)

    def app(environ, start_response):
        if environ["REQUEST_METHOD"] == "GET":
            meeting.wait()
            return apps.hello(environ, start_response)
        return apps.echo_body(environ, start_response)

    running = serve(app, threads=threads, body_timeout=WAIT)
    bodies = [b"%02d" % n + bytes(range(97, 97 + length - 2)) for n in range(uploads)]
    sent, hello = 3, [(200, b"Hello, World!")] * threads
    trickling = []
    try:
        for body in bodies:
            sock = running.connect()
            head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % length
            sock.sendall(head + body[:sent])
            trickling.append(sock)
        for _ in range(3):
            for sock, body in zip(trickling, bodies, strict=True):  # one more byte of each upload
                sock.sendall(body[sent : sent + 1])
            sent += 1
            with ThreadPoolExecutor(threads) as pool:
                answers = list(pool.map(lambda _: running.request(), range(threads)))
            assert [(response.status, text) for response, text in answers] == hello
        for sock in trickling:  # no upload was answered (or refused) before its body was whole
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
            sock.settimeout(WAIT)
        for sock, body in zip(trickling, bodies, strict=True):
            sock.sendall(body[sent:])
        for sock, body in zip(trickling, bodies, strict=True):
            response, echoed = ResponseReader(sock).next("POST")
            assert (response.status, echoed) == (200, body)
    finally:
        for sock in trickling:
            sock.close()


def test_a_chunked_body_reaches_the_app_with_a_content_length(serve):
    running = serve(apps.echo_environ)
    conn = running.http()
    conn.putrequest("POST", "/")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for piece in (b"hello ", b"chunked ", b"world"):
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))  # separate sends: the body comes in pieces
    conn.send(b"0\r\n\r\n")
    info = json.loads(conn.getresponse().read())
    conn.close()
    assert info["CONTENT_LENGTH"] == str(len("hello chunked world"))
    assert info["body"] == "hello chunked world"


def test_a_body_received_in_many_pieces_gets_the_length_of_all_of_them(serve):
    # recv_size 16: the body arrives over many receives, so CONTENT_LENGTH must add up every piece.
    running = serve(apps.echo_environ, recv_size=16)
    pieces = [b"%02d" % n + b"x" * 8 for n in range(12)]  # 120 bytes in twelve chunks
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    raw = running.exchange(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked
    )
    info = json.loads(raw.partition(b"\r\n\r\n")[2])
    assert (info["CONTENT_LENGTH"], info["body"]) == ("120", b"".join(pieces).decode())


def test_a_large_body_is_spooled_beyond_the_memory_bound(serve):
    seen = {}

    def app(environ, start_response):
        stream = environ["wsgi.input"]
        seen["in_memory"] = getattr(stream, "_rolled", None) is False
        data = stream.read()
        body = hashlib.sha256(data).hexdigest().encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    running = serve(app, body_buffer_bytes=64 * 1024)
    payload = bytes(range(256)) * 4096  # 1 MiB: past the 64 KiB bound, so on disk
    response, body = running.request("POST", "/", body=payload)
    assert response.status == 200 and body.decode() == hashlib.sha256(payload).hexdigest()
    assert seen["in_memory"] is False


def test_expect_100_continue_still_lets_a_limit_refuse_first(serve):
    running = serve(apps.echo_body, max_body_bytes=10)
    with running.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n")
        raw = read_all(sock)
    assert raw.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in raw


def test_a_bad_chunk_arriving_later_is_a_400(serve):
    running = serve(apps.echo_body)
    with running.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        time.sleep(0.2)  # let the dispatcher take over receiving; the test holds either way
        sock.sendall(b"zz\r\n")
        raw = read_all(sock)
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert raw.endswith(b"\r\n\r\n400 Bad Request\nmalformed chunk size line b'zz'\n")  # the fault, named


def test_django_receives_a_chunked_upload_from_requests(tmp_path):
    pytest.importorskip("django")
    requests = pytest.importorskip("requests")
    from tests.server.client import free_port, start_cli, wait_for_line

    port = free_port()
    process = start_cli(str(port), "tests.server.django_app.wsgi:application", "--no-access-log")
    try:
        wait_for_line(process.stderr, f"http://127.0.0.1:{port}/")
        pieces = [b"%d:" % n + b"x" * 5000 for n in range(50)]

        def generator():  # requests sends a generator body chunked
            yield from pieces

        answer = requests.post(f"http://127.0.0.1:{port}/upload", data=generator(), timeout=WAIT)
        expected = b"".join(pieces)
        assert answer.status_code == 200
        assert answer.text == f"{len(expected)} {hashlib.sha256(expected).hexdigest()}"
    finally:
        process.terminate()
        process.communicate(timeout=WAIT)


def test_expect_100_continue_with_a_chunked_body_is_invited_at_once_and_de_chunked(serve):
    """No length to refuse it by: 100 Continue before the app runs (RFC 9110 §10.1.1: immediately), then
    the body is received ahead like any chunked one, so an app reading only CONTENT_LENGTH gets it."""
    seen = []

    def reads_content_length_only(environ, start_response):  # as Django does
        length = int(environ.get("CONTENT_LENGTH") or 0)
        seen.append(environ["wsgi.input"].read(length) if length else b"")
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    running = serve(reads_content_length_only)
    with running.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     b"Expect: 100-continue\r\n\r\n")  # fmt: skip
        interim = b""
        while b"\r\n\r\n" not in interim:  # the client sends nothing until invited
            chunk = sock.recv(4096)
            assert chunk, "closed before 100 Continue"
            interim += chunk
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        assert seen == []  # invited before the app ran
        sock.sendall(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        response, body = ResponseReader(sock).next()
    assert (response.status, body, seen) == (200, b"ok", [b"hello world"])
