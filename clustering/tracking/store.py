"""Where runs are tracked: the MLflow store, found or created, and MLflow loaded only when needed
(telemetry off).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import threading
from pathlib import Path

from clustering.config import RunConfig
from clustering.errors import UserInputError

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


os.environ.setdefault("DO_NOT_TRACK", "true")


os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no bars in the CLI's output


DEFAULT_STORE = "mlruns.db"


PRELOADED = ("mlflow.pyfunc", "mlflow.store.tracking.sqlalchemy_store")


TAG = "clustering_studio"


def available() -> bool:
    """Whether MLflow is installed (the ``tracking`` extra). Looked up, not imported: importing
    MLflow takes about a second, which a page that only asks must not pay."""
    if "mlflow" in sys.modules:  # imported already, or blocked (None)
        return sys.modules["mlflow"] is not None
    return importlib.util.find_spec("mlflow") is not None


def load_in_background() -> threading.Thread:
    """Import MLflow, its model flavor and its SQL store in a background thread (about 1.5 s of
    imports), so that a caller that will track a run overlaps them with work that releases the
    GIL: the CLI starts it before writing the results workbook. A failed import is left for
    ``log_run`` to report."""

    def load() -> None:
        try:
            for module in PRELOADED:
                importlib.import_module(module)
        except Exception:  # log_run imports them again and says what failed
            pass

    thread = threading.Thread(target=load, name="load-mlflow", daemon=True)
    thread.start()
    return thread


def tracking_uri(config: RunConfig | None = None) -> str:
    """The tracking store: the config's, else $MLFLOW_TRACKING_URI, else ./mlruns.db."""
    if config is not None and config.tracking.uri:
        return config.tracking.uri
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / DEFAULT_STORE}"


def _client(uri: str):
    logging.getLogger("mlflow").setLevel(logging.ERROR)  # its INFO lines are not the analyst's concern
    if not available():
        raise UserInputError(
            "Run tracking needs MLflow: pip install -e '.[tracking]' (or turn it off with tracking.enabled: false)."
        )
    import mlflow

    mlflow.set_tracking_uri(uri)
    return mlflow.MlflowClient(uri)


def _experiment(client, uri: str, name: str) -> str:
    """The experiment's ID, created on first use with its artifacts beside a SQLite store."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        location = (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()
    return client.create_experiment(name, artifact_location=location)
