# `make run` and `make test` work on a fresh clone: both create .venv and install first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PORT ?= 8501

.PHONY: install system-packages run test lint format bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

DEMO ?= store
DEMO_DB := demo.db

# A demo warehouse (SQLite, generated from a seed, git-ignored) so the Database source works.
$(DEMO_DB): | $(STAMP)
	$(PY) -m clustering demo store --database sqlite:///$(DEMO_DB)
	$(PY) -m clustering demo dfu --database sqlite:///$(DEMO_DB)

run: install $(DEMO_DB)
	CLUSTERING_DEMO=$(DEMO) CLUSTERING_DB_URL=$${CLUSTERING_DB_URL:-sqlite:///$(DEMO_DB)} \
		$(VENV)/bin/streamlit run app.py --server.port $(PORT)

# Chromium and PostgreSQL for the browser and database tests: apt-get as root, else one line
# saying what to install.
system-packages:
	@scripts/system-packages.sh

test: install system-packages
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: install
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/quality.py --seeds 3
	$(PY) benchmarks/engine.py
	$(PY) benchmarks/features.py
	$(PY) benchmarks/database.py

clean:
	rm -rf $(VENV) artifacts .pytest_cache .ruff_cache $(DEMO_DB)
