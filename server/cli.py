"""`python -m server [PORT] MODULE:APP [options]`: parse, import the app, bind, serve, exit.

Exit status: 0 after a graceful shutdown (SIGINT/SIGTERM); 2 for bad command-line input (with the
usage); 1 when the address cannot be bound (e.g. the port is in use) or the TLS files cannot be loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

from server import listen_options
from server.accesslog import LineHandler
from server.config import Config
from server.listener import ListenError
from server.logfiles import LogFiles
from server.serving import Server, _app_name, install_signal_handlers

__all__ = ["main"]

log = logging.getLogger("server")

_DEFAULTS = Config()
_LEVELS = ("debug", "info", "warning", "error", "critical")
_SIZE_SUFFIXES = {"k": 1024, "m": 1024**2, "g": 1024**3}


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"port must be a number from 1 to 65535, not {text!r}")
    return int(text)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds (0 or more), not {text!r}")
    return value


def _size(text: str) -> int:
    """A byte count with an optional K/M/G suffix (powers of 1024): 1048576, 1024K, 64M, 1G."""
    number, factor = text, 1
    if text[-1:].lower() in _SIZE_SUFFIXES:
        number, factor = text[:-1], _SIZE_SUFFIXES[text[-1].lower()]
    if not number.isdigit():
        raise argparse.ArgumentTypeError(f"expected a size such as 1048576, 512K or 64M, not {text!r}")
    return int(number) * factor


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m server",
        description="Serve a WSGI application with miniweb's threaded HTTP/1.1 server.",
        epilog="Examples: python -m server 8899 apps.favorites:application --host 0.0.0.0; "
               "python -m server --bind unix:/run/app.sock apps.favorites:application",
    )  # fmt: skip
    parser.add_argument("port", type=_port, nargs="?",
                        help="TCP port to listen on (1-65535); optional with --bind or systemd sockets")
    parser.add_argument("app", metavar="MODULE:APP",
                        help="the WSGI callable, e.g. apps.favorites:application (module imported from "
                             "the current directory)")  # fmt: skip
    parser.add_argument("--host", default=_DEFAULTS.host,
                        help="address to bind (default %(default)s; 0.0.0.0 or :: to accept other "
                             "machines, :: also takes IPv4)")  # fmt: skip
    parser.add_argument("--threads", type=_positive_int, metavar="N", default=_DEFAULTS.threads,
                        help="worker threads per process: requests served at once (default %(default)s)")
    parser.add_argument("--max-connections", type=_positive_int, metavar="N",
                        default=_DEFAULTS.max_connections,
                        help="open connections per process before accepting pauses (default %(default)s)")
    parser.add_argument("--max-body-size", type=_size, default=_DEFAULTS.max_body_bytes, metavar="BYTES",
                        help="largest request body; larger ones get 413 (default %(default)s; K/M/G "
                             "suffixes allowed)")  # fmt: skip
    timeouts = parser.add_argument_group("timeouts (seconds)")
    for flag, field, text in (
        ("--header-timeout", "header_timeout", "to receive a request's headers, else 408"),
        ("--body-timeout", "body_timeout", "longest silence while reading a request body, else 408"),
        ("--keepalive-timeout", "keepalive_timeout", "idle keep-alive connections are closed after this"),
        ("--write-timeout", "write_timeout", "a client that reads nothing this long is dropped"),
        ("--graceful-timeout", "graceful_timeout", "on SIGTERM/SIGINT, requests in flight get this long"),
    ):
        default = getattr(_DEFAULTS, field)
        timeouts.add_argument(flag, type=_seconds, metavar="SECONDS", default=default,
                              help=f"{text} (default %(default)s)")  # fmt: skip
    logs = parser.add_argument_group("logging")
    logs.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=_DEFAULTS.access_log,
                      help="one Combined Log Format line per request on stdout (default: on)")
    logs.add_argument("--log-level", choices=_LEVELS, default=_DEFAULTS.log_level,
                      help="server log level on stderr (default %(default)s)")
    listen_options.add_arguments(parser, _DEFAULTS)  # --bind, unix sockets, TLS, --trusted-proxy
    _add_process_options(parser)
    return parser


# --- process model (server/arbiter.py): options of issue 9 --------------------------------------------------


def _add_process_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "process model",
        "With --workers N (N >= 1) a parent process (the arbiter) supervises N worker processes that each "
        "import the app: SIGHUP reloads the code with no failed request, SIGTTIN/SIGTTOU add/remove a "
        "worker. Without --workers one process serves (SIGHUP is logged and ignored).",
    )
    group.add_argument("--workers", type=_positive_int, metavar="N", default=None,
                       help="worker processes under an arbiter, to use more CPU cores and reload code "
                            "with SIGHUP (default: one process, no arbiter)")  # fmt: skip
    group.add_argument("--timeout", type=_seconds, metavar="SECONDS", default=_DEFAULTS.worker_timeout,
                       help="a worker process silent this long has its threads' stacks written to the error "
                            "log, then is killed and replaced (default %(default)s; 0: never)")  # fmt: skip
    group.add_argument("--max-requests", type=_positive_int, metavar="N", default=0,
                       help="a worker process is replaced (gracefully, its successor first) after about "
                            "N requests (default: never)")  # fmt: skip
    group.add_argument("--max-requests-jitter", type=int, metavar="J", default=0,
                       help="add a random 0..J to --max-requests per worker, so they do not retire together")
    group.add_argument("--reload", action="store_true",
                       help="development: reload when a source file of the app changes; an app that fails "
                            "to load answers 500 until the next good edit (implies the arbiter)")  # fmt: skip
    group.add_argument("--reload-extra", action="append", default=[], metavar="FILE",
                       help="with --reload, also watch FILE (repeatable; templates, say)")
    group.add_argument("--pid", metavar="FILE", help="write the (parent) process id to FILE; removed on exit")
    logs = parser.add_argument_group("log files (SIGUSR1 reopens them, for logrotate)")
    logs.add_argument("--access-logfile", metavar="FILE",
                      help="append the access log to FILE instead of stdout")
    logs.add_argument("--error-logfile", metavar="FILE",
                      help="append server messages (and stack dumps) to FILE instead of stderr")


def _process_config(args: argparse.Namespace) -> dict[str, object]:
    return {
        "workers": args.workers or 1, "supervised": args.workers is not None or args.reload,
        "worker_timeout": args.timeout, "max_requests": args.max_requests,
        "max_requests_jitter": max(0, args.max_requests_jitter), "reload": args.reload,
        "reload_extra": tuple(args.reload_extra),
    }  # fmt: skip


def _write_pid(path: str | None) -> None:
    if path:
        with open(path, "w") as out:
            out.write(f"{os.getpid()}\n")


def _remove_pid(path: str | None) -> None:
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


# --- end of the process-model options -----------------------------------------------------------------------


def load_app(spec: str) -> Callable:
    """Import `module:attr` (attr may be dotted); ValueError with a one-line reason on any failure."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"expected MODULE:APP such as apps.favorites:application, not {spec!r}")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: modules from the current directory
    try:
        target = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {module_name!r}: {exc}") from exc
    except Exception as exc:
        raise ValueError(f"importing module {module_name!r} failed: {type(exc).__name__}: {exc}") from exc
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"module {module_name!r} has no attribute {attr!r}") from None
    if not callable(target):
        raise ValueError(f"{spec} is not callable (it is a {type(target).__name__}), so not a WSGI app")
    return target


def configure_logging(level: str) -> None:
    """Server messages to stderr at `level`; access lines to stdout, bare, whatever the level."""
    logging.basicConfig(
        level=level.upper(), stream=sys.stderr,
        format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s",
    )  # fmt: skip
    access = logging.getLogger("server.access")
    access.setLevel(logging.INFO)
    access.propagate = False
    access.addHandler(LineHandler(sys.stdout))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.port is None and args.app.isdigit():  # `python -m server 8899`: the app is what is missing
        parser.error("the following arguments are required: MODULE:APP")
    if args.port is None and not args.bind and os.environ.get("LISTEN_PID") != str(os.getpid()):
        parser.error("nothing to listen on: give a PORT, --bind ADDRESS, or start under systemd "
                     "socket activation")
    listening = listen_options.config_changes(args, parser)
    logfiles = LogFiles(args.access_logfile, args.error_logfile)
    try:
        logfiles.open()
    except OSError as exc:
        parser.error(f"cannot open the log file: {exc}")
    configure_logging(args.log_level)
    process = _process_config(args)
    app, load = None, None
    if process["supervised"]:  # the arbiter never imports the app: each worker does, after fork
        load = functools.partial(load_app, args.app)
        if ":" not in args.app:
            parser.error(f"expected MODULE:APP such as apps.favorites:application, not {args.app!r}")
    else:
        try:
            app = load_app(args.app)
        except ValueError as exc:
            parser.error(str(exc))  # one line plus the usage, exit status 2
    config = _DEFAULTS.replace(
        host=args.host, port=args.port, threads=args.threads,
        max_connections=args.max_connections, max_body_bytes=args.max_body_size,
        header_timeout=args.header_timeout, body_timeout=args.body_timeout,
        keepalive_timeout=args.keepalive_timeout, write_timeout=args.write_timeout,
        graceful_timeout=args.graceful_timeout, access_log=args.access_log, log_level=args.log_level,
        **listening, **process,
    )  # fmt: skip
    try:
        server = Server(app, config, load=load, logfiles=logfiles)
    except ListenError as exc:
        print(f"python -m server: cannot listen on {exc.where}: {exc.reason}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:  # the certificate or key (ssl.SSLError is an OSError)
        print(f"python -m server: cannot set up TLS: {exc}", file=sys.stderr)
        return 1
    install_signal_handlers(server)
    name = args.app if app is None else _app_name(app)
    log.info("serving %s on %s (threads=%d, workers=%d%s)", name,
             " ".join(listener.url for listener in server.listeners), config.threads, config.workers,
             ", under the arbiter" if server.supervised else "")  # fmt: skip
    _write_pid(args.pid)
    try:
        server.serve_forever()
    except RuntimeError as exc:  # --workers: the children could not start
        log.error("%s", exc)
        return 1
    finally:
        _remove_pid(args.pid)
    log.info("stopped")
    return 0
