"""``python -m bench tls``: keep-alive hello over TLS, ours against gunicorn (gthread), one certificate.

The certificate is made for the run with openssl (RSA 2048, self-signed for 127.0.0.1); wrk speaks TLS
itself (Debian's wrk is built with OpenSSL). Same pinning as `compare`: server on cpu 0, wrk on cpu 1.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from bench.compare import HOST, SCENARIOS, Options, measure
from bench.peers import APP, Launch, Peer, free_port, serve
from bench.report import table

__all__ = ["tls"]


def _certificate(folder: Path) -> tuple[str, str]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return str(cert), str(key)


def _peers(cert: str, key: str) -> list[Peer]:
    def ours(x: Launch) -> list[str]:
        args = f"-m server {x.port} {APP} --host {x.host} --threads {x.threads} --no-access-log"
        return [str(x.python), *args.split(), "--certfile", cert, "--keyfile", key]

    def gunicorn(x: Launch) -> list[str]:
        args = f"-m gunicorn -k gthread -w 1 --threads {x.threads} -b {x.host}:{x.port} {APP}"
        return [str(x.python), *args.split(), "--certfile", cert, "--keyfile", key]

    return [
        Peer("miniweb", "ours: python -m server --certfile --keyfile", ours),
        Peer("gunicorn", "gunicorn -k gthread -w 1 --certfile --keyfile", gunicorn),
    ]


def tls(opts: Options) -> str:
    """One keep-alive measurement per server over TLS; our ratio to gunicorn's."""
    scenario = SCENARIOS["keepalive"]
    rows, rps = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as folder:
        cert, key = _certificate(Path(folder))
        for peer in _peers(cert, key):
            launch = Launch(opts.python, HOST, free_port(HOST), opts.threads, scheme="https")
            with serve(peer, launch, cpu=0, tag="tls") as server:
                result = measure(server.url, scenario, opts)
            rps[peer.name] = result.requests_per_sec
            opts.results.setdefault("tls", {})[peer.name] = result.as_dict()
            rows.append(
                [peer.name, f"{result.requests_per_sec:,.0f}", f"{result.p99_ms:.2f}", str(result.errors)]
            )
    ratio = rps["miniweb"] / rps["gunicorn"] if rps.get("gunicorn") else 0.0
    rows.append(["ours / gunicorn", f"{ratio:.2f}", "", ""])
    title = f"TLS keep-alive hello (same certificate), wrk -c{opts.connections}"
    return f"{title}\n\n" + table(["server", "req/s", "p99 ms", "errors"], rows)
