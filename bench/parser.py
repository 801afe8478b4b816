"""Request-head parsing: server/http11.py against waitress's parser, in µs per head.

Run: ``.venv/bin/python -m bench.parser`` (waitress is in the test extra).

Parser level only, no sockets: each head is complete in the buffer, as after one recv() of a keep-alive
request. Three heads: wrk's (what issue 3's hello-world benchmark sends), curl's, and a browser's. Ours
is timed both through the stateless `maybe_read_head` and a connection's `HeadParser`. Single-threaded
and in-process, timed in process CPU time (best of several runs); a quiet machine still gives the
steadiest figures.
"""

from __future__ import annotations

import time
import timeit
from collections.abc import Callable

from waitress.adjustments import Adjustments
from waitress.parser import HTTPRequestParser

from server.config import Config
from server.http11 import HeadParser, maybe_read_head

HEADS = {
    "wrk": b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8899\r\n\r\n",
    "curl": (
        b"GET /areas/110000?page=2 HTTP/1.1\r\nHost: 127.0.0.1:8899\r\nUser-Agent: curl/8.5.0\r\n"
        b"Accept: */*\r\n\r\n"
    ),
    "browser": (
        b"GET /areas/110000?page=2 HTTP/1.1\r\nHost: 127.0.0.1:8899\r\nConnection: keep-alive\r\n"
        b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        b"Chrome/131.0.0.0 Safari/537.36\r\n"
        b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
        b"Accept-Encoding: gzip, deflate, br\r\nAccept-Language: zh-CN,zh;q=0.9,en;q=0.8\r\n"
        b"Cookie: session=eyJhbGciOiJIUzI1NiJ9.e30.abc; theme=dark\r\n\r\n"
    ),
}
NUMBER = 20_000  # heads per timing run: ~0.1-0.5 s each, light enough for a shared machine
RUNS = 5  # best of RUNS: the minimum is the least disturbed by other processes


def _best_us(parse: Callable[[], object]) -> float:
    # CPU time of this process, not wall-clock: time spent descheduled by other work is not counted.
    runs = timeit.repeat(parse, number=NUMBER, repeat=RUNS, timer=time.process_time)
    return min(runs) / NUMBER * 1e6


def main() -> None:
    config = Config()
    adjustments = Adjustments()
    parser = HeadParser(config)
    print(f"{'head':8} {'bytes':>5}  {'maybe_read_head':>15}  {'HeadParser':>10}  {'waitress':>8}  ratio")
    for name, head in HEADS.items():
        ours = _best_us(lambda head=head: maybe_read_head(bytearray(head), config))
        ours_parser = _best_us(lambda head=head: parser.maybe_read(bytearray(head)))
        theirs = _best_us(lambda head=head: HTTPRequestParser(adjustments).received(head))
        print(
            f"{name:8} {len(head):5}  {ours:12.2f} µs  {ours_parser:7.2f} µs  {theirs:5.2f} µs"
            f"  {theirs / ours:4.1f}x"
        )


if __name__ == "__main__":
    main()
