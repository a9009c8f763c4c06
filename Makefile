# `make run` and `make test` work on a fresh clone: both create .venv and install first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PORT ?= 8501

.PHONY: install run test lint format bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

DEMO ?= store

run: install
	CLUSTERING_DEMO=$(DEMO) $(VENV)/bin/streamlit run app.py --server.port $(PORT)

test: install
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
	$(PY) benchmarks/engine.py
	$(PY) benchmarks/features.py

clean:
	rm -rf $(VENV) artifacts .pytest_cache .ruff_cache
