"""Logging a finished run: params, metrics, tags (who ran it), the config, the workbook, the
assignments and the fitted model.
"""

from __future__ import annotations

import json
import pickle
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from clustering.assign import fit_segmentation
from clustering.config import RunConfig
from clustering.errors import hide_passwords
from clustering.io.export import result_sheets, write_workbook
from clustering.io.fingerprint import data_fingerprint
from clustering.io.hosting import system_user
from clustering.io.inputs import run_sheets
from clustering.tracking.store import TAG, _client, _experiment, require_mlflow, tracking_uri


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested config as flat ``a.b.c`` keys with text values (MLflow params)."""
    if isinstance(value, dict) and value:
        flat: dict[str, str] = {}
        for key, item in value.items():
            flat |= flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return flat
    text = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return {prefix: hide_passwords(text)[:6000]}  # a tracked run never keeps a password


def _metric_name(text: str) -> str:
    """An MLflow metric name: each dotted part's words joined by '_' ('final (with overrides)'
    becomes 'final_with_overrides')."""
    return ".".join(re.sub(r"[^\w\-/]+", "_", part).strip("_") for part in text.split("."))


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
                metrics[_metric_name(f"{name}.{test.test}.statistic")] = float(test.statistic)
                if pd.notna(test.p_value):
                    metrics[_metric_name(f"{name}.{test.test}.p_value")] = float(test.p_value)
    if not result.stability.empty:
        for name, table in result.stability.groupby("dataset"):
            metrics[f"{name}.stability_jaccard_mean"] = float(table["jaccard_mean"].mean())
            metrics[f"{name}.stability_ari_mean"] = float(table["ari_mean"].iloc[0])
    final = result.assignments["final_cluster"]
    metrics["final.segments"] = float(final.nunique())
    metrics["final.rows"] = float(len(final))
    metrics["final.smallest_segment"] = float(final.value_counts().min())
    metrics["overrides"] = float(result.assignments.get("override", pd.Series(dtype=bool)).sum())
    return {key: value for key, value in metrics.items() if pd.notna(value)}


@dataclass
class TrackedRun:
    """A run in the tracking store."""

    run_id: str
    uri: str


@dataclass
class RunRecord:
    """Everything a run logs, prepared beside the engine: texts, numbers and the paths of its
    files (the workbook, the assignments, the pickled model). Picklable, so that a separate
    process (``clustering.tracking.worker``) can log it."""

    uri: str
    experiment: str
    run_name: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]
    config_yaml: str
    artifacts: list[str]
    model: str


def run_record(
    result: Any,
    sheets: dict[str, pd.DataFrame],
    folder: Path,
    sources: dict[str, str] | None = None,
    front_end: str = "cli",
    workbook: Path | None = None,
    user: str | None = None,
) -> RunRecord:
    """What ``result`` (a ``results.RunResult``) logs, its files written to ``folder``."""
    config: RunConfig = result.config
    tags = {
        TAG: "1",
        "data_fingerprint": data_fingerprint(run_sheets(config, sheets)),
        "sources": hide_passwords(json.dumps(sources or {}, ensure_ascii=False))[:5000],
        "status": "completed",
        "front_end": front_end,
        "approved": "false",
        "run_name": config.name,
        "user": user or system_user(),
        "entities": config.entities()[1],
    }
    results = folder / "results.xlsx"
    if workbook is not None:
        shutil.copyfile(workbook, results)
    else:
        write_workbook(result_sheets(result), results)
    assignments = folder / "assignments.parquet"
    result.assignments.to_parquet(assignments, index=False)
    model = folder / "segmentation.pkl"
    model.write_bytes(pickle.dumps(fit_segmentation(result)))
    return RunRecord(
        uri=tracking_uri(config),
        experiment=config.tracking.experiment or config.name,
        run_name=config.name,
        tags=tags,
        params=flatten(config.model_dump(mode="json")),
        metrics=run_metrics(result),
        config_yaml=config.to_yaml(),
        artifacts=[str(results), str(assignments)],
        model=str(model),
    )


def log_record(record: RunRecord) -> TrackedRun:
    """Log a prepared run to its store; returns its run ID."""
    client = _client(record.uri)
    import mlflow

    experiment = _experiment(client, record.uri, record.experiment)
    with mlflow.start_run(experiment_id=experiment, run_name=record.run_name, tags=record.tags) as run:
        mlflow.log_params(record.params)
        mlflow.log_metrics(record.metrics)
        mlflow.log_text(record.config_yaml, "config.yml")
        for path in record.artifacts:
            mlflow.log_artifact(path)
        _log_model(record.model)
    return TrackedRun(run.info.run_id, record.uri)


def log_run(
    result: Any,
    sheets: dict[str, pd.DataFrame],
    sources: dict[str, str] | None = None,
    front_end: str = "cli",
    workbook: Path | None = None,
    user: str | None = None,
    log: Callable[[RunRecord], TrackedRun] | None = None,
) -> TrackedRun:
    """Log a finished run (a ``results.RunResult``); returns its run ID. ``workbook``: the
    results workbook of this run when it is already written (logged as is, not written again);
    ``user``: who ran it (default: the operating-system user); ``log``: what logs the prepared
    record (default ``log_record``, in this process; the CLI passes its tracking process's)."""
    require_mlflow()  # say so before any work
    with tempfile.TemporaryDirectory() as folder:
        record = run_record(result, sheets, Path(folder), sources, front_end, workbook, user)
        return (log or log_record)(record)


def _log_model(pickled: str) -> None:
    """The pickled ``Segmentation`` at ``pickled`` logged as the run's pyfunc ``model``."""
    import importlib.metadata

    import mlflow.pyfunc

    from clustering.tracking.pyfunc import ARTIFACT, SegmentationModel

    requirements = [
        f"{package}=={importlib.metadata.version(package)}" for package in ("numpy", "pandas", "scikit-learn")
    ]
    with warnings.catch_warnings():  # no signature: the input is a table of the analyst's own columns
        warnings.simplefilter("ignore")
        mlflow.pyfunc.log_model(
            name="model",
            python_model=SegmentationModel(),
            artifacts={ARTIFACT: pickled},
            pip_requirements=requirements,
        )
