"""bench.wrk: parsing wrk's --latency report, fed samples captured from real wrk 4.1 runs."""

from pathlib import Path

import pytest

from bench.wrk import WrkError, parse_duration, parse_wrk_output, wrk_command

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def test_keepalive_sample_gives_rate_count_and_percentiles():
    r = parse_wrk_output(sample("wrk-keepalive.txt"))
    assert r.requests_per_sec == 77393.75
    assert r.requests == 77524
    assert r.percentiles_ms == {50.0: 0.531, 75.0: 0.562, 90.0: 1.17, 99.0: 4.30}
    assert r.p99_ms == 4.30
    assert r.errors == 0 and r.socket_errors == {}


def test_non_2xx_answers_count_as_errors():
    r = parse_wrk_output(sample("wrk-non2xx.txt"))
    assert r.non_2xx == 36176
    assert r.errors == 36176
    assert r.p99_ms == 7.82


def test_socket_errors_are_read_by_kind():
    r = parse_wrk_output(sample("wrk-socket-errors.txt"))
    assert r.socket_errors == {"read": 4576}
    assert r.errors == 4576
    assert r.p99_ms == 56.89
    assert r.as_dict()["socket_errors"] == {"read": 4576}


@pytest.mark.parametrize(
    ("text", "ms"),
    [("531.00us", 0.531), ("4.30ms", 4.3), ("1.02s", 1020.0), ("2.00m", 120_000.0), ("7ms", 7.0)],
)
def test_durations_convert_to_milliseconds(text, ms):
    assert parse_duration(text) == pytest.approx(ms)


@pytest.mark.parametrize("text", ["", "4.30", "ms", "-1ms", "1.0 ms"])
def test_bad_durations_are_refused(text):
    with pytest.raises(WrkError):
        parse_duration(text)


def test_output_without_latency_table_is_refused():
    # What wrk prints without --latency: no 99% line, so there is no p99 to report.
    text = "\n".join(line for line in sample("wrk-keepalive.txt").splitlines() if "%  " not in line)
    assert "99%" not in text
    with pytest.raises(WrkError, match="99%"):
        parse_wrk_output(text)


def test_output_of_a_failed_run_is_refused():
    with pytest.raises(WrkError):
        parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_command_pins_wrk_and_passes_headers():
    argv = wrk_command(
        "http://127.0.0.1:9/", duration=5, connections=50, cpu=1, headers=("Connection: close",)
    )
    assert argv == [
        "taskset",
        "-c",
        "1",
        "wrk",
        "-t1",
        "-c50",
        "-d5s",
        "--latency",
        "-H",
        "Connection: close",
        "http://127.0.0.1:9/",
    ]
    assert wrk_command("http://x/", duration=0.2, cpu=None)[:1] == ["wrk"]
    assert "-d1s" in wrk_command("http://x/", duration=0.2, cpu=None)  # wrk takes whole seconds
