# Two commands on a fresh Debian machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo dev bench-reload test lint venv db-start db-stop bench bench-routing mutate clean cluster cluster-down

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(VENV)/bin/ruff check .

# Not .PHONY: make skips pattern rules for phony targets; no such file exists, so it always runs.
sysdeps-%:
	scripts/system-deps.sh $*

# Prerequisites run left to right: Debian packages first (python3-venv among them), then the virtualenv.
test: sysdeps-test venv
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n 2  # pytest-xdist: 35-38 s instead of 55-61 s on this busy machine (issue 15)

demo: sysdeps-demo venv
	$(PY) -m scripts.localdb start
	$(PY) -m server 8899 apps.favorites:application --threads 10  # = DB_POOL_SIZE (README: the demo's pages)

# nginx on 127.0.0.1:8080, app hosts on 127.0.0.11-13, MariaDB primary + replica (README: several machines).
cluster: sysdeps-cluster venv
	$(PY) -m scripts.cluster up

cluster-down: venv
	$(PY) -m scripts.cluster down

# Development: the demo under --reload (a saved .py or template reloads it within 2 s).
dev: sysdeps-demo venv
	$(PY) -m scripts.localdb start
	$(PY) -m server 8899 apps.favorites:application --threads 10 --reload $(foreach t,$(wildcard templates/*.html),--reload-extra $(t))

# Keep-alive load through three SIGHUP reloads: failed requests and the throughput dip (issue 9).
bench-reload: venv
	$(PY) -m bench.reload

db-start: venv
	$(PY) -m scripts.localdb start

db-stop: venv
	$(PY) -m scripts.localdb stop

# The servers side by side (issue 3); builds .venv-bench with the peers itself.
bench: sysdeps-bench venv
	$(PY) -m bench

# Route lookup against bottle's and werkzeug's routers (issue 4).
bench-routing: venv
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) -m bench.routing

# Mutation testing (issue 15), not part of `make test`: minutes per module. MODULES="server/_grammar.py"
# restricts it; the kill rate per module is printed, and the target fails below 90 %.
mutate: venv
	$(PY) -m scripts.mutate $(MUTATE_ARGS) $(MODULES)

clean:
	rm -rf $(VENV) .venv-bench test-output
