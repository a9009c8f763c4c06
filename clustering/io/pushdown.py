"""DFU demand features from sales facts inside the database: one scan, one grouped query.

The query reads the monthly sales table once and groups it by DFU. Each DFU's row holds
its first month with a sales row in the window and one conditional sum per month of the
window (``SUM(CASE WHEN month = k THEN units ELSE 0 END)``): the DFU x month grid, already
laid out, so only one row per DFU leaves the database (36 numbers for a 36-month window,
however many rows the facts hold). The window's end is ``end_month``, or the latest month
in the table (a one-row CTE joined to every row). numpy then finishes every
feature with the in-memory builder's own code (``features.grid_features``), so the two
paths agree to the last bits of a sum's order.

It is portable SQL only (aggregates, CASE, EXTRACT, CTEs): it runs on SQLite,
DuckDB and PostgreSQL, compiles for warehouse dialects such as Trino, and transpiles to
Spark SQL (``clustering.spark``). No self-join, no window function, no second pass for the
medians or year-over-year correlations: those are computed from the returned grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select

from clustering.config import DemandFeatureConfig
from clustering.errors import UserInputError
from clustering.io.dbread import fetch_frame, table_ref
from clustering.prep.features import DemandGrid, grid_features

FIRST, END = "first_month_in_window", "window_end"


def _month_number(column: sa.ColumnElement) -> sa.ColumnElement:
    year = sa.cast(sa.extract("year", column), sa.Integer)
    month = sa.cast(sa.extract("month", column), sa.Integer)
    return year * 12 + month - 1


def month_column(k: int) -> str:
    """Name of the conditional sum of the window's month ``k`` (0 = the first)."""
    return f"m{k}"


def _sales_rows(fact: sa.TableClause, config: DemandFeatureConfig) -> sa.CTE:
    """Every sales row with its month counted from the window's start (``t``, 0 = the first
    month of the window), its units (``y``) and the window's end as a month number."""
    width = config.window_months
    ident, date, units = fact.c[config.id_column], fact.c[config.date_column], fact.c[config.value_column]
    if config.end_month is None:
        bounds = sa.select(sa.func.max(_month_number(date)).label("end_no")).cte("bounds")
    else:
        period = pd.Period(config.end_month, freq="M")
        bounds = sa.select(sa.literal(period.year * 12 + period.month - 1, sa.Integer).label("end_no")).cte(
            "bounds"
        )
    return (
        sa.select(
            ident.label("id"),
            (_month_number(date) - (bounds.c.end_no - (width - 1))).label("t"),
            sa.cast(units, sa.Double).label("y"),
            bounds.c.end_no,
        )
        .select_from(fact.join(bounds, sa.true()))
        .cte("sales_rows")
    )


def monthly_query(fact: sa.TableClause, config: DemandFeatureConfig) -> Select:
    """Per DFU (every DFU of the table, in one GROUP BY): its first month with a sales row in
    the window (NULL when none), the window's end as a month number, and the units of each
    month of the window."""
    width = config.window_months
    r = _sales_rows(fact, config).c
    zero = sa.literal(0.0, sa.Double)
    months = [sa.func.sum(sa.case((r.t == k, r.y), else_=zero)).label(month_column(k)) for k in range(width)]
    inside = sa.and_(r.t >= 0, r.t < width)
    return sa.select(
        r.id.label(config.id_column),
        sa.func.min(sa.case((inside, r.t), else_=None)).label(FIRST),
        sa.func.max(r.end_no).label(END),
        *months,
    ).group_by(r.id)


def demand_query(fact: sa.TableClause, config: DemandFeatureConfig) -> Select:
    """Per DFU with enough history, the features' own ``mean_demand`` and ``cv_demand`` in SQL
    (for summaries that cannot pull the grid): over the DFU's months of history in the window
    (from its first month with a sales row to the window's end, a month without a row
    counting as zero), the population standard deviation, cv NULL for a zero mean. DFUs
    with under ``min_months`` of history are left out, as the features leave them out."""
    width = config.window_months
    r = _sales_rows(fact, config).c
    inside = sa.and_(r.t >= 0, r.t < width)
    zero = sa.literal(0.0, sa.Double)
    history = sa.literal(width, sa.Double) - sa.func.min(sa.case((inside, r.t), else_=None))
    total = sa.func.sum(sa.case((inside, r.y), else_=zero))
    squares = sa.func.sum(sa.case((inside, r.y * r.y), else_=zero))
    per_dfu = (
        sa.select(r.id.label("id"), history.label("months"), total.label("total"), squares.label("squares"))
        .group_by(r.id)
        .having(history >= config.min_months)
        .cte("per_dfu")
    )
    d = per_dfu.c
    mean = d.total / d.months
    spread = d.squares - d.total * mean
    std = sa.func.sqrt(sa.case((spread > 0, spread), else_=zero) / d.months)
    return sa.select(
        d.id.label(config.id_column),
        mean.label("mean_demand"),
        sa.case(
            (mean != 0, std / sa.case((mean != 0, mean), else_=sa.literal(1.0, sa.Double))), else_=None
        ).label("cv_demand"),
    )


def grid_from_rows(rows: pd.DataFrame, config: DemandFeatureConfig) -> DemandGrid:
    """The DFU x month grid from ``monthly_query``'s rows, laid out as the in-memory builder
    lays it out (DFUs sorted by ID as text)."""
    width = config.window_months
    ids = rows[config.id_column].astype(str).to_numpy(dtype=object)
    order = np.argsort(ids, kind="stable")
    first = rows[FIRST].to_numpy(dtype=np.float64, na_value=np.nan)[order]
    first = np.where(np.isnan(first), width, first).astype(np.int64)
    units = rows[[month_column(k) for k in range(width)]].to_numpy(dtype=np.float64)[order]
    end = rows[END].dropna()
    start = int(end.iloc[0]) - width + 1 if len(end) else 0
    return DemandGrid.from_months(ids[order], units, first, start, config)


def pushdown_features(
    engine: Engine, table: str, config: DemandFeatureConfig, schema: str | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """DFU features computed from the database's monthly grid (ID as a column), and the IDs
    the window left out for short history."""
    fact = table_ref(engine, table, schema)
    missing = [c for c in (config.id_column, config.date_column, config.value_column) if c not in fact.c]
    if missing:
        raise UserInputError(
            f"Table '{table}' has no column(s) {', '.join(missing)}: set features.id_column, date_column and value_column."
        )
    with engine.connect() as connection:
        rows = fetch_frame(connection, monthly_query(fact, config))
    if rows.empty:
        raise UserInputError(f"Table '{table}' has no sales rows.")
    grid = grid_from_rows(rows, config)
    if not len(grid.ids):
        raise UserInputError(
            f"{table}: no DFU has at least {config.min_months} months of history in the "
            f"{config.window_months}-month window. Lower features.min_months or widen the window."
        )
    return grid_features(grid).reset_index(), grid.dropped
