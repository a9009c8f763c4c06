"""A read-only HTTP API over the segments written back to the warehouse (FastAPI).

``python -m clustering serve --database URL`` starts it (uvicorn); OpenAPI docs at
``/docs``, served from the package (fastapi-offline), never from a CDN.

- ``GET /domains/dfu/clusters``: ``clusters``, per ``cluster_assignment`` value of
  ``dim_dfu``: ``count`` (DFUs), ``avg_demand`` and ``cv_demand`` (the means over the
  cluster's DFUs of the features' own ``mean_demand`` and ``cv_demand``: the features'
  window, a month without sales counting as zero); and ``unassigned``, the DFUs with no
  cluster (no value, or the write-back's ``uncovered_label``, e.g. ``insufficient_history``).
  Computed by SQL aggregations in the database, reused for 10 seconds (concurrent callers
  share one computation).
- ``GET /domains/dfu?cluster_assignment=&limit=&offset=``: the DFUs of ``dim_dfu``, filtered
  by cluster, ordered by ID, a page at a time (``limit`` 1 to 1,000, default 100; ``offset``
  0 to 2^63 - 1).

Every request runs in a read-only transaction where the dialect has one (PostgreSQL,
SQLite), with a statement timeout. Bad parameters are 400 with a message that names each
one and says why; an unknown cluster is 404 and names no other cluster (``/clusters`` lists
them to whoever may call it); anything unexpected is a 500 whose body says only that, with
the traceback in the server's log file. Each call writes one log line (method, path, status,
milliseconds). With a token (``$CLUSTERING_API_TOKEN``) every route but ``/health`` needs
``Authorization: Bearer <token>``; ``serve`` refuses to listen beyond 127.0.0.1 without one.
Table and column names come from the config's ``database`` section (the ``dfu`` preset by
default).

Modules: ``app`` (the application), ``queries`` (the SQL and the response models). This
module only re-exports.
"""

from clustering.api.app import SUMMARY_SECONDS, TOKEN_VARIABLE, Recent, create_app
from clustering.api.queries import MAX_LIMIT, MAX_OFFSET, ClusterSummary, DfuPage, summary_query

__all__ = [
    "MAX_LIMIT",
    "MAX_OFFSET",
    "SUMMARY_SECONDS",
    "TOKEN_VARIABLE",
    "ClusterSummary",
    "DfuPage",
    "Recent",
    "create_app",
    "summary_query",
]
