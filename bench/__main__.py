"""``python -m bench [MODE ...] [--duration S] [--only NAME,...] [--scenario NAME,...]``

With no MODE, runs them all: compare, c10k, slowloris, accesslog, workers. Builds ``.venv-bench`` first
(peers + this project). Prints tables; writes ``bench/results/latest.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from typing import NoReturn

from bench import env, extra, modes
from bench.peers import PEERS, RESULTS
from server.config import Config

MODES = ("compare", "c10k", "slowloris", "accesslog", "workers")


def _names(text: str, allowed: tuple[str, ...] | list[str], what: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        choices = ", ".join(allowed)
        raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown)}; choose from {choices}")
    return names


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("modes", nargs="*", metavar="MODE",
                   help=f"one or more of {', '.join(MODES)} (default: all)")  # fmt: skip
    p.add_argument("--duration", type=float, default=5.0, help="seconds per measurement (default 5)")
    p.add_argument("--only", type=lambda t: _names(t, list(PEERS), "server"), default=tuple(PEERS),
                   help="compare only these servers, e.g. miniweb,waitress")  # fmt: skip
    p.add_argument("--scenario", type=lambda t: _names(t, list(modes.SCENARIOS), "scenario"),
                   default=tuple(modes.SCENARIOS), help="keepalive,close,file (default: all three)")
    p.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    p.add_argument("--idle", type=int, default=10_000, help="c10k: idle connections (default 10000)")
    p.add_argument("--slow", type=int, default=1_000, help="slowloris: slow clients (default 1000)")
    p.add_argument("--no-install", action="store_true", help="use .venv-bench as it is")
    return p


def _interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt  # SIGTERM unwinds like Ctrl-C, so every `with serve(...)` stops its server


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if unknown := [m for m in args.modes if m not in MODES]:
        parser.error(f"unknown mode {', '.join(unknown)}; choose from {', '.join(MODES)}")
    if args.duration <= 0 or args.connections <= 0:
        parser.error("--duration and --connections must be positive")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    signal.signal(signal.SIGTERM, _interrupt)
    python = env.venv_python() if args.no_install else env.ensure_venv()
    opts = modes.Options(python=python, threads=Config().threads, duration=args.duration,
                         connections=args.connections, only=args.only, scenarios=args.scenario)  # fmt: skip
    chosen = args.modes or MODES
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    sections = []
    try:
        for mode in chosen:
            if mode == "compare":
                sections.append(modes.compare(opts))
            else:
                count = {"c10k": args.idle, "slowloris": args.slow}.get(mode)
                fn = getattr(extra, mode)
                sections.append(fn(opts) if count is None else fn(opts, count))
            print("\n" + sections[-1] + "\n", flush=True)
    except KeyboardInterrupt:
        print("interrupted; every server started was stopped", file=sys.stderr)
        return 130
    finally:
        RESULTS.mkdir(parents=True, exist_ok=True)
        meta = {"started": started, "cpus": 2, "duration": args.duration, "threads": opts.threads}
        (RESULTS / "latest.json").write_text(json.dumps({**meta, **opts.results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
