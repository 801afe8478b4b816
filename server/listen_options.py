"""The command-line options of the listening layer: where to listen, TLS, and which proxies to believe.

Kept apart from `server.cli` (which calls `add_arguments` and `config_changes`) so the listening options
and their checks live together: every value is checked here, so a bad one is exit status 2 with the usage.
"""

from __future__ import annotations

import argparse

from server.listener import parse_bind
from server.proxy import parse_trusted_proxies
from server.tls import CERT_REQS

__all__ = ["add_arguments", "config_changes"]


def _bind(text: str) -> str:
    try:
        parse_bind(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _trusted_proxy(text: str) -> str:
    try:
        parse_trusted_proxies([text])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _mode(text: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        raise argparse.ArgumentTypeError(f"expected an octal file mode such as 660, not {text!r}")
    return mode


def add_arguments(parser: argparse.ArgumentParser, defaults) -> None:
    """--bind, --unix-socket-mode, the TLS options, --trusted-proxy."""
    listen = parser.add_argument_group("where to listen (see README: Listening)")
    listen.add_argument("--bind", action="append", default=[], type=_bind, metavar="ADDRESS",
                        help="HOST:PORT, [IPv6]:PORT or unix:PATH; repeatable. PORT (positional) is "
                             "short for --bind HOST:PORT with --host. Sockets passed by systemd "
                             "(LISTEN_FDS) are served as well")  # fmt: skip
    listen.add_argument("--unix-socket-mode", type=_mode, default=defaults.unix_socket_mode, metavar="MODE",
                        help="permissions of unix socket files, in octal (default 660)")
    tls = parser.add_argument_group("TLS (every listener speaks TLS when --certfile is given)")
    tls.add_argument("--certfile", metavar="PEM", help="the server's certificate chain (PEM)")
    tls.add_argument("--keyfile", metavar="PEM", help="its private key (default: in --certfile)")
    tls.add_argument("--ca-certs", metavar="PEM", help="CA certificates to check client certificates with")
    tls.add_argument("--cert-reqs", choices=tuple(CERT_REQS), default=defaults.cert_reqs,
                     help="ask clients for a certificate (default %(default)s; needs --ca-certs)")
    proxies = parser.add_argument_group("behind a proxy")
    proxies.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDRESS",
                         type=_trusted_proxy,
                         help="believe Forwarded (RFC 7239) and X-Forwarded-For/-Proto from this peer: an IP "
                              "address or a CIDR range such as 10.0.0.0/8 (repeatable). Unix-socket "
                              "peers are always believed")  # fmt: skip


def config_changes(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, object]:
    """The Config fields these options set; parser.error() (exit 2) for combinations that cannot work."""
    binds = list(args.bind)
    if args.port is not None:
        host = args.host
        binds.insert(0, f"[{host}]:{args.port}" if ":" in host else f"{host}:{args.port}")
    if args.certfile is None and (args.keyfile or args.ca_certs):
        parser.error("--keyfile and --ca-certs need --certfile")
    if args.cert_reqs != "none" and not args.ca_certs:
        parser.error(f"--cert-reqs {args.cert_reqs} needs --ca-certs")
    return {
        "binds": tuple(binds), "unix_socket_mode": args.unix_socket_mode, "certfile": args.certfile,
        "keyfile": args.keyfile, "ca_certs": args.ca_certs, "cert_reqs": args.cert_reqs,
        "trusted_proxies": tuple(args.trusted_proxy),
    }  # fmt: skip
