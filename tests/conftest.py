"""Shared fixtures: demo data and one demo run, made once per test session; how the suite
runs on several cores (groups, order, one BLAS thread per worker); nothing left behind."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# One BLAS/OpenMP thread per process: the suite runs one test process per core (pytest-xdist),
# and the servers and CLI runs that tests start inherit this.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
# Every temporary file of this test process and of the processes it starts lands in one
# folder, removed when the session ends (pytest_unconfigure).
os.environ["TMPDIR"] = tempfile.mkdtemp(prefix="clustering-tests-")
# pygwalker writes its config at import time: keep it out of the home directory.
os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp(prefix="xdg-", dir=os.environ["TMPDIR"]))
# runs tracked by the CLI and the app go to a throwaway store, never the working directory
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tempfile.mkdtemp(dir=os.environ['TMPDIR'])}/mlruns.db"

import pandas as pd
import psutil
import pytest
from hypothesis import HealthCheck, settings
from threadpoolctl import threadpool_limits

from clustering.config import load_config
from clustering.demo import store_demo
from clustering.io.export import write_workbook
from clustering.model.threads import stop_workers
from clustering.pipeline import run
from clustering.results import RunResult
from tests.postgres import PostgresMissing, throwaway_postgres
from tests.profiles import quick_preset

threadpool_limits(1)  # libraries loaded before the variables above were set
TEST_TEMP = tempfile.tempdir = os.environ["TMPDIR"]
os.chmod(TEST_TEMP, 0o711)  # the throwaway PostgreSQL server runs as its own user, in a folder within

# Hypothesis: the full count in make test (HYPOTHESIS_PROFILE=ci), fewer examples elsewhere;
# examples are derived from the test, so no failing-example database is written.
_HYPOTHESIS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("ci", max_examples=30, **_HYPOTHESIS)
settings.register_profile("dev", max_examples=5, **_HYPOTHESIS)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

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
def quick_demo_result(demo_sheets: dict[str, pd.DataFrame]) -> RunResult:
    """The demo run with the quick profile (tests/profiles.py), for tests that compare runs."""
    return run(quick_preset("store"), demo_sheets)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on a free loopback port, removed afterwards."""
    try:
        with throwaway_postgres() as url:
            yield url
    except PostgresMissing as missing:
        pytest.fail(str(missing))


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """An empty MLflow tracking store (SQLite), its tables created once for the session (about
    0.8 s); each test's store is a copy of it. None without MLflow."""
    try:
        import mlflow
    except ImportError:
        return None
    path = tmp_path_factory.mktemp("mlflow-empty") / "mlruns.db"
    mlflow.MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_store: Path | None) -> str:
    """A throwaway MLflow tracking store (SQLite) for the test, set as $MLFLOW_TRACKING_URI and
    as MLflow's own in this process when MLflow is loaded (an earlier test's URI would win
    over the variable; the CLI logs in a process of its own, so it does not set it here)."""
    path = tmp_path / "mlruns.db"
    if empty_store is not None:
        shutil.copyfile(empty_store, path)
    uri = f"sqlite:///{path}"
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
    _stop_the_jvm()


def _stop_the_jvm() -> None:
    """Spark's JVM outlives ``stop()`` (for a next session in this process): end it, so the
    session leaves no process behind."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    if gateway is None:
        return
    gateway.shutdown()
    if gateway.proc is not None:
        gateway.proc.terminate()
        gateway.proc.wait(timeout=30)
    SparkContext._gateway = SparkContext._jvm = None


# -- how the suite runs ---------------------------------------------------------------------

# What must share one process (pytest-xdist's loadgroup): the browser tests' servers and
# Chromium, the one Spark JVM (the docs' Spark pages start theirs beside it), the one
# throwaway PostgreSQL server whose tables the tests drop and refill.
SPARK_FILES = ("tests/spark/", "tests/orchestration/test_spark_steps.py")


def _group(item: pytest.Item) -> str | None:
    path = item.nodeid
    params = getattr(getattr(item, "callspec", None), "params", {})
    if path.startswith("tests/e2e/"):
        return "browser"
    if path.startswith(SPARK_FILES) or "spark" in item.fixturenames or item.get_closest_marker("spark"):
        return "spark"
    if "postgres_url" in item.fixturenames or "postgresql" in [str(v) for v in params.values()]:
        return "postgres"
    return None


def _weight(item: pytest.Item) -> int:
    """Longest first, so that no long test starts last on one core while the other idles:
    the groups (a chain of tests each), then the tests known to take tens of seconds."""
    if item.get_closest_marker("xdist_group"):
        return 0
    if item.get_closest_marker("slow"):
        return 1
    return 2


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "browser: drives the real app in headless Chromium (tests/e2e)",
        "spark: runs on the Spark JVM",
        "docs: runs a block of the documentation as written",
        "postgres: uses the throwaway PostgreSQL server",
        "slow: takes tens of seconds on its own; started first",
    ):
        config.addinivalue_line("markers", line)


def pytest_itemcollected(item: pytest.Item) -> None:
    """Mark each test with what it needs (make check leaves out browser, spark and docs) and
    its group, before pytest's -m filter reads the marks."""
    group = _group(item)
    if group is not None:
        item.add_marker(getattr(pytest.mark, group))
        item.add_marker(pytest.mark.xdist_group(group))
    if item.nodeid.startswith("tests/test_docs.py::test_a_runnable_block"):
        item.add_marker(pytest.mark.docs)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest first (after any shuffle, which then stays within a weight)."""
    items.sort(key=_weight)


def _stop_resource_trackers() -> None:
    """The helpers that multiprocessing and loky start beside a pool (they tidy its shared
    memory when the process exits) end now, with the pools."""
    from multiprocessing import resource_tracker

    from joblib.externals.loky.backend import resource_tracker as loky_tracker

    for tracker in (resource_tracker._resource_tracker, loky_tracker._resource_tracker):
        tracker._stop()


def leftover_processes(grace_seconds: float = 10) -> list[psutil.Process]:
    """Processes this test process started that are still running after ``grace_seconds``."""
    deadline = time.monotonic() + grace_seconds
    while True:
        alive = [p for p in psutil.Process().children(recursive=True) if _running(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind() -> Iterator[None]:
    """Set up before every other fixture of the session, so torn down after them all: the
    engine's worker processes are stopped, then any process a test started and left running
    (a server, a JVM, a worker pool) fails the session with its command line."""
    yield
    stop_workers()
    _stop_resource_trackers()
    alive = leftover_processes()
    if alive:
        described = "; ".join(f"{p.pid}: {' '.join(p.cmdline())[:160]}" for p in alive)
        for process in alive:
            process.kill()
        pytest.fail(f"the tests left {len(alive)} process(es) running: {described}", pytrace=False)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(TEST_TEMP, ignore_errors=True)
