"""The servers under test: how to start each one, and a handle that waits for it and always stops it.

Every server serves ``bench.apps:application`` with the same thread count (ours default, read from
`server.config.Config`), access log off unless a scenario asks otherwise, pinned with ``taskset -c CPU``.
Each runs in its own session (process group) so that stopping it also stops gunicorn's worker or our
pre-forked workers: SIGTERM to the group, SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.env import REPO

__all__ = ["PEERS", "Launch", "Peer", "RunningServer", "free_port", "group_rss_kb", "gunicorn_argv",
           "ours_with_defaults", "serve", "waitress_argv"]

log = logging.getLogger(__name__)

APP = "bench.apps:application"
RESULTS = REPO / "bench" / "results"
_READY_TIMEOUT = 20.0  # seconds for a server to answer its first request (gunicorn's arbiter is slowest)
_STOP_GRACE = 10.0  # SIGTERM, then this long before SIGKILL


@dataclass(frozen=True, slots=True)
class Launch:
    """What one run asks of a server."""

    python: Path
    host: str
    port: int
    threads: int
    access_log: bool = False
    extra: tuple[str, ...] = ()  # more command-line options (ours only: timeouts, --workers)
    scheme: str = "http"  # "https": the argv function adds the certificate options (bench/tls.py)


@dataclass(frozen=True, slots=True)
class Peer:
    name: str
    notes: str  # how it is run, for the report
    argv: Callable[[Launch], list[str]]


def ours_with_defaults(name: str, app: str, notes: str = "") -> Peer:
    """Our server serving ``app`` (``module:callable``) with its default flags (the access log on), the
    launch's host and thread count: what a user runs, for the modes that compare apps on our server."""

    def argv(x: Launch) -> list[str]:
        args = f"-m server {x.port} {app} --host {x.host} --threads {x.threads}"
        return [str(x.python), *args.split()]

    return Peer(name, notes or f"python -m server PORT {app} (default flags)", argv)


def _miniweb(x: Launch) -> list[str]:
    log_flag = "--access-log" if x.access_log else "--no-access-log"
    args = f"-m server {x.port} {APP} --host {x.host} --threads {x.threads} {log_flag}"
    return [str(x.python), *args.split(), *x.extra]


def waitress_argv(x: Launch, app: str = APP) -> list[str]:
    # waitress writes no access log (that takes paste's TransLogger).
    return [str(x.python), *f"-m waitress --listen={x.host}:{x.port} --threads={x.threads} {app}".split()]


def gunicorn_argv(x: Launch, app: str = APP) -> list[str]:
    # No --access-logfile: gunicorn's access log is off by default.
    args = f"-m gunicorn -k gthread -w 1 --threads {x.threads} -b {x.host}:{x.port} {app}"
    return [str(x.python), *args.split()]


def _cheroot(x: Launch) -> list[str]:
    args = f"-m cheroot --bind {x.host}:{x.port} --threads {x.threads} --max-threads {x.threads} {APP}"
    return [str(x.python), *args.split()]


def _launcher(name: str) -> Callable[[Launch], list[str]]:
    return lambda x: [str(x.python), "-m", "bench.launch", name, x.host, str(x.port)]


PEERS: dict[str, Peer] = {
    p.name: p
    for p in (
        Peer("miniweb", "ours: python -m server --threads N --no-access-log", _miniweb),
        Peer("waitress", "waitress-serve --threads=N", waitress_argv),
        Peer("gunicorn", "gunicorn -k gthread -w 1 --threads N", gunicorn_argv),
        Peer("cheroot", "cheroot --threads N --max-threads N", _cheroot),
        Peer(
            "wsgiref",
            "stdlib wsgiref + ThreadingMixIn: a thread per connection, HTTP/1.0",
            _launcher("wsgiref"),
        ),
        Peer("bjoern", "C on libev, one thread (it has no thread option)", _launcher("bjoern")),
    )
}


def free_port(host: str = "127.0.0.1") -> int:
    """An ephemeral port that was free a moment ago (the server binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def group_rss_kb(pgid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak), in KiB, summed over every process of a process group (pre-fork aware)."""
    total = {"VmRSS": 0, "VmHWM": 0}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != pgid:  # field 5, after "pid (comm) state ppid"
                continue
            for line in Path(entry.path, "status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in total:
                    total[key] += int(value.split()[0])
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
    return total


class RunningServer:
    """One server process (group) started by `serve`."""

    def __init__(self, peer: Peer, launch: Launch, proc: subprocess.Popen[bytes], log_path: Path) -> None:
        self.peer = peer
        self.launch = launch
        self.proc = proc
        self.log_path = log_path

    @property
    def url(self) -> str:
        return f"{self.launch.scheme}://{self.launch.host}:{self.launch.port}"

    def rss_kb(self) -> dict[str, int]:
        return group_rss_kb(self.proc.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, timeout: float = _READY_TIMEOUT) -> None:
        """Return once ``GET /`` answers 200; raise if the process exits or the deadline passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.peer.name} exited {self.proc.returncode}:\n{self.log_tail()}")
            if self.launch.scheme == "https":  # readiness only: the certificate is the bench's own
                conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                    self.launch.host, self.launch.port, timeout=2, context=ssl._create_unverified_context()
                )
            else:
                conn = http.client.HTTPConnection(self.launch.host, self.launch.port, timeout=2)
            try:
                conn.request("GET", "/")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.1)  # polling a port that is not open yet; bounded by the deadline
        raise RuntimeError(f"{self.peer.name} did not answer within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM the whole group, SIGKILL it if it lingers; idempotent."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(_STOP_GRACE)
            except subprocess.TimeoutExpired:
                log.warning("%s ignored SIGTERM for %.0fs; killing it", self.peer.name, _STOP_GRACE)
        # Kill leftovers (a worker whose parent already exited) even when the leader is gone.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


@contextlib.contextmanager
def serve(peer: Peer, launch: Launch, *, cpu: int | None = 0, tag: str = "") -> Iterator[RunningServer]:
    """Start ``peer`` (pinned to ``cpu`` unless None), wait until it answers, stop it on the way out.

    Its stdout/stderr go to ``bench/results/NAME[-tag].log`` so a failure can show why.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS / f"{peer.name}{'-' + tag if tag else ''}.log"
    argv = peer.argv(launch)
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]  # taskset execs: the pid is the server's own
    # No PYTHONUNBUFFERED: a server's stdout keeps its default buffering, as in a real deployment.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = RunningServer(peer, launch, proc, log_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
