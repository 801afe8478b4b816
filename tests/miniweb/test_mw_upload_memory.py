"""A 100 MB multipart upload through `python -m server` raises the server's peak RSS by at most 20 MB.

The client streams the body from a generator (it never holds 100 MB either). The server receives the
body into its spool (server/body_spool.py) and miniweb parses it as a stream from wsgi.input, spooling the
file part to a temporary file: neither side may hold the body in memory. The whole-body parser this
replaced took the peak RSS up by more than twice the body's size.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import sys
from pathlib import Path

from tests.processes import free_port, running

BOUNDARY = "----miniwebUploadBoundary7MA4YWxkTrZu0gW"
BLOCK = 1024 * 1024
# Pseudo-random bytes with near-misses of the delimiter in them, so the parser's search across chunk
# edges is exercised (a delimiter prefix that is not the delimiter must stay part of the file).
_rng = random.Random(11)
_PIECES = [_rng.randbytes(BLOCK - 4096), (b"\r\n--" + BOUNDARY[:-1].encode() + b"\r\n") * 60]
BLOCK_DATA = b"".join(_PIECES)[:BLOCK].ljust(BLOCK, b"\r")


def _vm_hwm_kib(pid: int) -> int:
    """Peak resident set size of `pid` (VmHWM, proc(5)), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


def _upload(port: int, megabytes: int) -> tuple[dict, str]:
    """POST a file of `megabytes` MiB as multipart/form-data, streamed; returns (answer, sha256 sent)."""
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="note"\r\n\r\n上传\r\n'
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    digest = hashlib.sha256()

    def body():
        yield head
        for _ in range(megabytes):
            digest.update(BLOCK_DATA)
            yield BLOCK_DATA
        yield tail

    length = len(head) + megabytes * BLOCK + len(tail)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Content-Length": str(length)}
        connection.request("POST", "/upload", body=body(), headers=headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    assert response.status == 200, data[:500]
    return json.loads(data), digest.hexdigest()


def test_100_mb_upload_raises_peak_rss_by_at_most_20_mb(tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "server", str(port), "tests.miniweb.upload_app:app",
               "--threads", "2", "--no-access-log", "--max-body-size", "200M"]  # fmt: skip
    with running(command, port=port, log=tmp_path / "server.log") as server:
        # Warm-up: the same code paths (server spool on disk, multipart parser, spooled file part) with
        # a 2 MiB file, so imports and first-use allocations are counted before the measurement.
        answer, sent = _upload(port, 2)
        assert (answer["size"], answer["sha256"]) == (2 * BLOCK, sent)
        before = _vm_hwm_kib(server.pid)

        answer, sent = _upload(port, 100)
        after = _vm_hwm_kib(server.pid)

    assert answer == {"note": "上传", "filename": "big.bin", "size": 100 * BLOCK, "sha256": sent}
    print(f"server VmHWM: {before} KiB after warm-up, {after} KiB after 100 MiB (+{after - before} KiB)")
    assert after - before <= 20 * 1024, f"peak RSS rose by {(after - before) / 1024:.1f} MiB"
