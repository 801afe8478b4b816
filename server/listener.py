"""Binding the listening socket, and the file-descriptor limit that decides how many clients fit."""

from __future__ import annotations

import logging
import resource
import socket

from server.config import Config

__all__ = ["bind", "raise_fd_limit", "server_name"]

log = logging.getLogger(__name__)

_WILDCARDS = frozenset(("", "0.0.0.0", "::"))


def bind(config: Config) -> socket.socket:
    """A listening, non-blocking socket for config.host/config.port (port 0: the kernel picks one).

    SO_REUSEADDR lets a restarted server rebind while old connections sit in TIME_WAIT. For "::" the
    socket is dual-stack (IPV6_V6ONLY off), so IPv4 clients reach it too. Raises OSError (e.g.
    EADDRINUSE) or socket.gaierror for a host that does not resolve.
    """
    host = config.host or None
    family, kind, proto, _, address = socket.getaddrinfo(
        host, config.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and config.host in _WILDCARDS:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(config.backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


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
