# Two commands do everything on a fresh machine with Python 3.11: `make demo` and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.9
UV := .cache/uv/bin/uv
VENV := .venv
BIN := $(VENV)/bin
DEMO_HOME := $(CURDIR)/demo-data
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install test test-deps lint demo bench bench-deps clean

$(UV):
	$(PY) -m venv .cache/uv
	.cache/uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --compile-bytecode --python $(PY)
	touch $@

# Bytecode compiled once: where PYTHONDONTWRITEBYTECODE is set (CI, containers), every command
# would otherwise compile its imports again (4.8 s for `clientela --help`, 1.4 s of pandas).
install: $(VENV)/.installed
	$(BIN)/python -m compileall -q src

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

# The SFTP tests drive the built-in server with the real OpenSSH client (sshpass types passwords).
test-deps:
	@command -v sftp >/dev/null && command -v sshpass >/dev/null || { \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
			openssh-client sshpass; }

test: lint test-deps
	$(BIN)/python -m pytest -n 2 -q

demo: install
	rm -rf $(DEMO_HOME)
	$(BIN)/clientela generate $(DEMO_HOME)/files --customers 20000 --days 365 --seed 42 \
		--truth $(DEMO_HOME)/truth.csv
	CLIENTELA_HOME=$(DEMO_HOME) $(BIN)/clientela init demo --timezone America/Santiago \
		--currency CLP --store-scoped-customer-ids
	CLIENTELA_HOME=$(DEMO_HOME) $(BIN)/clientela import $(DEMO_HOME)/files/ICOMMKT_* --instance demo
	CLIENTELA_HOME=$(DEMO_HOME) $(BIN)/clientela import $(DEMO_HOME)/files/resent --instance demo
	CLIENTELA_HOME=$(DEMO_HOME) $(BIN)/clientela status --instance demo
	CLIENTELA_HOME=$(DEMO_HOME) $(BIN)/clientela identity evaluate $(DEMO_HOME)/truth.csv --instance demo
	CLIENTELA_HOME=$(DEMO_HOME) $(BIN)/clientela run --as-of 2026-11-24 --instance demo
	CLIENTELA_HOME=$(DEMO_HOME) $(BIN)/clientela export profiles --format csv --naming icommkt \
		-o $(DEMO_HOME)/exports/profiles.csv --instance demo
	@echo
	@echo "Demo instance ready in $(DEMO_HOME)/demo:"
	@echo "  analytics store   $(DEMO_HOME)/demo/analytics.duckdb (tables customers, orders, order_lines, order_line_categories;"
	@echo "                    identity graph: identifiers, identity_links, identity_members, profiles;"
	@echo "                    indicators: profile_indicators, indicator_runs, rfm_cut_points)"
	@echo "  serving copy      $(DEMO_HOME)/demo/operational.sqlite (serving_profiles: one JSON per profile)"
	@echo "  profiles export   $(DEMO_HOME)/exports/profiles.csv (ICOMMKT_ naming, lists ##-joined)"
	@echo "  import reports    $(DEMO_HOME)/demo/reports/YYYYMMDD/*.report.json and *.rejects.csv"
	@echo "  archived files    $(DEMO_HOME)/demo/archive/"
	@echo "Try: export CLIENTELA_HOME=$(DEMO_HOME) CLIENTELA_INSTANCE=demo"
	@echo "     $(BIN)/clientela profile user_id:WEB:W0000001"
	@echo "     $(BIN)/clientela identity explain user_id:WEB:W0000001"
	@echo "     $(BIN)/clientela identity review"
	@echo "     $(BIN)/clientela run --as-of 2026-06-30   # a replay of a past day"

# wrk, the API bench's load generator (a Debian package; sudo when not root).
bench-deps:
	@command -v wrk >/dev/null || { $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -q && \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -q wrk; }

bench: install bench-deps
	$(BIN)/python bench/import_bench.py
	$(BIN)/python bench/identity_bench.py
	$(BIN)/python bench/indicators_bench.py
	$(BIN)/python bench/api_bench.py
	$(BIN)/python bench/api_cpu.py

clean:
	rm -rf $(VENV) .cache demo-data bench/data .pytest_cache .mypy_cache .ruff_cache
