"""The demo past one machine, on this machine: nginx, three app hosts, a MariaDB primary and its replica.

    python -m scripts.cluster up [--port 8080] [--app-port 8000] [--run-dir .data/cluster]
    python -m scripts.cluster status     # one JSON object: every part's URL and pid, replication lag
    python -m scripts.cluster down       # stops every part by pid, removes the run directory

    clients ─► nginx 127.0.0.1:PORT ─► app hosts 127.0.0.11-13:APP_PORT (python -m server --workers 2)
                                           │ writes, read-your-writes ─► MariaDB primary ─GTID─► replica
                                           └ browsing, search ──────────────────────────────────┘

Hosts are loopback addresses (all of 127.0.0.0/8 is on `lo` on Linux), so nothing leaves the machine. Every
part is a process this script starts in its own session; their pids go to `RUN_DIR/cluster.json`, which
is how `down` and `status` (other processes) find them. The databases start empty each `up` (fresh data
directories, loaded from sql/): this is a topology to try and to test, not a place to keep data.

The same as an API for the tests: `Cluster(run_dir, port=0, app_port=0).up()` (0 = free ports), then
`kill_host`, `reload_host`, `start_host`, `.primary` / `.replica` (LocalMariaDB: stop() and start() them),
`down()`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import sys
from pathlib import Path

from .daemons import DaemonError, alive, free_port_on, spawn, stop, wait_listening
from .localdb import ROOT, LocalDBError, LocalMariaDB, free_port
from .nginx import render_config, start_nginx
from .replication import primary_args, replica_args, replication_status, setup_replication

__all__ = ["Cluster", "ClusterError", "DEFAULT_HOSTS", "DEFAULT_RUN_DIR", "PROXY_ADDRESS"]

log = logging.getLogger(__name__)

DEFAULT_RUN_DIR = ROOT / ".data" / "cluster"
DEFAULT_HOSTS = ("127.0.0.11", "127.0.0.12", "127.0.0.13")
PROXY_ADDRESS = "127.0.0.1"     # nginx listens here and connects to the hosts from here: the trusted proxy
DEFAULT_PORT = 8080
DEFAULT_APP_PORT = 8000
HOST_START_TIMEOUT = 60.0       # two workers importing the app on a busy 2-core machine
HOST_STOP_TIMEOUT = 40.0        # the server's --graceful-timeout (30 s) plus a margin
STATE_FILE = "cluster.json"


class ClusterError(RuntimeError):
    """The cluster cannot do what was asked; the message says what to do."""


class Cluster:
    """One topology in one run directory; its state (ports, pids, the secret key) in cluster.json."""

    def __init__(self, run_dir: Path = DEFAULT_RUN_DIR, *, port: int = DEFAULT_PORT,
                 app_port: int = DEFAULT_APP_PORT, hosts: tuple[str, ...] = DEFAULT_HOSTS,
                 workers: int = 2) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.state_file = self.run_dir / STATE_FILE
        self.state: dict = {"port": port, "app_port": app_port, "workers": workers, "hosts": [
            {"address": address} for address in hosts]}
        self._dbs: dict[str, LocalMariaDB] = {}

    @classmethod
    def load(cls, run_dir: Path = DEFAULT_RUN_DIR) -> Cluster:
        cluster = cls(run_dir)
        try:
            cluster.state = json.loads(cluster.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ClusterError(f"no cluster in {cluster.run_dir}: start one with "
                               "`python -m scripts.cluster up`") from None
        return cluster

    # -- the parts -----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{PROXY_ADDRESS}:{self.state['port']}"

    def _db(self, role: str) -> LocalMariaDB:
        # One object per role: the one that started mariadbd holds its Popen and reaps it when it stops
        # (a fresh object would wait for ever on our own zombie child).
        if role not in self._dbs:
            args = primary_args(1) if role == "primary" else replica_args(2)
            port = self.state["db"][role]["port"]
            self._dbs[role] = LocalMariaDB(self.run_dir / role, port, extra_args=args)
        return self._dbs[role]

    @property
    def primary(self) -> LocalMariaDB:
        return self._db("primary")

    @property
    def replica(self) -> LocalMariaDB:
        return self._db("replica")

    def host_url(self, index: int) -> str:
        host = self.state["hosts"][index]
        return f"http://{host['address']}:{host['port']}"

    def host_log(self, index: int) -> Path:
        return self.run_dir / f"host-{self.state['hosts'][index]['address']}.log"

    def host_env(self) -> dict[str, str]:
        """What every app host gets: both database URLs and the shared SECRET_KEY (CSRF, sessions)."""
        return {**os.environ, "PYTHONPATH": str(ROOT), "SECRET_KEY": self.state["secret_key"],
                "DATABASE_URL": self.primary.url, "DATABASE_REPLICA_URL": self.replica.url}

    # -- up ------------------------------------------------------------------------------------------------

    def up(self) -> dict:
        """Start everything (databases, replication, hosts, nginx); on any failure stop what started."""
        if self.state_file.exists():
            running = Cluster.load(self.run_dir)
            if running._pids():
                raise ClusterError(f"a cluster already runs from {self.run_dir}; "
                                   "stop it first with `python -m scripts.cluster down`.")
        shutil.rmtree(self.run_dir, ignore_errors=True)  # fresh databases each time (see the docstring)
        self.run_dir.mkdir(parents=True)
        self.state["secret_key"] = os.environ.get("SECRET_KEY") or secrets.token_urlsafe(32)
        if self.state["port"] == 0:
            self.state["port"] = free_port_on(PROXY_ADDRESS)
        for host in self.state["hosts"]:
            host["port"] = self.state["app_port"] or free_port_on(host["address"])
        self.state["db"] = {role: {"port": free_port()} for role in ("primary", "replica")}
        try:
            self._save()
            self.primary.start()
            self.replica.start()
            setup_replication(self.primary, self.replica)
            for index in range(len(self.state["hosts"])):
                self.start_host(index)
            self._start_nginx()
        except BaseException:
            self.down(remove=False)
            raise
        return self.status()

    def start_host(self, index: int) -> int:
        """Start (or restart) app host `index`: `python -m server --workers N` on its own address."""
        host = self.state["hosts"][index]
        if host.get("pid") and alive(host["pid"]):
            raise ClusterError(f"app host {host['address']} already runs (pid {host['pid']})")
        command = [sys.executable, "-m", "server", "--host", host["address"],
                   "--workers", str(self.state["workers"]), "--trusted-proxy", PROXY_ADDRESS,
                   str(host["port"]), "apps.favorites:application"]
        log_file = self.host_log(index)
        process = spawn(command, log_file=log_file, env=self.host_env(), cwd=ROOT)
        host["pid"] = process.pid
        self._save()
        wait_listening(process, host["address"], host["port"], timeout=HOST_START_TIMEOUT, log_file=log_file)
        log.info("app host %s:%d (pid %d)", host["address"], host["port"], process.pid)
        return process.pid

    def kill_host(self, index: int, sig: int = signal.SIGKILL) -> None:
        """Signal app host `index`'s whole process group (SIGKILL: the machine is gone, workers too)."""
        pid = self.state["hosts"][index]["pid"]
        os.killpg(pid, sig)
        if sig == signal.SIGKILL:
            stop(pid, sig=signal.SIGKILL, timeout=10)  # reaps it when it is our child

    def reload_host(self, index: int) -> None:
        """SIGHUP to app host `index`'s server parent: the server's rolling reload (new workers, new code)."""
        os.kill(self.state["hosts"][index]["pid"], signal.SIGHUP)

    def _start_nginx(self) -> None:
        upstreams = [f"{host['address']}:{host['port']}" for host in self.state["hosts"]]
        listen = f"{PROXY_ADDRESS}:{self.state['port']}"
        conf = render_config(self.run_dir, listen=listen, upstreams=upstreams)
        process = start_nginx(conf, host=PROXY_ADDRESS, port=self.state["port"])
        self.state["nginx"] = {"pid": process.pid, "conf": str(conf),
                               "access_log": str(conf.parent / "access.log")}
        self._save()

    def _save(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        # It holds the SECRET_KEY: readable by its owner only.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self.state, out, indent=2)
        os.replace(tmp, self.state_file)

    # -- down, status --------------------------------------------------------------------------------------

    def _pids(self) -> list[int]:
        pids = [host.get("pid") for host in self.state.get("hosts", ())]
        pids.append(self.state.get("nginx", {}).get("pid"))
        if "db" in self.state:
            pids += [_db_pid(self.primary), _db_pid(self.replica)]
        return [pid for pid in pids if pid and alive(pid)]

    def down(self, *, remove: bool = True) -> None:
        """Stop nginx, then the hosts (they drain), then the databases; remove the run directory."""
        nginx_pid = self.state.get("nginx", {}).get("pid")
        if nginx_pid:
            stop(nginx_pid, sig=signal.SIGQUIT, timeout=HOST_STOP_TIMEOUT)  # SIGQUIT: nginx's graceful stop
        for host in self.state.get("hosts", ()):
            if host.get("pid"):
                stop(host["pid"], sig=signal.SIGTERM, timeout=HOST_STOP_TIMEOUT)
        if "db" in self.state:
            for db in (self.replica, self.primary):
                with contextlib.suppress(LocalDBError):
                    db.stop()
        if self._pids():
            raise ClusterError(f"some parts still run (pids {self._pids()}); see the logs in {self.run_dir}")
        if remove:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        else:
            self.state_file.unlink(missing_ok=True)

    def status(self) -> dict:
        """Every part's URL and pid (null when it is not running), and the replication state."""
        def pid(value: int | None) -> int | None:
            return value if value and alive(value) else None

        primary, replica = self.primary, self.replica
        return {
            "url": self.url,
            "hosts": [{"url": self.host_url(index), "pid": pid(host.get("pid"))}
                      for index, host in enumerate(self.state["hosts"])],
            "db": {"primary": {"url": primary.url, "pid": _db_pid(primary)},
                   "replica": {"url": replica.url, "pid": _db_pid(replica)},
                   "replication": replication_status(primary, replica)},
            "nginx": {"pid": pid(self.state.get("nginx", {}).get("pid"))},
        }


def _db_pid(db: LocalMariaDB) -> int | None:
    try:
        pid = int(db.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="nginx + three app hosts + MariaDB primary and replica, "
                                     "all on loopback addresses of this machine.")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR,
                        help=f"state, logs and databases (default {DEFAULT_RUN_DIR.relative_to(ROOT)})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"nginx's port on {PROXY_ADDRESS} (default {DEFAULT_PORT}; 0 = a free one)")
    parser.add_argument("--app-port", type=int, default=DEFAULT_APP_PORT,
                        help=f"each app host's port (default {DEFAULT_APP_PORT}; 0 = a free one per host)")
    parser.add_argument("--workers", type=int, default=2, help="server processes per app host (default 2)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="cluster: %(message)s", stream=sys.stderr)
    try:
        if args.command == "up":
            cluster = Cluster(args.run_dir, port=args.port, app_port=args.app_port, workers=args.workers)
            status = cluster.up()
            log.info("up: %s (stop it with `python -m scripts.cluster down`)", status["url"])
        elif args.command == "down":
            Cluster.load(args.run_dir).down()
            log.info("down: every part stopped, %s removed", args.run_dir)
            return 0
        else:
            status = Cluster.load(args.run_dir).status()
        sys.stdout.write(json.dumps(status) + "\n")
    except (ClusterError, DaemonError, LocalDBError) as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
