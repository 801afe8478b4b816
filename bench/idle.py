"""Hold N idle keep-alive connections open, in a process of their own: ``python -m bench.idle``.

Driven over stdin/stdout by `idle_clients` (the c10k scenario), one JSON object per output line::

    (start)       opens N connections, one request each so they are *keep-alive* connections, then idles
                  -> {"event": "ready", "open": 9998, "failed": 2, "seconds": 3.1}
    speak         every open connection sends a request at once
                  -> {"event": "spoke", "asked": 9998, "answered": 9998, "closed": 0, "seconds": 1.4}
    closed S      wait up to S seconds for the server to close them all (keep-alive timeout); ``idle``
                  is how long they had been idle when we saw them closed (we look five times a second)
                  -> {"event": "closed", "closed": 9998, "open": 0, "seconds": 2.2,
                      "idle": {"min": 3.0, "max": 3.4}}
    quit / EOF    close everything and exit

Loopback only; bounded: at most ``--max-seconds`` in all, then it closes everything and exits by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import select
import sys
import time

from bench.clients import (
    ChildTool,
    Conn,
    child_tool,
    emit,
    exchange,
    open_connections,
    poll_closed,
    raise_fd_limit,
    request_bytes,
)

__all__ = ["idle_clients", "main"]

_STEP_TIMEOUT = 60.0  # longest any one step (open all, speak) may take


def _wait_closed(conns: list[Conn], seconds: float) -> tuple[int, float]:
    """Poll until every connection is closed or ``seconds`` pass; (closed count, seconds waited)."""
    start = time.monotonic()
    while True:
        poll_closed(conns)
        closed = sum(c.closed for c in conns)
        if closed == len(conns) or time.monotonic() - start >= seconds:
            return closed, time.monotonic() - start
        time.sleep(0.2)  # checking 10k sockets is a syscall each; five times a second is plenty


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.idle", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=10_000)
    p.add_argument("--max-seconds", type=float, default=300.0, help="exit by itself after this long")
    args = p.parse_args(argv)
    if not ipaddress.ip_address(args.host).is_loopback:
        p.error("loopback addresses only (127.0.0.0/8, ::1)")
    if not 0 < args.count <= 50_000:
        p.error("--count must be 1..50000")
    end = time.monotonic() + args.max_seconds
    raise_fd_limit(args.count + 64)
    request = request_bytes(args.host, args.port)

    start = time.monotonic()
    step_end = min(end, start + _STEP_TIMEOUT)
    conns, failed = open_connections(args.host, args.port, args.count, step_end, request)
    emit("ready", open=len(conns), failed=failed, seconds=round(time.monotonic() - start, 2))
    try:
        while time.monotonic() < end:
            readable, _, _ = select.select([sys.stdin], [], [], max(0.0, end - time.monotonic()))
            if not readable:
                break
            words = sys.stdin.readline().split()
            if not words or words[0] == "quit":
                break
            start = time.monotonic()
            if words[0] == "speak":
                poll_closed(conns)
                alive = [c for c in conns if not c.closed]
                exchange(alive, request, min(end, start + _STEP_TIMEOUT))
                answered = sum(c.status == 200 and not c.closed for c in alive)
                emit(
                    "spoke",
                    asked=len(alive),
                    answered=answered,
                    closed=len(conns) - len(alive),
                    seconds=round(time.monotonic() - start, 2),
                )
            elif words[0] == "closed":
                wait = min(float(words[1]) if len(words) > 1 else 10.0, max(0.0, end - start))
                closed, waited = _wait_closed(conns, wait)
                idle = [c.closed_at - c.answered_at for c in conns if c.closed]
                spread = {"min": round(min(idle), 2), "max": round(max(idle), 2)} if idle else {}
                emit("closed", closed=closed, open=len(conns) - closed, seconds=round(waited, 2), idle=spread)
            else:
                emit("error", message=f"unknown command {words[0]!r}")
    finally:
        for c in conns:
            c.close()
    return 0


def idle_clients(
    host: str, port: int, count: int, *, cpu: int | None = 1, max_seconds: float = 300
) -> contextlib.AbstractContextManager[ChildTool]:
    """Run this tool in a child process pinned to ``cpu``; ``.ready`` holds its first line."""
    args = ["--host", host, "--port", str(port), "--count", str(count)]
    return child_tool("bench.idle", args, cpu=cpu, max_seconds=max_seconds)


if __name__ == "__main__":
    sys.exit(main())
