"""Reading tracked runs back: the list, one run's assignments, config, metrics and model, and
approval (who approved, when).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from clustering.assign import Segmentation
from clustering.config import RunConfig, config_from_yaml
from clustering.errors import UserInputError
from clustering.tracking.log import system_user
from clustering.tracking.store import TAG, _client

COUNTS = ("final.segments", "final.rows", "final.smallest_segment", "overrides")


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
            "entities": runs.get("tags.entities", pd.Series("rows", index=runs.index)).fillna("rows"),
        }
    )
    for column in sorted(c for c in runs.columns if c.startswith("metrics.") and c.endswith(".k")):
        table[f"k {column.removeprefix('metrics.').removesuffix('.k')}"] = runs[column]
    for metric in (
        "final.segments",
        "final.rows",
        "merged.silhouette",
        "final.smallest_segment",
        "overrides",
    ):
        if f"metrics.{metric}" in runs:
            table[metric] = runs[f"metrics.{metric}"]
    counts = [c for c in table.columns if c.startswith("k ") or c in COUNTS]
    table[counts] = table[counts].round().astype("Int64")  # MLflow stores every metric as a float
    silhouettes = [c for c in runs.columns if c.startswith("metrics.") and c.endswith(".silhouette")]
    for column in silhouettes:
        table[column.removeprefix("metrics.")] = runs[column]
    table.insert(0, "run", [run_title(row) for _, row in table.iterrows()])
    return table.reset_index(drop=True)


def run_title(row: pd.Series) -> str:
    """A run named by what it is: its name, its segments and their rows, who ran it and when
    ('store segmentation · 18 segments of 2,000 stores · alice · 2026-12-05 09:40')."""
    parts = [str(row.get("name") or "run")]
    segments, rows = row.get("final.segments"), row.get("final.rows")
    if pd.notna(segments):
        size = f" of {int(rows):,} {row.get('entities') or 'rows'}" if pd.notna(rows) else ""
        parts.append(f"{int(segments)} segments{size}")
    if isinstance(row.get("user"), str) and row["user"]:
        parts.append(str(row["user"]))
    parts.append(str(row.get("started", ""))[:16])
    return " · ".join(parts) + (" · approved" if row.get("approved") else "")


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
        text = Path(path).read_text(encoding="utf-8")
        return config_from_yaml(text, source=f"run {run_id}", expand_env=False)  # data, as it was logged


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
    client.set_tag(run_id, "approved_by", approver or system_user())
    client.set_tag(run_id, "approved_at", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
    return name


def is_approved(uri: str, run_id: str) -> bool:
    return approver_of(uri, run_id) is not None


def approver_of(uri: str, run_id: str) -> str | None:
    """Who approved the run (None: it is not approved; "unknown" for an approval recorded
    before approvers were)."""
    tags = _run(_client(uri), run_id).data.tags
    if tags.get("approved") != "true":
        return None
    return tags.get("approved_by") or "unknown"


def workbook_bytes_of(uri: str, run_id: str) -> bytes:
    """A tracked run's results workbook."""
    client = _client(uri)
    _run(client, run_id)
    with tempfile.TemporaryDirectory() as folder:
        return Path(client.download_artifacts(run_id, "results.xlsx", folder)).read_bytes()
