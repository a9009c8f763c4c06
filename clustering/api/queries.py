"""What the API answers and how it is computed: the response models and the cluster
summary's one grouped SQL query.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

MAX_LIMIT = 1_000


MAX_OFFSET = 2**63 - 1  # the largest offset every database takes


class ClusterSummary(BaseModel):
    cluster_assignment: str
    count: int
    avg_demand: float | None
    cv_demand: float | None


class ClustersAnswer(BaseModel):
    """The clusters of dim_dfu, and how many DFUs have none."""

    clusters: list[ClusterSummary]
    unassigned: int  # DFUs without a cluster: no value, or the write-back's uncovered label
    uncovered_label: str
    definition: str


DEFINITION = (
    "avg_demand and cv_demand are the means over a cluster's DFUs of the features' mean_demand and "
    "cv_demand: over each DFU's months of history in the features' window (from its first month with "
    "sales to the window's end, a month without a sales row counting as zero), population standard "
    "deviation; a DFU with too short a history has none and is counted, not averaged."
)


class DfuPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]


def summary_query(
    dim: sa.TableClause, demand: sa.Select, key: str, id_column: str, column: str, uncovered_label: str
) -> sa.Select:
    """Per cluster of ``dim`` (NULL and ``uncovered_label`` are not clusters): its DFUs, and
    the means of their ``mean_demand`` and ``cv_demand`` from ``demand`` (one row per DFU:
    ``pushdown.demand_query``), in one grouped query."""
    per_dfu = demand.cte("demand")
    cluster = dim.c[column]
    return (
        sa.select(
            cluster.label("cluster_assignment"),
            sa.func.count().label("count"),
            sa.func.avg(per_dfu.c.mean_demand).label("avg_demand"),
            sa.func.avg(per_dfu.c.cv_demand).label("cv_demand"),
        )
        .select_from(dim.outerjoin(per_dfu, per_dfu.c[id_column] == dim.c[key]))
        .where(cluster.is_not(None), cluster != uncovered_label)
        .group_by(cluster)
        .order_by(cluster)
    )


def unassigned_query(dim: sa.TableClause, column: str, uncovered_label: str) -> sa.Select:
    """How many rows of ``dim`` have no cluster (no value, or ``uncovered_label``)."""
    cluster = dim.c[column]
    return (
        sa.select(sa.func.count())
        .select_from(dim)
        .where(sa.or_(cluster.is_(None), cluster == uncovered_label))
    )
