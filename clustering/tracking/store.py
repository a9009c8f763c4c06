"""Where runs are tracked: the MLflow store, found or created, and MLflow loaded only when needed
(telemetry off).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
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


def prepare(uri: str) -> None:
    """Everything logging to ``uri`` needs before it can start: MLflow, its model flavor and
    its SQL store imported, MLflow's map of installed packages built (its check of a
    model's requirements scans every installed distribution) and the store
    opened (a new SQLite store runs its migrations). ``clustering.tracking.worker`` does it
    while the CLI reads its input and runs the engine."""
    for module in PRELOADED:
        importlib.import_module(module)
    from mlflow.utils import requirements_utils

    requirements_utils._init_modules_to_packages_map()
    _client(uri)


def tracking_uri(config: RunConfig | None = None) -> str:
    """The tracking store: the config's, else $MLFLOW_TRACKING_URI, else ./mlruns.db."""
    if config is not None and config.tracking.uri:
        return config.tracking.uri
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / DEFAULT_STORE}"


def require_mlflow() -> None:
    """A UserInputError saying how to install MLflow when it is not (MLflow is not imported)."""
    if not available():
        raise UserInputError(
            "Run tracking needs MLflow: pip install -e '.[tracking]' (or turn it off with tracking.enabled: false)."
        )


def _client(uri: str):
    logging.getLogger("mlflow").setLevel(logging.ERROR)  # its INFO lines are not the analyst's concern
    require_mlflow()
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
