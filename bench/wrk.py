"""Run wrk pinned to one CPU and parse what it prints (``--latency`` adds the percentile table).

wrk prints, among others::

    Latency Distribution
       50%  471.00us
       ...
       99%    2.38ms
      41234 requests in 5.00s, 4.21MB read
      Socket errors: connect 0, read 12, write 0, timeout 0
      Non-2xx or 3xx responses: 3
    Requests/sec:   8246.51

Parsing lives in pure functions (`parse_wrk_output`) so the tests can feed it captured samples.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field

__all__ = ["WrkError", "WrkResult", "parse_duration", "parse_wrk_output", "run_wrk", "wrk_command"]

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}  # to milliseconds
_PERCENTILE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+(\d+(?:\.\d+)?)(us|ms|s|m|h)\s*$", re.M)
_REQUESTS = re.compile(r"^\s*(\d+) requests in ([\d.]+\w+), ", re.M)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)\s*$", re.M)
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


class WrkError(RuntimeError):
    """wrk failed or printed something we cannot read."""


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests_per_sec: float
    requests: int
    percentiles_ms: dict[float, float]  # 50.0 -> 0.47, ..., 99.0 -> 2.38
    socket_errors: dict[str, int] = field(default_factory=dict)  # connect/read/write/timeout, non-zero only
    non_2xx: int = 0

    @property
    def p99_ms(self) -> float:
        return self.percentiles_ms[99.0]

    @property
    def errors(self) -> int:
        """Socket errors plus non-2xx/3xx answers: anything a client would have noticed."""
        return sum(self.socket_errors.values()) + self.non_2xx

    def as_dict(self) -> dict[str, object]:
        """The figures worth keeping, for bench/results/latest.json."""
        return {
            "rps": self.requests_per_sec,
            "p99_ms": self.p99_ms,
            "requests": self.requests,
            "socket_errors": self.socket_errors,
            "non_2xx": self.non_2xx,
        }


def parse_duration(text: str) -> float:
    """``"471.00us"`` -> 0.471 (milliseconds)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", text.strip())
    if not m:
        raise WrkError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk_output(text: str) -> WrkResult:
    """Read wrk's ``--latency`` report; raise `WrkError` if a required line is missing."""
    rps = _RPS.search(text)
    total = _REQUESTS.search(text)
    percentiles = {float(p): parse_duration(v + u) for p, v, u in _PERCENTILE.findall(text)}
    if not rps or not total or 99.0 not in percentiles:
        raise WrkError("wrk output lacks Requests/sec, the request count or the 99% latency:\n" + text)
    errors: dict[str, int] = {}
    if m := _SOCKET_ERRORS.search(text):
        named = zip(("connect", "read", "write", "timeout"), m.groups(), strict=True)
        errors = {name: int(n) for name, n in named if int(n)}
    non_2xx = _NON_2XX.search(text)
    return WrkResult(
        requests_per_sec=float(rps.group(1)),
        requests=int(total.group(1)),
        percentiles_ms=percentiles,
        socket_errors=errors,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


def wrk_command(
    url: str,
    *,
    duration: float,
    connections: int = 50,
    threads: int = 1,
    cpu: int | None = 1,
    headers: tuple[str, ...] = (),
) -> list[str]:
    """The argv: ``taskset -c CPU wrk -tT -cC -dDs --latency [-H …] URL``."""
    argv = ["taskset", "-c", str(cpu)] if cpu is not None else []
    argv += ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency"]
    for header in headers:
        argv += ["-H", header]
    return [*argv, url]


def run_wrk(url: str, *, duration: float, **options: object) -> WrkResult:
    """Run wrk to completion (bounded: its own -d plus a margin) and parse its report."""
    argv = wrk_command(url, duration=duration, **options)  # type: ignore[arg-type]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30, check=False)
    except subprocess.TimeoutExpired as exc:
        raise WrkError(f"wrk did not finish: {' '.join(argv)}") from exc
    if done.returncode != 0:
        raise WrkError(f"wrk exited {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
    return parse_wrk_output(done.stdout)
