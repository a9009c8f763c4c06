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

Modules: ``store`` (where runs are tracked), ``log`` (logging a run), ``worker`` (logging in a
process of its own, started before the run), ``runs`` (reading runs back, approval),
``pyfunc`` (the saved model). This module only re-exports.
"""

from clustering.tracking.log import (
    RunRecord,
    TrackedRun,
    flatten,
    log_record,
    log_run,
    run_metrics,
    run_record,
    system_user,
)
from clustering.tracking.runs import (
    approve,
    approver_of,
    is_approved,
    list_runs,
    load_assignments,
    load_config_of,
    load_metrics,
    load_segmentation,
    workbook_bytes_of,
)
from clustering.tracking.store import available, tracking_uri
from clustering.tracking.worker import TrackingFailed, TrackingProcess

__all__ = [
    "RunRecord",
    "TrackedRun",
    "TrackingFailed",
    "TrackingProcess",
    "approve",
    "approver_of",
    "available",
    "flatten",
    "is_approved",
    "list_runs",
    "load_assignments",
    "load_config_of",
    "load_metrics",
    "load_segmentation",
    "log_record",
    "log_run",
    "run_metrics",
    "run_record",
    "system_user",
    "tracking_uri",
    "workbook_bytes_of",
]
