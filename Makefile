# Local development without Docker. `make demo` is the README's first command, `make test` its
# second; .ci/run calls `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PG_VERSION = $$(ls /etc/postgresql | head -n 1)

.PHONY: install services browser up down demo test lint bench-setup bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[cpu,test]'
	touch $@

install: $(VENV)/.installed

# Postgres and Redis are the machine's own; start them when they are not running.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $(PG_VERSION) main start
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes \
		--bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
		--dir /var/lib/redis --logfile /var/log/redis/ci.log
	@for i in $$(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && \
		redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && exit 0; sleep 0.2; done; \
		echo "Postgres or Redis did not start" >&2; exit 1

# The playground's end-to-end test drives Debian's chromium through Playwright (no browser
# download); install it when missing (needs root, as on CI).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

up: install services
	$(PY) -m cutout.devstack up

down:
	$(PY) -m cutout.devstack down

demo: install services
	$(PY) -m cutout.devstack demo

test: install services browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

# Benchmarks (bench/, docs/benchmarks.md): rembg in its own venv, weights copied, never downloaded.
bench-setup: install
	bench/setup.sh

bench: bench-setup services
	$(PY) bench/run_all.py
