"""Shared fixtures: demo data and one demo run, made once per test session."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest

# pygwalker writes its config at import time: keep it out of the home directory.
os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp(prefix="xdg-"))

from clustering.config import load_config
from clustering.demo import store_demo
from clustering.export import write_workbook
from clustering.pipeline import RunResult, run

DEMO_STORES = 2000
DEMO_SEED = 7


@pytest.fixture(scope="session")
def demo_sheets() -> dict[str, pd.DataFrame]:
    return store_demo(DEMO_STORES, DEMO_SEED)


@pytest.fixture(scope="session")
def demo_workbook(tmp_path_factory: pytest.TempPathFactory, demo_sheets: dict[str, pd.DataFrame]) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.xlsx"
    write_workbook(demo_sheets, path)
    return path


@pytest.fixture(scope="session")
def demo_result(demo_sheets: dict[str, pd.DataFrame]) -> RunResult:
    return run(load_config("store"), demo_sheets)
