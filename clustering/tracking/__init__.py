"""Every run tracked in MLflow: params, metrics, tags, the config, the workbook and the model.

The tracking store is ``tracking.uri`` in the config, else ``$MLFLOW_TRACKING_URI``, else a
SQLite file ``mlruns.db`` in the working directory (artifacts beside it in ``mlartifacts/``);
``mlflow ui --backend-store-uri sqlite:///mlruns.db`` shows the runs. Each run records:

- params: the resolved config, flattened (``datasets.internal.cluster.k_max`` = 12);
- metrics: per dataset and for the merged and final segments (k, silhouette,
  Calinski-Harabasz, Davies-Bouldin, DBCV and noise share for HDBSCAN, stability, the
  clusterability p-values and verdict), and how many overrides the analyst made;
- tags: the data fingerprint (a content hash of the input tables), the source files, the
  status, the front end (cli, app), who ran it (``user``: the login's email in the app,
  the operating-system user on the CLI) and whether the run is approved, by whom and when
  (``approved_by``, ``approved_at``);
- artifacts: ``config.yml``, ``results.xlsx``, ``assignments.parquet`` and the fitted model
  (``model``, an MLflow pyfunc: see ``clustering.tracking.pyfunc``).

Approval: one approved run per run name at a time (tag ``approved``). MLflow is an optional
extra (``pip install clustering-studio[tracking]``); without it, ``available()`` is False and
callers say so. Nothing here phones home: MLflow's telemetry is turned off.
"""

from __future__ import annotations

import getpass
import importlib
import importlib.util
import json
import logging
import os
import pickle
import shutil
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from clustering.assign import Segmentation, fit_segmentation
from clustering.config import RunConfig, config_from_yaml
from clustering.errors import UserInputError
from clustering.io.export import result_sheets, write_workbook
from clustering.io.fingerprint import data_fingerprint
from clustering.io.inputs import run_sheets

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


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested config as flat ``a.b.c`` keys with text values (MLflow params)."""
    if isinstance(value, dict) and value:
        flat: dict[str, str] = {}
        for key, item in value.items():
            flat |= flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return flat
    text = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return {prefix: text[:6000]}


def _metric_name(text: str) -> str:
    allowed = "".join(c if c.isalnum() or c in "_-./ " else "_" for c in text)
    return allowed.strip().replace(" ", "_")


def run_metrics(result: Any) -> dict[str, float]:
    """Every number worth comparing across runs, by ``scope.metric``."""
    metrics: dict[str, float] = {}
    for row in result.metrics.itertuples():
        name = row.metric.split(" (")[0]
        metrics[_metric_name(f"{row.scope}.{name}")] = float(row.after)
        if pd.notna(row.before):
            metrics[_metric_name(f"{row.scope}.{name}.before")] = float(row.before)
    for name, clustered in result.clustered.items():
        metrics[f"{name}.k"] = float(clustered.k)
        if clustered.clusterability is not None:
            metrics[f"{name}.clusterability_clear"] = float(clustered.clusterability.clear)
            for test in clustered.clusterability.tests.itertuples():
                metrics[_metric_name(f"{name}.{test.test}.p_value")] = float(test.p_value)
    if not result.stability.empty:
        for name, table in result.stability.groupby("dataset"):
            metrics[f"{name}.stability_jaccard_mean"] = float(table["jaccard_mean"].mean())
            metrics[f"{name}.stability_ari_mean"] = float(table["ari_mean"].iloc[0])
    final = result.assignments["final_cluster"]
    metrics["final.segments"] = float(final.nunique())
    metrics["final.smallest_segment"] = float(final.value_counts().min())
    metrics["overrides"] = float(result.assignments.get("override", pd.Series(dtype=bool)).sum())
    return {key: value for key, value in metrics.items() if pd.notna(value)}


@dataclass
class TrackedRun:
    """A run in the tracking store."""

    run_id: str
    uri: str


def log_run(
    result: Any,
    sheets: dict[str, pd.DataFrame],
    sources: dict[str, str] | None = None,
    front_end: str = "cli",
    workbook: Path | None = None,
    user: str | None = None,
) -> TrackedRun:
    """Log a finished run (a ``results.RunResult``); returns its run ID. ``workbook``: the
    results workbook of this run when it is already written (logged as is, not written again);
    ``user``: who ran it (default: the operating-system user)."""
    config: RunConfig = result.config
    uri = tracking_uri(config)
    client = _client(uri)
    import mlflow

    experiment = _experiment(client, uri, config.tracking.experiment or config.name)
    tags = {
        TAG: "1",
        "data_fingerprint": data_fingerprint(run_sheets(config, sheets)),
        "sources": json.dumps(sources or {}, ensure_ascii=False)[:5000],
        "status": "completed",
        "front_end": front_end,
        "approved": "false",
        "run_name": config.name,
        "user": user or current_user(),
    }
    with mlflow.start_run(experiment_id=experiment, run_name=config.name, tags=tags) as run:
        mlflow.log_params(flatten(config.model_dump(mode="json")))
        mlflow.log_metrics(run_metrics(result))
        mlflow.log_text(config.to_yaml(), "config.yml")
        with tempfile.TemporaryDirectory() as folder:
            results = Path(folder) / "results.xlsx"
            if workbook is not None:
                shutil.copyfile(workbook, results)
            else:
                write_workbook(result_sheets(result), results)
            assignments = Path(folder) / "assignments.parquet"
            result.assignments.to_parquet(assignments, index=False)
            mlflow.log_artifact(str(results))
            mlflow.log_artifact(str(assignments))
            _log_model(fit_segmentation(result), Path(folder))
    return TrackedRun(run.info.run_id, uri)


def _log_model(segmentation: Segmentation, folder: Path) -> None:
    import importlib.metadata

    import mlflow.pyfunc

    from clustering.tracking.pyfunc import ARTIFACT, SegmentationModel

    path = folder / "segmentation.pkl"
    path.write_bytes(pickle.dumps(segmentation))
    requirements = [
        f"{package}=={importlib.metadata.version(package)}" for package in ("numpy", "pandas", "scikit-learn")
    ]
    with warnings.catch_warnings():  # no signature: the input is a table of the analyst's own columns
        warnings.simplefilter("ignore")
        mlflow.pyfunc.log_model(
            name="model",
            python_model=SegmentationModel(),
            artifacts={ARTIFACT: str(path)},
            pip_requirements=requirements,
        )


def list_runs(uri: str) -> pd.DataFrame:
    """Every tracked run, newest first: name, time, fingerprint, k per dataset, key metrics, status."""
    client = _client(uri)
    import mlflow

    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return pd.DataFrame(columns=["run_id", "name", "started", "status", "approved"])
    runs = mlflow.search_runs(
        experiment_ids=experiments, filter_string=f"tags.{TAG} = '1'", order_by=["attributes.start_time DESC"]
    )
    if runs.empty:
        return pd.DataFrame(columns=["run_id", "name", "started", "status", "approved"])
    approved = runs.get("tags.approved", "false") == "true"
    table = pd.DataFrame(
        {
            "run_id": runs["run_id"],
            "name": runs.get("tags.run_name", runs.get("tags.mlflow.runName")),
            "started": pd.to_datetime(runs["start_time"]).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "status": runs.get("tags.status"),
            "approved": approved,
            "fingerprint": runs.get("tags.data_fingerprint"),
            "front_end": runs.get("tags.front_end"),
            "user": runs.get("tags.user"),
            "approved_by": runs.get("tags.approved_by", pd.Series(index=runs.index)).where(approved),
        }
    )
    for column in sorted(c for c in runs.columns if c.startswith("metrics.") and c.endswith(".k")):
        table[f"k {column.removeprefix('metrics.').removesuffix('.k')}"] = runs[column]
    for metric in ("final.segments", "merged.silhouette", "final.smallest_segment", "overrides"):
        if f"metrics.{metric}" in runs:
            table[metric] = runs[f"metrics.{metric}"]
    silhouettes = [c for c in runs.columns if c.startswith("metrics.") and c.endswith(".silhouette")]
    for column in silhouettes:
        table[column.removeprefix("metrics.")] = runs[column]
    return table.reset_index(drop=True)


def _run(client, run_id: str):
    try:
        return client.get_run(run_id)
    except Exception:  # MlflowException for an unknown or malformed ID
        raise UserInputError(
            f"There is no tracked run '{run_id}' in {client.tracking_uri}. List them with: python -m clustering runs"
        ) from None


def load_assignments(uri: str, run_id: str) -> pd.DataFrame:
    """A tracked run's assignments."""
    client = _client(uri)
    _run(client, run_id)
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(run_id, "assignments.parquet", folder)
        return pd.read_parquet(path)


def load_config_of(uri: str, run_id: str) -> RunConfig:
    """A tracked run's resolved config."""
    client = _client(uri)
    _run(client, run_id)
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(run_id, "config.yml", folder)
        return config_from_yaml(Path(path).read_text(encoding="utf-8"), source=f"run {run_id}")


def load_metrics(uri: str, run_id: str) -> pd.DataFrame:
    """A tracked run's metrics sheet (scope, metric, before, after), from its workbook."""
    client = _client(uri)
    _run(client, run_id)
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(run_id, "results.xlsx", folder)
        return pd.read_excel(path, sheet_name="metrics", engine="calamine")


def load_segmentation(uri: str, run_id: str) -> Segmentation:
    """A tracked run's fitted model, through MLflow's pyfunc loader."""
    _run(_client(uri), run_id)
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(f"runs:/{run_id}/model").unwrap_python_model().segmentation


def current_user() -> str:
    """The operating-system user running this process (who ran a CLI run)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (some containers)
        return f"uid {os.getuid()}"


def approve(uri: str, run_id: str, approver: str | None = None) -> str:
    """Mark a run approved, and no other run of the same name; records who approved it and
    when (``approver``, default the operating-system user); returns the run's name."""
    client = _client(uri)
    run = _run(client, run_id)
    name = run.data.tags.get("run_name", run.info.run_name)
    for other in list_runs(uri).itertuples():
        if other.name == name and other.approved and other.run_id != run_id:
            client.set_tag(other.run_id, "approved", "false")
    client.set_tag(run_id, "approved", "true")
    client.set_tag(run_id, "approved_by", approver or current_user())
    client.set_tag(run_id, "approved_at", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
    return name


def is_approved(uri: str, run_id: str) -> bool:
    return _run(_client(uri), run_id).data.tags.get("approved") == "true"


def workbook_bytes_of(uri: str, run_id: str) -> bytes:
    """A tracked run's results workbook."""
    client = _client(uri)
    _run(client, run_id)
    with tempfile.TemporaryDirectory() as folder:
        return Path(client.download_artifacts(run_id, "results.xlsx", folder)).read_bytes()


__all__ = [
    "TrackedRun",
    "approve",
    "available",
    "is_approved",
    "list_runs",
    "load_assignments",
    "load_config_of",
    "load_metrics",
    "load_segmentation",
    "log_run",
    "tracking_uri",
]
