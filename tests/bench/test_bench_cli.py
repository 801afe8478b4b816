"""python -m bench: argument checking, and the command line each server under test gets."""

from pathlib import Path

import pytest

from bench.__main__ import MODES, main
from bench.peers import PEERS, Launch

PY = Path("/venv/bin/python")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bogus"], "unknown mode bogus"),
        (["compare", "--only", "miniweb,nginx"], "unknown server nginx"),
        (["compare", "--scenario", "pipelined"], "unknown scenario pipelined"),
        (["--duration", "0"], "--duration"),
        (["c10k", "--idle", "0"], "--idle"),
        (["slowloris", "--slow", "20000"], "--slow"),
        (["compare", "--repeat", "0"], "--repeat"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_help_lists_every_mode(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert all(mode in out for mode in MODES)


def test_every_server_binds_the_given_loopback_port():
    launch = Launch(PY, "127.0.0.1", 40123, 64)
    for peer in PEERS.values():
        argv = " ".join(peer.argv(launch))
        assert "40123" in argv, peer.name
        assert "127.0.0.1" in argv, peer.name
        assert "0.0.0.0" not in argv, peer.name


@pytest.mark.parametrize("name", ["miniweb", "waitress", "gunicorn", "cheroot"])
def test_threaded_servers_get_the_same_thread_count(name):
    argv = " ".join(PEERS[name].argv(Launch(PY, "127.0.0.1", 40123, 37)))
    assert "37" in argv


def test_ours_runs_with_access_log_off_unless_asked_and_passes_extra_options():
    off = PEERS["miniweb"].argv(Launch(PY, "127.0.0.1", 40123, 64))
    on = PEERS["miniweb"].argv(Launch(PY, "127.0.0.1", 40123, 64, True, ("--workers", "2")))
    assert off[:5] == [str(PY), "-m", "server", "40123", "bench.apps:application"]
    assert "--no-access-log" in off and "--access-log" not in off
    assert "--access-log" in on and on[-2:] == ["--workers", "2"]


def test_gunicorn_uses_the_gthread_worker():
    argv = PEERS["gunicorn"].argv(Launch(PY, "127.0.0.1", 40123, 64))
    assert argv[argv.index("-k") + 1] == "gthread"
