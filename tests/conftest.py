"""Shared fixtures: demo data and one demo run, made once per test session."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
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


def _postgres_binaries() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return candidates[-1].parent if candidates else None


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory):
    """A throwaway PostgreSQL server on a free loopback port, removed afterwards."""
    binaries = _postgres_binaries()
    if binaries is None:
        pytest.fail("PostgreSQL server binaries are missing: apt-get install postgresql (see .ci/run)")
    root = Path(tempfile.mkdtemp(prefix="pg-test-"))
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        user = pwd.getpwnam("postgres")
        for path in (root, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = lambda *args: subprocess.run([*prefix, *args], check=True, capture_output=True, text=True)  # noqa: E731
    run(str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A throwaway MLflow tracking store (SQLite) for the test, set as $MLFLOW_TRACKING_URI."""
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri
