"""Every limit and timeout of the server, in one frozen object.

Each field says why it has the value it has. Every layer (CLI, parser, connections, dispatcher, workers)
gets the same `Config`; every limit, timeout and size an operator could have a reason to change lives
here, and the CLI has an option for those a deployment sets (README, the options table).

Outside `Config`, `server/` holds numbers of two kinds only, each named once at the top of the only
module it shapes. Numbers a standard fixes (status codes, grammar, `supervised.BOOT_ERROR` = gunicorn's
exit status 3, `listener._SD_LISTEN_FDS_START` = sd_listen_fds(3)'s first descriptor 3). And internal
constants that shape how the code does its job, not what a client or an operator meets, so no
deployment has a reason to tune them; each has its reason next to it:
- pacing of the main and worker threads: `connection.LINGER_STEPS` (how often a lingering worker looks
  up: the keepalive_linger knob is the one to turn), `body_receiver.RECEIVE_STEPS` (how much of one
  body the dispatcher takes before serving others);
- `tls.ENCRYPT_BLOCK` (plaintext encrypted per step of a large TLS send: bounds the ciphertext held);
- the access-log writer: `accesslog.FLUSH_INTERVAL` (lines wait at most 0.1 s), `CHUNK_LINES` and
  `CHUNK_PAUSE` (how it yields the GIL to the workers);
- the arbiter's own clock: `arbiter._TICK`, `_BOOT_RETRY`, `_DUMP_GRACE`, and `_KILL_MARGIN` (a
  backstop past graceful_timeout, which a worker's own drain already honours);
- `logfiles._MODE` (0o640: owner writes, its group, a log shipper say, reads; the umask narrows it).
`tests/server/test_config.py` fails when a module-level number appears elsewhere without being listed
here, so this paragraph stays true.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

__all__ = ["Config"]


@dataclass(frozen=True, slots=True)
class Config:
    # --- where to listen -------------------------------------------------------------------------------
    host: str = "127.0.0.1"  # loopback by default: exposing a server is a decision ("0.0.0.0" or "::")
    port: int = 8899  # the course's port
    backlog: int = 2048  # accept queue; the kernel caps it at net.core.somaxconn (4096 on current Linux)

    # --- concurrency -----------------------------------------------------------------------------------
    threads: int = 64  # connections served at once; idle keep-alive connections wait in the poller, not here
    workers: int = 1  # pre-forked processes sharing the listening socket (gunicorn-style); 1 = no fork
    max_connections: int = 12_000  # open connections per process (c10k + headroom); past it, stop accepting
    fd_headroom: int = 256  # descriptors kept free beyond client sockets: files, database, logs, pipes
    # How long a worker keeps waiting for the next request on a keep-alive connection before it parks the
    # connection in the poller. Long enough to catch a client's next request without a hand-off (a
    # benchmark's arrives within microseconds, a browser's within milliseconds), short enough that a
    # worker is soon free again. Workers never linger while other connections are queued for a thread.
    keepalive_linger: float = 0.1
    # Linux: worker threads run under SCHED_BATCH, which turns off wake-up preemption for them. Every
    # recv/send releases the GIL and wakes a thread waiting for it; preempting the releaser for that
    # thread only makes the releaser wait for the GIL in turn (a switch, and a convoy). Measured with 50
    # keep-alive clients on one core: same throughput, p99 latency 12-13 ms -> 4-5 ms.
    batch_scheduling: bool = True

    # --- request limits (RFC 9112 §2.3: a server decides its own limits) -------------------------------
    max_request_line: int = 8 * 1024  # -> 414; RFC 9112 §3 recommends at least 8000 octets
    max_header_bytes: int = 64 * 1024  # -> 431; nginx 8K/32K, waitress 256K, node 16K (then 80K)
    max_header_count: int = 100  # -> 431; gunicorn limit_request_fields default
    max_body_bytes: int = 64 * 1024 * 1024  # -> 413; nginx 1M, waitress 1G; bigger uploads belong elsewhere
    max_chunk_line: int = 4 * 1024  # chunk-size line plus extensions; nobody legitimate sends more

    # --- timeouts (seconds; measured with time.monotonic(), which NTP cannot move) ---------------------
    header_timeout: float = 10.0  # first byte of a request to its blank line -> 408 (slowloris defence)
    body_timeout: float = 30.0  # longest silence while a request body is being read -> 408
    keepalive_timeout: float = 30.0  # idle keep-alive connection is closed after this (nginx 75, gunicorn 2)
    write_timeout: float = 30.0  # a client that reads nothing for this long is dropped
    graceful_timeout: float = 30.0  # on SIGTERM, in-flight requests get this long to finish (gunicorn 30)
    # After an error answer, read and discard what the client still sends for this long before close():
    # closing with unread bytes makes the kernel send RST, which can destroy our answer in flight.
    lingering_close_timeout: float = 2.0
    # On SIGTERM, a connection accepted but silent so far gets this long to send its first request,
    # answered with Connection: close (closing it at once would reset a request already on its way).
    # An idle keep-alive connection is kept until its keepalive_timeout instead: its client may reuse it
    # at any moment, and a proxy never retries a POST reset on it; a proxy whose idle timeout is below
    # keepalive_timeout closes it first (deploy/nginx.conf). Both within graceful_timeout.
    drain_first_request: float = 1.0
    accept_retry_delay: float = 0.5  # after EMFILE/ENFILE, pause accepting this long (fds free up slowly)

    # --- I/O sizes --------------------------------------------------------------------------------------
    recv_size: int = 64 * 1024  # one recv(); large enough for a whole pipelined burst
    sendfile_chunk: int = 1024 * 1024  # os.sendfile() per call, so a huge file cannot hog a worker forever

    # --- memos ------------------------------------------------------------------------------------------
    # Entries in each memo of values the server validated or converted once (request header name ->
    # environ key, the app's status and header lines, a peer's trusted-proxy verdict): clients and apps
    # choose the keys, so each memo is bounded. A value past the bound is handled afresh each time:
    # memory, never behaviour.
    lookup_cache_entries: int = 1000

    # --- behaviour ---------------------------------------------------------------------------------------
    access_log: bool = True  # one Combined Log Format line per request, like nginx and gunicorn
    log_level: str = "info"
    server_header: str = "miniweb"  # the `Server` response header; no version, nothing to fingerprint
    url_scheme: str = "http"  # wsgi.url_scheme unless a trusted proxy says X-Forwarded-Proto
    # Peers (addresses or CIDR ranges) whose Forwarded / X-Forwarded-For/-Proto are believed (server.proxy)
    trusted_proxies: tuple[str, ...] = field(default=())

    # --- listening: binds, unix sockets, TLS (server.listener, server.tls; CLI in server.listen_options) ---
    # "HOST:PORT", "[IPv6]:PORT", "unix:PATH"; empty: host:port above (unless systemd passed sockets)
    binds: tuple[str, ...] = ()
    unix_socket_mode: int = 0o660  # owner and group (say, the proxy's) may connect; nobody else
    certfile: str | None = None  # PEM certificate chain: set, every listener speaks TLS (1.2 or newer)
    keyfile: str | None = None  # its private key (None: in certfile)
    ca_certs: str | None = None  # CAs for client certificates
    cert_reqs: str = "none"  # client certificates: "none", "optional" or "required" (needs ca_certs)

    # --- request bodies received before a worker takes the request (server.body_spool) -----------------
    body_buffer_bytes: int = 1024 * 1024  # per request in memory; beyond it, a temporary file

    # --- process model (server/arbiter.py; the CLI's --workers, --timeout, --max-requests, --reload) ------
    supervised: bool = False  # run under the arbiter (parent + workers), even with workers=1
    worker_timeout: float = 30.0  # a worker silent this long is dumped and killed (gunicorn 30); 0 = off
    heartbeat_interval: float = 1.0  # worker -> arbiter "alive" byte; cheap: at most one write a second
    orphan_grace: float = 1.0  # parent gone: requests in flight get this long (the issue: exit within 2 s)
    max_requests: int = 0  # a worker retires after about this many requests (a leak stays bounded); 0 = off
    max_requests_jitter: int = 0  # plus random 0..J, so workers do not all retire at once
    reload: bool = False  # development: a changed source file starts a fresh worker (server/reloader.py)
    reload_extra: tuple[str, ...] = field(default=())  # more files to watch (templates, say)
    reload_interval: float = 0.5  # mtime polling period; with fork + import well inside the 2 s promised

    def replace(self, **changes: object) -> Config:
        """A copy with some fields changed; unknown names raise TypeError (no silent typos)."""
        return dataclasses.replace(self, **changes)
