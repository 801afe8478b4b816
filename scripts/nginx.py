"""A private nginx in front of the app hosts, from the repository's template (deploy/nginx.conf).

    conf = render_config(run_dir, listen="127.0.0.1:8080", upstreams=["127.0.0.11:8000", ...])
    proc = start_nginx(run_dir, conf)

Everything nginx writes goes under `run_dir/nginx/`: the filled-in config, pid file, logs, temp dirs. It
runs in the foreground of its own session (`-g 'daemon off;'`), so its pid is the process we started and
the system's nginx (if any) is never touched.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from .daemons import DaemonError, spawn, wait_listening

__all__ = ["TEMPLATE", "find_nginx", "render_config", "start_nginx", "upstream_line"]

log = logging.getLogger(__name__)

TEMPLATE = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"
START_TIMEOUT = 15.0
_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")
# Passive health checks: one failure takes a host out for 5 s. Short, since a host that is back (a restart,
# a rolling deploy) should get traffic again soon; nginx sends it one request to try after that.
MAX_FAILS = 1
FAIL_TIMEOUT = "5s"


def find_nginx() -> str:
    for found in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if found and Path(found).exists():
            return found
    raise DaemonError("nginx is not installed; run `scripts/system-deps.sh cluster` "
                      "(or `apt-get install nginx`).")


def upstream_line(address: str) -> str:
    return f"        server {address} max_fails={MAX_FAILS} fail_timeout={FAIL_TIMEOUT};"


def fill(template: str, values: dict[str, str]) -> str:
    """Replace every @NAME@; a placeholder without a value is an error, not an empty string."""
    def replace(match: re.Match) -> str:
        if match.group(1) not in values:
            raise KeyError(f"{TEMPLATE.name}: no value for @{match.group(1)}@")
        return values[match.group(1)]

    return _PLACEHOLDER.sub(replace, template)


def render_config(run_dir: Path, *, listen: str, upstreams: Sequence[str]) -> Path:
    """Write run_dir/nginx/nginx.conf from the template; return its path."""
    base = Path(run_dir).resolve() / "nginx"
    (base / "temp").mkdir(parents=True, exist_ok=True)
    text = fill(TEMPLATE.read_text(encoding="utf-8"), {
        "PID_FILE": str(base / "nginx.pid"),
        "ERROR_LOG": str(base / "error.log"),
        "ACCESS_LOG": str(base / "access.log"),
        "TEMP_DIR": str(base / "temp"),
        "LISTEN": listen,
        "UPSTREAM_SERVERS": "\n".join(upstream_line(address) for address in upstreams),
    })
    conf = base / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    return conf


def _command(conf: Path, *extra: str) -> list[str]:
    base = conf.parent
    # -e: the error log before the config is read (else nginx tries /var/log/nginx/error.log first).
    return [find_nginx(), "-p", str(base), "-e", str(base / "error.log"), "-c", str(conf), *extra]


def start_nginx(conf: Path, *, host: str, port: int) -> subprocess.Popen:
    """Check the config (`nginx -t`), then run nginx in the foreground of its own session."""
    check = subprocess.run(_command(conf, "-t", "-q"), capture_output=True, text=True, check=False)
    if check.returncode != 0:
        raise DaemonError(f"nginx -t refused {conf}: {check.stderr.strip()}")
    log_file = conf.parent / "nginx.out"
    process = spawn(_command(conf, "-g", "daemon off;"), log_file=log_file)
    wait_listening(process, host, port, timeout=START_TIMEOUT, log_file=conf.parent / "error.log")
    log.info("nginx (pid %d) on %s:%d", process.pid, host, port)
    return process
