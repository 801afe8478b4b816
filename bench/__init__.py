"""Benchmarks: our server side by side with the pure-Python peers and bjoern (issue 3).

Data flow of one run::

    python -m bench ─► env.py        makes .venv-bench (the peers + this project, `pip install -e .`)
                   ─► compare.py    side by side; ours.py: c10k, slow clients, access log, workers
                   ─► peers.py      starts a server (taskset -c 0) on bench.apps:application, waits for a 200
                   ─► wrk.py        taskset -c 1 wrk --latency … ─► req/s, p99, errors
                   ─► idle.py, slowloris.py   extra clients (clients.py) in a child process on cpu 1
                   ─► report.py     Markdown tables ─► stdout, bench/results/latest.md and latest.json

Nothing in `server/`, `miniweb/` or `apps/` imports this package. tests/bench/ checks the parsing, the app,
the command lines and the client tools, never timings.
"""
