"""Benchmarks: our server side by side with the pure-Python peers and bjoern (issue 3).

Data flow of one measurement::

    python -m bench ─► env.py      makes .venv-bench (peers + this project, `pip install -e .`)
                   ─► peers.py    starts one server (taskset -c 0) on bench.apps:application, waits for 200
                   ─► wrk.py      taskset -c 1 wrk --latency … ─► req/s, p99, errors
                   ─► idle.py / slowloris.py   extra clients in their own process, pinned to cpu 1
                   ─► modes.py    the scenarios and their targets; report.py prints the tables

Nothing here is imported by `server/`, `miniweb/` or `apps/`; the tests in tests/bench/ check the parsing
and the apps, never timings.
"""
