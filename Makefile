# `make run` and `make test` work on a fresh clone: both create .venv and install first.
# `make run` installs the core (plus EXTRAS, e.g. `make run EXTRAS=tracking`); `make test`
# installs every optional extra, because the tests cover them all.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
EXTRAS ?=
comma := ,
TEST_EXTRAS := test,tracking,api,orchestration,spark,auth
CORE_STAMP := $(VENV)/.core-stamp$(if $(EXTRAS),-$(subst $(comma),-,$(EXTRAS)))
TEST_STAMP := $(VENV)/.test-stamp

.PHONY: install install-test system-packages run serve-team test check lint format bench clean dagster serve \
	cluster-features cluster-train cluster-label cluster-update cluster-all

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# An environment that make test set up has every extra: the other targets use it as it is,
# with nothing fetched again (they work offline after make test).
$(CORE_STAMP): pyproject.toml | $(VENV)/bin/python
	@if [ -f $(TEST_STAMP) ] && [ $(TEST_STAMP) -nt pyproject.toml ]; then \
		echo "using the environment make test installed (every extra)"; \
	else \
		$(PY) -m pip install --quiet -e '.$(if $(EXTRAS),[$(EXTRAS)])'; \
	fi
	touch $@

$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[$(TEST_EXTRAS)]'
	touch $@

install: $(CORE_STAMP)

install-test: $(TEST_STAMP)

DEMO ?= store
DEMO_DB := demo.db

# A demo warehouse (SQLite, generated from a seed, git-ignored) so the Database source works.
$(DEMO_DB): | $(CORE_STAMP)
	$(PY) -m clustering demo store --database sqlite:///$(DEMO_DB)
	$(PY) -m clustering demo dfu --database sqlite:///$(DEMO_DB)

# This machine only (127.0.0.1), no login.
run: install $(DEMO_DB)
	CLUSTERING_DEMO=$(DEMO) CLUSTERING_DB_URL=$${CLUSTERING_DB_URL:-sqlite:///$(DEMO_DB)} \
		$(PY) -m ui.serving --address 127.0.0.1 --port $(PORT)

# A team's server: every interface (or ADDRESS), only behind the OpenID Connect login of
# .streamlit/secrets.toml; without it, refuses to start and says why (docs/deploying.md).
ADDRESS ?= 0.0.0.0
serve-team:
	$(MAKE) install EXTRAS=auth
	$(PY) -m ui.serving --address $(ADDRESS) --port $(PORT)

# Chromium and PostgreSQL for the browser and database tests: apt-get as root, else one line
# saying what to install.
system-packages:
	@scripts/system-packages.sh

# The whole suite on every core (pytest-xdist; tests that share a server, a JVM or a database
# run in one process), in a new order each time (pytest-randomly prints the seed: rerun an order
# with -p randomly --randomly-seed=N), Hypothesis at its full example count. The 25 slowest are printed.
PYTEST_PARALLEL := -n auto --dist loadgroup
test: install-test system-packages
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest $(PYTEST_PARALLEL) -p randomly

# The fast inner loop: ruff, then every test but the browser, Spark and docs groups, last
# failures first, fewer Hypothesis examples (make test runs everything before a change lands).
check: install-test system-packages
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest $(PYTEST_PARALLEL) --failed-first -m "not browser and not spark and not docs"

lint: install-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install-test
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: install-test
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/quality.py --seeds 3
	$(PY) benchmarks/engine.py
	$(PY) benchmarks/features.py
	$(PY) benchmarks/database.py

# The DFU framework's stages, each a CLI command reading the previous stage's files in
# OUTPUT_DIR; the data comes from DATABASE (default: the demo warehouse). DRY_RUN=1 makes
# cluster-update show what would change without writing.
CONFIG ?= dfu
OUTPUT_DIR ?= artifacts/dfu
DATABASE ?= sqlite:///$(DEMO_DB)

cluster-features: install $(DEMO_DB)
	$(PY) -m clustering features --config $(CONFIG) --database $(DATABASE) --output-dir $(OUTPUT_DIR)

cluster-train: install
	$(PY) -m clustering train --config $(CONFIG) --output-dir $(OUTPUT_DIR)

cluster-label: install
	$(PY) -m clustering label --config $(CONFIG) --output-dir $(OUTPUT_DIR)

cluster-update: install
	$(PY) -m clustering update --config $(CONFIG) --database $(DATABASE) --output-dir $(OUTPUT_DIR) $(if $(DRY_RUN),--dry-run)

cluster-all: cluster-features cluster-train cluster-label cluster-update

# The cluster summary API over the demo warehouse, and the Dagster asset graph (telemetry off).
serve: $(DEMO_DB)
	$(MAKE) install EXTRAS=api
	$(PY) -m clustering serve --database $(DATABASE)

dagster: $(DEMO_DB)
	$(MAKE) install EXTRAS=orchestration
	DAGSTER_HOME=$(CURDIR)/.dagster CLUSTERING_DB_URL=$(DATABASE) $(VENV)/bin/dagster dev -m clustering.orchestration

clean:
	rm -rf $(VENV) artifacts .pytest_cache .ruff_cache $(DEMO_DB)
