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


class DfuPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]


def summary_query(dim: sa.TableClause, fact: sa.TableClause, key: str, column: str, value: str) -> sa.Select:
    """Per cluster: DFUs, mean monthly demand and mean cv, one grouped query (portable SQL)."""
    units = sa.cast(fact.c[value], sa.Float)
    per_dfu = (
        sa.select(
            fact.c[key].label("id"),
            sa.func.avg(units).label("mean_units"),
            sa.func.avg(units * units).label("mean_square"),
        )
        .group_by(fact.c[key])
        .cte("per_dfu")
    )
    variance = per_dfu.c.mean_square - per_dfu.c.mean_units * per_dfu.c.mean_units
    std = sa.func.sqrt(sa.case((variance > 0, variance), else_=0.0))
    cv = sa.case((per_dfu.c.mean_units > 0, std / per_dfu.c.mean_units), else_=None)
    return (
        sa.select(
            dim.c[column].label("cluster_assignment"),
            sa.func.count().label("count"),
            sa.func.avg(per_dfu.c.mean_units).label("avg_demand"),
            sa.func.avg(cv).label("cv_demand"),
        )
        .select_from(dim.outerjoin(per_dfu, per_dfu.c.id == dim.c[key]))
        .where(dim.c[column].is_not(None))
        .group_by(dim.c[column])
        .order_by(dim.c[column])
    )
