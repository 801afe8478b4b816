"""The listening layer: TCP (IPv4/IPv6), unix sockets, sockets inherited from systemd, and TLS on any of them.

    Config.binds ("HOST:PORT", "[IPv6]:PORT", "unix:PATH") + LISTEN_FDS ──► open_listeners() ──► [Listener]

`open_listeners` is a plain function returning bound, listening, non-blocking sockets (each with its TLS
context or None), so a parent process can call it before forking workers that share them. Above this
layer (dispatcher, connections, WSGI) a client is a `Connection`, whatever it came through; only the
environ's wsgi.url_scheme and SERVER_PORT differ per listener.

Unix sockets: created with mode `unix_socket_mode` (0o660 by default: the owner and its group, say the
proxy's, may connect); a stale socket file left by a crashed server is replaced only when nothing answers
on it; the file is removed when the process that created it closes the listener.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import resource
import socket
import ssl
import stat
from dataclasses import dataclass, field

from server.config import Config
from server.tls import server_context

__all__ = [
    "Listener",
    "ListenError",
    "bind",
    "inherited_sockets",
    "listener_for",
    "open_listeners",
    "parse_bind",
    "raise_fd_limit",
    "server_name",
]

log = logging.getLogger(__name__)

_WILDCARDS = frozenset(("", "0.0.0.0", "::"))
_SD_LISTEN_FDS_START = 3  # sd_listen_fds(3): inherited sockets start at file descriptor 3


class ListenError(OSError):
    """A listener could not be set up; `where` names it for the message ("127.0.0.1 port 80")."""

    def __init__(self, where: str, reason: str, code: int | None = None) -> None:
        super().__init__(code, reason)
        self.where = where
        self.reason = reason


@dataclass(frozen=True)
class BindAddress:
    """One parsed --bind value: a TCP host and port, or a unix socket path."""

    host: str = ""
    port: int = 0
    path: str | None = None

    def __str__(self) -> str:
        if self.path is not None:
            return f"unix:{self.path}"
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(eq=False)
class Listener:
    """A listening socket, what it is, and the TLS context its connections are wrapped in (or None)."""

    sock: socket.socket
    name: str  # for logs and Server.url: "127.0.0.1:8899", "[::1]:8443", "unix:/run/app.sock (fd 3)"
    tls: ssl.SSLContext | None = None
    server_name: str = ""  # PEP 3333 SERVER_NAME / SERVER_PORT of requests that arrive here
    server_port: str = ""
    _unlink: tuple[str, int, int] | None = field(default=None, repr=False)  # (path, inode, owner pid)

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def url(self) -> str:
        """http(s)://host:port/ for TCP, unix:PATH for a unix socket (the name without "(fd N)")."""
        address = self.name.partition(" (fd ")[0]
        return address if address.startswith("unix:") else f"{self.scheme}://{address}/"

    def close(self) -> None:
        """Close the socket; the creating process also removes its unix socket file (if still its own)."""
        with contextlib.suppress(OSError):
            self.sock.close()
        if self._unlink is not None:
            path, inode, owner = self._unlink
            if os.getpid() == owner:  # a forked worker must not remove the parent's socket file
                with contextlib.suppress(OSError):
                    if os.stat(path).st_ino == inode:
                        os.unlink(path)
                self._unlink = None


def parse_bind(text: str) -> BindAddress:
    """`HOST:PORT`, `[IPv6]:PORT`, `:PORT` (all interfaces) or `unix:PATH`; ValueError otherwise."""
    if text.startswith("unix:"):
        path = text[5:]
        if not path:
            raise ValueError(f"--bind {text!r}: unix: needs a socket path, as in unix:/run/app.sock")
        return BindAddress(path=os.path.abspath(path))
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise ValueError(f"--bind {text!r}: expected [IPv6]:PORT, as in [::1]:8899")
        port_text = rest[1:]
    else:
        host, colon, port_text = text.rpartition(":")
        if not colon or ":" in host:
            raise ValueError(f"--bind {text!r}: expected HOST:PORT, [IPv6]:PORT or unix:PATH")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"--bind {text!r}: the port must be a number from 0 to 65535")
    return BindAddress(host=host, port=int(port_text))


def open_listeners(config: Config) -> list[Listener]:
    """Every listener this process serves: inherited sockets (systemd), then `config.binds`.

    Without binds and without inherited sockets, config.host:config.port. Raises ListenError (closing
    whatever it had opened) if one cannot be set up.
    """
    tls = server_context(config)
    listeners: list[Listener] = []
    try:
        for sock in inherited_sockets():
            listeners.append(_listener(sock, tls, inherited=True))
        specs = [parse_bind(text) for text in config.binds]
        if not specs and not listeners:
            specs = [BindAddress(host=config.host, port=config.port)]
        for spec in specs:
            if spec.path is not None:
                listeners.append(_bind_unix(spec, config, tls))
            else:
                sock = _bind_tcp(spec.host, spec.port, config.backlog)
                listeners.append(_listener(sock, tls, spec.host))
    except BaseException:
        for listener in listeners:
            listener.close()
        raise
    return listeners


def inherited_sockets() -> list[socket.socket]:
    """systemd socket activation (sd_listen_fds(3)): the sockets passed to this very process.

    LISTEN_PID must be our pid (the variables may have been inherited from a parent they were meant
    for). They are unset afterwards, like sd_listen_fds(unset_environment=1), so a child we start does
    not take the sockets for its own.
    """
    pid, count = os.environ.get("LISTEN_PID", ""), os.environ.get("LISTEN_FDS", "")
    if not pid.isdigit() or int(pid) != os.getpid() or not count.isdigit():
        return []
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    sockets = []
    for fd in range(_SD_LISTEN_FDS_START, _SD_LISTEN_FDS_START + int(count)):
        sock = socket.socket(fileno=fd)  # family and type read from the descriptor
        sock.set_inheritable(False)
        sock.setblocking(False)
        sockets.append(sock)
    log.info("socket activation: serving on %d inherited socket(s)", len(sockets))
    return sockets


def _listener(sock: socket.socket, tls: ssl.SSLContext | None, host: str | None = None,
              inherited: bool = False) -> Listener:  # fmt: skip
    """The Listener for a bound socket, named after its real address (port 0 resolved)."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        address = sock.getsockname()
        shown = f"[{address[0]}]" if sock.family == socket.AF_INET6 else address[0]
        name, port = f"{shown}:{address[1]}", str(address[1])
        name_of_server = server_name(host if host is not None else address[0])
    else:
        name, port, name_of_server = f"unix:{sock.getsockname()}", "", "localhost"
    if inherited:
        name += f" (fd {sock.fileno()})"
    return Listener(sock, name, tls, name_of_server, port)


def listener_for(sock: socket.socket, tls: ssl.SSLContext | None = None) -> Listener:
    """A Listener for a socket bound elsewhere (an embedder's, or a parent process's)."""
    return _listener(sock, tls)


def bind(config: Config) -> socket.socket:
    """A listening, non-blocking socket for config.host/config.port (port 0: the kernel picks one)."""
    return _bind_tcp(config.host, config.port, config.backlog)


def _bind_tcp(host: str, port: int, backlog: int) -> socket.socket:
    """A listening, non-blocking TCP socket (port 0: the kernel picks one).

    SO_REUSEADDR lets a restarted server rebind while old connections sit in TIME_WAIT. For "::" the
    socket is dual-stack (IPV6_V6ONLY off), so IPv4 clients reach it too.
    """
    where = f"{host} port {port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ListenError(where, f"cannot resolve {host!r}: {exc.strerror}") from exc
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and host in _WILDCARDS:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ListenError(where, _reason(exc), exc.errno) from exc
    except BaseException:
        sock.close()
        raise
    return sock


def _bind_unix(spec: BindAddress, config: Config, tls: ssl.SSLContext | None) -> Listener:
    path = spec.path
    assert path is not None
    where = f"unix:{path}"
    _remove_stale_socket(path, where)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        # Before listen(): nobody can connect yet, so no client ever sees looser permissions.
        os.chmod(path, config.unix_socket_mode)
        sock.listen(config.backlog)
        sock.setblocking(False)
        inode = os.stat(path).st_ino
    except OSError as exc:
        sock.close()
        raise ListenError(where, _reason(exc), exc.errno) from exc
    return Listener(sock, where, tls, "localhost", "", _unlink=(path, inode, os.getpid()))


def _remove_stale_socket(path: str, where: str) -> None:
    """Remove a socket file nothing listens on (a crashed server's); refuse a live one or another file."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ListenError(where, "the path exists and is not a socket", errno.EEXIST)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except ConnectionRefusedError:  # nobody listens: stale
        log.info("removing stale socket file %s", path)
        os.unlink(path)
        return
    except OSError as exc:
        raise ListenError(where, _reason(exc), exc.errno) from exc
    finally:
        probe.close()
    raise ListenError(where, "address already in use (another server listens on it)", errno.EADDRINUSE)


def _reason(exc: OSError) -> str:
    return "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))


def server_name(host: str) -> str:
    """PEP 3333 SERVER_NAME: the configured host, or this machine's name for a wildcard address."""
    return socket.gethostname() if host in _WILDCARDS else host


def raise_fd_limit(config: Config) -> int:
    """Raise the soft RLIMIT_NOFILE toward the hard limit; return how many connections fit.

    Each connection is one descriptor; `fd_headroom` more are kept for everything else. A limit too
    low for `max_connections` is logged as a warning (and accepting pauses at the lower number) rather
    than discovered as EMFILE under load.
    """
    wanted = config.max_connections + config.fd_headroom
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if target > soft:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                soft = target
            except (ValueError, OSError) as exc:
                log.warning("could not raise the file descriptor limit from %d to %d: %s", soft, target, exc)
    if soft == resource.RLIM_INFINITY:
        return config.max_connections
    fits = soft - config.fd_headroom
    if fits < config.max_connections:
        log.warning(
            "the file descriptor limit (%d, hard limit %s) lets this process hold only %d connections, "
            "not max_connections=%d; raise it (ulimit -Hn) to hold more",
            soft, "unlimited" if hard == resource.RLIM_INFINITY else hard, max(fits, 1),
            config.max_connections,
        )  # fmt: skip
    return max(1, min(config.max_connections, fits))
