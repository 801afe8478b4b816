"""bench.compare's arithmetic over rounds: medians, per-round ratios, verdicts (no server is started)."""

from __future__ import annotations

from pathlib import Path

from bench.compare import Options, _median, _ratios
from bench.wrk import WrkResult


def result(rps: float, p99: float = 3.0, errors: int = 0) -> WrkResult:
    return WrkResult(rps, int(rps * 5), {50.0: 1.0, 99.0: p99}, non_2xx=errors)


def options(repeat: int) -> Options:
    return Options(python=Path("python"), threads=64, repeat=repeat, scenarios=("keepalive",))


def test_median_run_is_taken_by_requests_per_second_and_skips_errors():
    runs = [result(300), "wrk: timed out", result(100), result(200)]
    assert _median(runs).requests_per_sec == 200
    assert _median(["did not start: boom"]) == "did not start: boom"
    assert _median([]) is None


def test_ratio_is_the_median_of_per_round_ratios_with_every_round_shown():
    rounds = {
        "miniweb": {"keepalive": [result(40_000), result(33_000), result(45_000)]},
        "waitress": {"keepalive": [result(10_000), result(8_000), result(9_000)]},
    }
    text = _ratios(rounds, options(3))
    # Per round: 4.00, 4.125, 5.00 -> median 4.125; the ratio of the medians (40k / 9k = 4.44) is not used.
    assert "4.12x (rounds: 4.00, 4.12, 5.00)" in text
    assert "FAIL" in text  # issue 14: a median of at least 5x
    rounds["waitress"]["keepalive"] = [result(8_000), result(6_000), result(9_000)]
    # Per round: 5.00, 5.50, 5.00 -> median 5.00: met.
    assert "5.00x (rounds: 5.00, 5.50, 5.00)" in _ratios(rounds, options(3))
    assert "PASS" in _ratios(rounds, options(3))


def test_a_round_below_target_can_still_pass_at_the_median_but_p99_errors_and_the_floor_fail():
    rounds = {
        "miniweb": {"keepalive": [result(41_000), result(51_000), result(52_000)]},
        "waitress": {"keepalive": [result(10_000)] * 3},
    }
    assert "PASS" in _ratios(rounds, options(3))  # 4.1 is below 5 but above the 4x floor of any round
    rounds["miniweb"]["keepalive"] = [result(39_000), result(51_000), result(52_000)]
    assert "FAIL" in _ratios(rounds, options(3))  # a round under 4x
    rounds["miniweb"]["keepalive"] = [result(51_000, p99=20.0)] * 3
    assert "FAIL" in _ratios(rounds, options(3))  # p99 worse than waitress's 3.0 ms
    rounds["miniweb"]["keepalive"] = [result(51_000, errors=1)] * 3
    assert "FAIL" in _ratios(rounds, options(3))


def test_rounds_where_either_server_failed_are_left_out():
    rounds = {
        "miniweb": {"keepalive": [result(40_000), "wrk: timed out"]},
        "waitress": {"keepalive": [result(10_000), result(5_000)]},
    }
    assert "4.00x (rounds: 4.00; 1 left out, a server failed)" in _ratios(rounds, options(2))
    rounds["miniweb"]["keepalive"] = ["did not start: x", "did not start: x"]
    assert "n/a" in _ratios(rounds, options(2))
