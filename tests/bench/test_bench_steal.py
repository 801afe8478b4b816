"""bench.steal: the host's share of CPU time between two readings of /proc/stat."""

from __future__ import annotations

import pytest

from bench import pages, steal

SAMPLE = ("cpu  776580 1176107 287067 12319550 26689 0 29761 23973 0 0\n"
          "cpu0 416986 566612 120045 6185237 7603 0 16188 7132 0 0\n")


def test_the_aggregate_line_gives_steal_and_total() -> None:
    total = 776580 + 1176107 + 287067 + 12319550 + 26689 + 29761 + 23973  # user .. steal; guest not again
    assert steal.parse_cpu_line(SAMPLE) == (23973, total)
    assert steal.parse_cpu_line("cpu  10 0 5 85\n") == (0, 100)  # old kernels: no steal column
    with pytest.raises(ValueError):
        steal.parse_cpu_line("cpu0 1 2 3 4\n")


def test_the_share_between_two_readings() -> None:
    assert steal.stolen_share((100, 10_000), (350, 11_000)) == 0.25
    assert steal.stolen_share(None, (1, 2)) is None and steal.stolen_share((5, 10), (5, 10)) is None
    now = steal.cpu_times()
    assert now is None or (0 <= now[0] <= now[1])  # this machine's own /proc/stat, where there is one


def test_the_pages_report_prints_each_rounds_share() -> None:
    from tests.bench.test_bench_framework import _result

    found = {name: {p: _result(1000.0 * (3 if name == "demo-ours" else 1), 20.0) for p in pages.PAGES}
             for name in pages.SERVERS}
    text = pages.report([found, found], stolen=[0.012, 0.25])
    assert "CPU time stolen by the host (steal, /proc/stat), per round: 1.2 %, 25.0 %" in text
    assert "stolen" not in pages.report([found], stolen=[None])
