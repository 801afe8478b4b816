"""N clients that send their request headers one byte a second: ``python -m bench.slowloris``.

The headers never end (a long ``X-Slow`` field), so a server must give up on them at its header timeout:
RFC 9110 §15.5.9 says 408 Request Timeout, then close. Driven by `slow_clients` (the slowloris scenario);
prints one JSON line when all are connected and one when it is done::

    {"event": "ready", "open": 1000, "failed": 0}
    {"event": "done", "count": 1000, "status": {"408": 1000}, "silent_close": 0, "still_open": 0,
     "closed_after": {"min": 4.0, "median": 4.5, "max": 5.0}}

``closed_after`` is measured from each client's first byte. Loopback only, bounded by ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import selectors
import statistics
import sys
import time
from collections import Counter
from typing import Any

from bench.clients import ChildTool, Conn, child_tool, emit, open_connections, raise_fd_limit, response_status

__all__ = ["slow_clients", "main", "summarize"]

_INTERVAL = 1.0  # one byte a second, as issue 3 says


def _drain(c: Conn) -> None:
    """Read what the server sent; mark the connection closed at EOF or reset."""
    while not c.closed:
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            c.closed, c.closed_at = True, time.monotonic()
        else:
            c.buf += data


def summarize(conns: list[Conn], first_byte_at: float) -> dict[str, Any]:
    """What the server did to each slow client: its response status (if any), and when it closed."""
    statuses: Counter[str] = Counter()
    silent = 0
    for c in conns:
        status, _ = response_status(bytes(c.buf))
        if status is None:
            silent += c.closed
        else:
            statuses[str(status)] += 1
    after = sorted(c.closed_at - first_byte_at for c in conns if c.closed)
    spread = (
        {"min": round(after[0], 2), "median": round(statistics.median(after), 2), "max": round(after[-1], 2)}
        if after
        else {}
    )
    return {
        "count": len(conns),
        "status": dict(statuses),
        "silent_close": silent,
        "still_open": sum(not c.closed for c in conns),
        "closed_after": spread,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.slowloris",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=1_000)
    p.add_argument("--max-seconds", type=float, default=60.0, help="give up (and close all) after this long")
    args = p.parse_args(argv)
    if not ipaddress.ip_address(args.host).is_loopback:
        p.error("loopback addresses only (127.0.0.0/8, ::1)")
    if not 0 < args.count <= 20_000:
        p.error("--count must be 1..20000")
    end = time.monotonic() + args.max_seconds
    raise_fd_limit(args.count + 64)
    # Longer than --max-seconds at one byte a second: the headers never finish.
    head = f"GET / HTTP/1.1\r\nHost: {args.host}:{args.port}\r\nX-Slow: ".encode()
    message = head + b"a" * int(args.max_seconds + 10)

    conns, failed = open_connections(args.host, args.port, args.count, min(end, time.monotonic() + 30))
    sel = selectors.DefaultSelector()
    try:
        for c in conns:
            sel.register(c.sock, selectors.EVENT_READ, c)
        sent = 0
        first_byte_at = next_tick = time.monotonic()
        emit("ready", open=len(conns), failed=failed)
        while sel.get_map() and time.monotonic() < end:
            if time.monotonic() >= next_tick:  # one more byte from every client still open
                byte = message[sent : sent + 1]
                sent += 1
                next_tick += _INTERVAL
                for key in list(sel.get_map().values()):
                    with contextlib.suppress(OSError):  # closed under us: the read below sees it
                        key.fileobj.send(byte)  # type: ignore[union-attr]
            timeout = max(0.0, min(next_tick, end) - time.monotonic())
            for key, _ in sel.select(timeout):
                _drain(key.data)
                if key.data.closed:
                    sel.unregister(key.fileobj)
        emit("done", **summarize(conns, first_byte_at))
    finally:
        sel.close()
        for c in conns:
            c.close()
    return 0


def slow_clients(
    host: str, port: int, count: int, *, cpu: int | None = 1, max_seconds: float = 60
) -> contextlib.AbstractContextManager[ChildTool]:
    """Run this tool in a child process pinned to ``cpu``; ``.ready`` holds its first line."""
    args = ["--host", host, "--port", str(port), "--count", str(count)]
    return child_tool("bench.slowloris", args, cpu=cpu, max_seconds=max_seconds)


if __name__ == "__main__":
    sys.exit(main())
