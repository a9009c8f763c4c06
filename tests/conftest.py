"""Shared fixtures: demo data and one demo run, made once per test session."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

# pygwalker writes its config at import time: keep it out of the home directory.
os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp(prefix="xdg-"))
# runs tracked by the CLI and the app go to a throwaway store, never the working directory
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tempfile.mkdtemp(prefix='mlflow-')}/mlruns.db"

from clustering.config import load_config
from clustering.demo import store_demo
from clustering.io.export import write_workbook
from clustering.pipeline import run
from clustering.results import RunResult
from tests.postgres import PostgresMissing, throwaway_postgres

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


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on a free loopback port, removed afterwards."""
    try:
        with throwaway_postgres() as url:
            yield url
    except PostgresMissing as missing:
        pytest.fail(str(missing))


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A throwaway MLflow tracking store (SQLite) for the test, set as $MLFLOW_TRACKING_URI and
    as MLflow's own in this process when MLflow is loaded (an earlier test's URI would win
    over the variable; the CLI logs in a process of its own, so it does not set it here)."""
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow = sys.modules.get("mlflow")
    if mlflow is not None:
        mlflow.set_tracking_uri(uri)
    return uri


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A Spark session in local[2] for the Spark tests, one per test session (Java required)."""
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.fail(
            "Spark needs a Java runtime: apt-get install default-jre-headless (make test installs it as root)"
        )
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the executors' Python: this environment's

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("clustering-studio-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
