"""``python -m bench.reload [--duration S] [--workers N] [--clients C]``: keep-alive load through 3 SIGHUPs.

Starts ``python -m server PORT tests.server.wsgi_apps:hello --workers N`` (the arbiter), runs C keep-alive
clients (http.client, one connection each, reconnecting when the server closes an idle connection of
a draining worker, as RFC 9112 §9.3.1 lets a client retry an idempotent request), sends SIGHUP at 1/4,
2/4 and 3/4 of the run, and reports: requests, failed requests (an error status, or an error on a fresh
connection), reconnects, the steady throughput and the lowest throughput in a 0.25 s window around the
reloads (the dip). Figures on a busy machine are noise; the failure count is the point.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["main"]

log = logging.getLogger("bench.reload")

ROOT = Path(__file__).resolve().parents[1]
_WINDOW = 0.25  # seconds per throughput bucket


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _client(port: int, stop: threading.Event, stamps: list[float], counts: dict[str, int]) -> None:
    conn = None
    while not stop.is_set():
        fresh = conn is None
        if fresh:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                counts["failed"] += 1
            else:
                stamps.append(time.monotonic())
            if response.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = None
            counts["failed" if fresh else "reconnects"] += 1


def run(duration: float, workers: int, clients: int) -> dict[str, float]:
    port = _free_port()
    command = [sys.executable, "-m", "server", str(port), "tests.server.wsgi_apps:hello", "--no-access-log",
               "--workers", str(workers)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)  # fmt: skip
    try:
        for line in server.stderr:
            if "ready (generation 0)" in line:
                workers -= 1
                if workers == 0:
                    break
        threading.Thread(target=server.stderr.read, daemon=True).start()  # keep the pipe drained
        stop, stamps, counts = threading.Event(), [], {"failed": 0, "reconnects": 0}
        loop = (port, stop, stamps, counts)
        threads = [threading.Thread(target=_client, args=loop) for _ in range(clients)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        reloads = []
        for quarter in (1, 2, 3):
            time.sleep(max(0.0, start + duration * quarter / 4 - time.monotonic()))
            reloads.append(time.monotonic())
            server.send_signal(signal.SIGHUP)
        time.sleep(max(0.0, start + duration - time.monotonic()))
        stop.set()
        for thread in threads:
            thread.join(15)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    buckets: dict[int, int] = {}
    for stamp in stamps:
        bucket = int((stamp - start) / _WINDOW)
        buckets[bucket] = buckets.get(bucket, 0) + 1
    near = {int((r - start) / _WINDOW) + k for r in reloads for k in range(0, 4)}  # a second after each HUP
    steady = [n for b, n in buckets.items() if b not in near and 0 < b < duration / _WINDOW - 1]
    dips = [buckets.get(b, 0) for b in near]
    return {
        "requests": len(stamps), "failed": counts["failed"], "reconnects": counts["reconnects"],
        "steady_rps": (sum(steady) / len(steady) / _WINDOW) if steady else 0.0,
        "dip_rps": (min(dips) / _WINDOW) if dips else 0.0,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reload", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of load (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="--workers for the server (default 2)")
    parser.add_argument("--clients", type=int, default=8, help="keep-alive clients (default 8)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run(args.duration, args.workers, args.clients)
    log.info("| reloads | requests | failed | reconnects | steady req/s | lowest req/s (0.25 s window) |")
    log.info("|---|---|---|---|---|---|")
    log.info("| 3 SIGHUP | %d | %d | %d | %.0f | %.0f |", result["requests"], result["failed"],
             result["reconnects"], result["steady_rps"], result["dip_rps"])  # fmt: skip
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
