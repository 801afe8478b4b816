"""Would worker threads that poll for ready connections themselves beat the dispatcher's hand-off? Measured.

    .venv/bin/python -m bench.pollmodel                     # 3 rounds of 3 s; threads 1, 2, 8, 64
    .venv/bin/python -m bench.pollmodel --rounds 5 --threads 1,64

Our server parks an idle keep-alive connection in the main thread's epoll and gives a busy one a worker
thread of its own, which waits for the next request in a blocking `recv` (server.worker). The other
model, the one event-driven servers use: every idle connection sits in **one shared epoll**, registered
`EPOLLONESHOT`, and each worker thread asks it for one ready connection (`epoll_wait`, one event), serves
that connection's requests until it has nothing buffered, re-arms it and asks again. No thread is tied to a
connection, no hand-off goes through the main thread, and with one thread no request needs a switch
between threads at all.

`model` below is that loop and nothing more: our own `HeadParser` and `WSGIHandler` on bench.apps'
hello, none of the server's deadlines, slow-client defences, bodies, TLS or drain. It is an upper bound
for the change, not a server. Each round runs our server (64 threads, `--no-access-log`) and the model
with each thread count in turn, pinned to cpu 0 with wrk -t1 -c50 on cpu 1, and reports req/s, p99, the
server process's CPU a request (`/proc/PID/stat`) and its threads' voluntary context switches a request,
the median round by req/s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import socket
import sys
import threading
from pathlib import Path

import bench.apps
from bench.pagefloor import Row, measure
from bench.peers import PEERS, Launch, Peer, free_port, serve
from bench.report import table
from bench.steal import cpu_times, stolen_line, stolen_share
from server.config import Config
from server.connection import ClientDisconnected, Connection
from server.http11 import ProtocolError
from server.wsgi import WSGIHandler

__all__ = ["main", "model"]

_HOST = "127.0.0.1"
_ONESHOT = select.EPOLLIN | select.EPOLLONESHOT


def model(port: int, threads: int) -> None:
    """Serve bench.apps' hello on `port` from `threads` threads polling one shared epoll (until killed)."""
    config = Config(access_log=False)
    handler = WSGIHandler(bench.apps.application, config, _HOST, port)
    rcvtimeo, sndtimeo = Connection.socket_timeouts(config)
    poller = select.epoll()
    connections: dict[int, Connection] = {}  # fd -> Connection; a dict get or set is atomic under the GIL

    def serve_ready(conn: Connection) -> None:
        fd = conn.sock.fileno()
        try:
            while True:
                if conn.buf and (head := conn.parser.maybe_read(conn.buf)) is not None:
                    if not handler(conn, head):
                        raise ClientDisconnected("the response closes the connection")
                    conn.requests += 1
                    continue
                if not conn.fill(False):  # nothing more buffered: back to the shared epoll
                    poller.modify(fd, _ONESHOT)
                    return
        except (ClientDisconnected, ProtocolError):  # a bad request is closed unanswered (never measured)
            del connections[fd]
            poller.unregister(fd)
            conn.close()

    def worker() -> None:
        with contextlib.suppress(OSError):  # as the server's workers, where the system allows it
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        while True:
            for fd, _ in poller.poll(-1, 1):
                serve_ready(connections[fd])

    for _ in range(threads):
        threading.Thread(target=worker, daemon=True).start()
    listener = socket.create_server((_HOST, port), backlog=1024)
    while True:
        sock, address = listener.accept()
        conn = Connection(sock, address, config, rcvtimeo, sndtimeo)
        conn.environ = handler.connection_environ(conn)
        connections[sock.fileno()] = conn
        poller.register(sock.fileno(), _ONESHOT)


def _model_peer(threads: int) -> Peer:
    def argv(x: Launch) -> list[str]:
        return [str(x.python), "-m", "bench.pollmodel", "--model", str(x.port), str(threads)]

    plural = "s" if threads > 1 else ""
    return Peer(f"model-{threads}", f"shared epoll, {threads} polling thread{plural}", argv)


def _measure(peer: Peer, python: Path, duration: float) -> Row:
    launch = Launch(python, _HOST, free_port(_HOST), 64)
    with serve(peer, launch, cpu=0, tag="pollmodel") as server:
        return measure(server.url + "/", server.proc.pid, duration)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.pollmodel", description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3, help="rounds, the servers in alternation (default 3)")
    p.add_argument("--duration", type=float, default=3.0, help="seconds per measurement (default 3)")
    p.add_argument("--threads", default="1,2,8,64", help="the model's thread counts (default 1,2,8,64)")
    p.add_argument("--model", nargs=2, type=int, metavar=("PORT", "THREADS"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.model:
        model(*args.model)
        return
    counts = [int(n) if n.strip().isdigit() else 0 for n in args.threads.split(",")]
    if not (1 <= args.rounds <= 9 and 0 < args.duration <= 60 and all(1 <= n <= 256 for n in counts)):
        p.error("--rounds 1..9, --duration up to 60 s, --threads a list of 1..256")
    peers = [PEERS["miniweb"], *(_model_peer(n) for n in counts)]
    python = Path(sys.executable)
    found: dict[str, list[Row]] = {peer.name: [] for peer in peers}
    stolen = []
    for _ in range(args.rounds):
        before = cpu_times()
        for peer in peers:
            found[peer.name].append(_measure(peer, python, args.duration))
        stolen.append(stolen_share(before, cpu_times()))
    rows = []
    for peer in peers:
        ordered = sorted(found[peer.name], key=lambda row: row.requests_per_sec)
        row = ordered[len(ordered) // 2]
        each = ", ".join(f"{r.requests_per_sec:,.0f}" for r in found[peer.name])
        rows.append([peer.name, peer.notes, f"{row.requests_per_sec:,.0f} ({each})", f"{row.p99_ms:.2f}",
                     f"{row.cpu_us:.1f}", f"{row.switches:.2f}"])
    print(f"Keep-alive hello, wrk -t1 -c50 -d{args.duration:g}s on cpu 1, servers on cpu 0 "
          f"(median round of {args.rounds}, rounds in brackets)\n")
    headers = ["server", "how", "req/s", "p99 ms", "server CPU µs/request", "switches/request"]
    print(table(headers, rows) + stolen_line(stolen))


if __name__ == "__main__":
    main()
