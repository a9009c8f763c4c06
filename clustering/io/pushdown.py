"""DFU demand features computed inside the database: one SQLAlchemy Core query.

The query returns, per DFU, the same aggregates as ``features.grid_aggregates`` (sums over
the month grid, month-of-year means, window-function medians, year-over-year
correlations...), so only one row per DFU leaves the database; ``features.finish_features``
then turns them into features exactly as for in-memory data. It uses portable SQL only
(aggregates, CASE, CTEs, a self-join, ROW_NUMBER, SQRT; PERCENTILE_CONT where the dialect has it), so it runs on SQLite, DuckDB and
PostgreSQL and compiles for warehouse dialects such as Trino. This is how sales facts
larger than one machine are handled: the warehouse does the heavy aggregation.

The month grid comes from a calendar join: every DFU gets every month of the window from
its first sale on, and a month without a row is zero demand.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select

from clustering.config import DemandFeatureConfig
from clustering.errors import UserInputError
from clustering.io.database import table_ref
from clustering.prep.features import AGGREGATES, OUTLIER_SIGMAS, finish_features

ORDERED_SET_DIALECTS = ("postgresql", "duckdb")  # percentile_cont(...) WITHIN GROUP (ORDER BY ...)


def _month_number(column: sa.ColumnElement) -> sa.ColumnElement:
    year = sa.cast(sa.extract("year", column), sa.Integer)
    month = sa.cast(sa.extract("month", column), sa.Integer)
    return year * 12 + month - 1


def _calendar(width: int) -> sa.CTE:
    rows = [sa.select(sa.literal(t, sa.Integer).label("t")) for t in range(width)]
    return sa.union_all(*rows).cte("calendar")


def _zero_if_null(value: sa.ColumnElement) -> sa.ColumnElement:
    return sa.func.coalesce(value, 0.0)


def aggregates_query(fact: sa.TableClause, config: DemandFeatureConfig, dialect: str = "") -> Select:
    """The per-DFU aggregates query over a monthly sales table (see the module docstring);
    ``dialect`` picks the fastest portable form of the median."""
    width = config.window_months
    ident, date, units = fact.c[config.id_column], fact.c[config.date_column], fact.c[config.value_column]
    month = _month_number(date)
    if config.end_month is None:
        end = sa.select(sa.func.max(month).label("end_no")).scalar_subquery()
    else:
        period = pd.Period(config.end_month, freq="M")
        end = sa.literal(period.year * 12 + period.month - 1, sa.Integer)
    start = end - (width - 1)

    cells = (
        sa.select(
            ident.label("id"), (month - start).label("t"), sa.func.sum(sa.cast(units, sa.Double)).label("y")
        )
        .where(month >= start, month <= end)
        .group_by(ident, month - start)
        .cte("cells")
    )
    firsts = (
        sa.select(cells.c.id, sa.func.min(cells.c.t).label("first"))
        .group_by(cells.c.id)
        .having(width - sa.func.min(cells.c.t) >= config.min_months)
        .cte("firsts")
    )
    calendar = _calendar(width)
    grid = (
        sa.select(
            firsts.c.id,
            calendar.c.t,
            ((start + calendar.c.t) % 12).label("moy"),
            firsts.c.first,
            (width - firsts.c.first).label("n"),
            _zero_if_null(cells.c.y).label("y"),
        )
        .select_from(
            firsts.join(calendar, calendar.c.t >= firsts.c.first).outerjoin(
                cells, sa.and_(cells.c.id == firsts.c.id, cells.c.t == calendar.c.t)
            )
        )
        .cte("grid")
    )
    g = grid.c
    middle = g.first + (g.n - g.n % 2) / 2

    def range_sum(condition: sa.ColumnElement, value: sa.ColumnElement) -> sa.ColumnElement:
        return _zero_if_null(sa.func.sum(sa.case((condition, value), else_=0.0)))

    def half(condition: sa.ColumnElement) -> dict[str, sa.ColumnElement]:
        return {
            "n": range_sum(condition, sa.literal(1.0)),
            "y": range_sum(condition, g.y),
            "t": range_sum(condition, sa.cast(g.t, sa.Double)),
            "tt": range_sum(condition, sa.cast(g.t * g.t, sa.Double)),
            "ty": range_sum(condition, g.t * g.y),
        }

    first_half, second_half = half(g.t < middle), half(g.t >= middle)
    stats = (
        sa.select(
            g.id,
            sa.func.min(g.first).label("first"),
            sa.func.count().label("n"),
            sa.func.sum(g.y).label("total"),
            sa.func.sum(g.y * g.y).label("squares"),
            sa.func.sum(sa.cast(g.t, sa.Double)).label("st"),
            sa.func.sum(sa.cast(g.t * g.t, sa.Double)).label("stt"),
            sa.func.sum(g.t * g.y).label("sty"),
            range_sum(g.t < g.first + 6, g.y).label("head6"),
            range_sum(g.t >= width - 6, g.y).label("tail6"),
            range_sum(g.t < g.first + 12, g.y).label("first_year"),
            range_sum(g.t >= width - 12, g.y).label("last_year"),
            range_sum(g.t >= width - 3, g.y).label("recent3"),
            range_sum(g.y == 0, sa.literal(1.0)).label("zeros"),
            sa.func.min(g.y).label("volume_min"),
            sa.func.max(g.y).label("volume_max"),
            *[value.label(f"h1_{name}") for name, value in first_half.items()],
            *[value.label(f"h2_{name}") for name, value in second_half.items()],
        )
        .group_by(g.id)
        .cte("stats")
    )
    s = stats.c

    def slope(
        n: sa.ColumnElement,
        t: sa.ColumnElement,
        tt: sa.ColumnElement,
        y: sa.ColumnElement,
        ty: sa.ColumnElement,
    ) -> sa.ColumnElement:
        sxx = tt - t * t / n
        return sa.case((sa.and_(n >= 2, sxx != 0), (ty - t * y / n) / sa.func.nullif(sxx, 0)), else_=None)

    trend = sa.select(
        s.id,
        (s.total / s.n).label("mean"),
        sa.func.coalesce(slope(s.n, s.st, s.stt, s.total, s.sty), 0.0).label("slope"),
        (s.st / s.n).label("t_mean"),
    ).cte("trend")
    tr = trend.c
    months = (
        sa.select(
            g.id,
            g.moy,
            sa.func.count().label("cnt"),
            sa.func.sum(g.y).label("sm"),
            sa.func.sum(sa.cast(g.t, sa.Double)).label("smt"),
        )
        .group_by(g.id, g.moy)
        .cte("months")
    )
    m = months.c
    month_mean = (m.sm - tr.slope * (m.smt - tr.t_mean * m.cnt)) / m.cnt
    month_means = (
        sa.select(
            m.id,
            m.moy,
            m.cnt,
            month_mean.label("mm"),
            sa.case((tr.mean != 0, month_mean / sa.func.nullif(tr.mean, 0)), else_=None).label("idx"),
            sa.func.row_number().over(partition_by=m.id, order_by=(month_mean.desc(), m.moy)).label("rank"),
        )
        .select_from(months.join(trend, trend.c.id == m.id))
        .cte("month_means")
    )
    mm = month_means.c
    season = (
        sa.select(
            mm.id,
            sa.func.sum(mm.cnt * (mm.mm - tr.mean) * (mm.mm - tr.mean)).label("explained"),
            sa.func.count().label("month_groups"),
            sa.func.avg(mm.idx).label("index_mean"),
            sa.func.avg(mm.idx * mm.idx).label("index_square_mean"),
            sa.func.max(sa.case((mm.rank == 1, mm.moy + 1), else_=None)).label("peak_month"),
        )
        .select_from(month_means.join(trend, trend.c.id == mm.id))
        .group_by(mm.id)
        .cte("season")
    )
    se = season.c
    syy = s.squares - s.total * tr.mean
    sxx = s.stt - s.st * s.st / s.n
    within = syy - tr.slope * tr.slope * sxx - se.explained
    variance = (
        sa.select(s.id, (within / s.n).label("irregular_var"))
        .select_from(stats.join(trend, trend.c.id == s.id).join(season, season.c.id == s.id))
        .cte("variance")
    )
    v = variance.c
    irregular = g.y - tr.slope * (g.t - tr.t_mean) - mm.mm
    outliers = (
        sa.select(
            g.id,
            range_sum(
                sa.and_(v.irregular_var > 0, irregular * irregular > OUTLIER_SIGMAS**2 * v.irregular_var),
                sa.literal(1.0),
            ).label("outliers"),
        )
        .select_from(
            grid.join(trend, trend.c.id == g.id)
            .join(month_means, sa.and_(month_means.c.id == g.id, month_means.c.moy == g.moy))
            .join(variance, variance.c.id == g.id)
        )
        .group_by(g.id)
        .cte("outliers")
    )
    median = _median(grid, dialect)
    yoy = _year_over_year(grid, trend, width)
    columns = {
        "first": sa.cast(s.first, sa.Double),
        "total": s.total,
        "squares": s.squares,
        "slope": tr.slope,
        "head6": s.head6,
        "tail6": s.tail6,
        "first_year": s.first_year,
        "last_year": s.last_year,
        "recent3": s.recent3,
        "slope_first_half": slope(s.h1_n, s.h1_t, s.h1_tt, s.h1_y, s.h1_ty),
        "slope_second_half": slope(s.h2_n, s.h2_t, s.h2_tt, s.h2_y, s.h2_ty),
        "explained": se.explained,
        "month_groups": sa.cast(se.month_groups, sa.Double),
        "index_mean": se.index_mean,
        "index_square_mean": se.index_square_mean,
        "peak_month": sa.cast(se.peak_month, sa.Double),
        "yoy_correlation": yoy.c.yoy_correlation,
        "zeros": s.zeros,
        "outliers": outliers.c.outliers,
        "volume_min": s.volume_min,
        "volume_max": s.volume_max,
        "volume_median": median.c.volume_median,
    }
    assert tuple(columns) == AGGREGATES
    joined = (
        stats.join(trend, trend.c.id == s.id)
        .join(season, season.c.id == s.id)
        .join(outliers, outliers.c.id == s.id)
        .join(median, median.c.id == s.id)
        .outerjoin(yoy, yoy.c.id == s.id)
    )
    return (
        sa.select(s.id.label(config.id_column), *[value.label(name) for name, value in columns.items()])
        .select_from(joined)
        .order_by(s.id)
    )


def _median(grid: sa.CTE, dialect: str) -> sa.CTE:
    """Median demand per DFU: the ordered-set aggregate where the dialect has one, else the
    average of the middle row(s) by ROW_NUMBER (SQLite, Trino)."""
    g = grid.c
    if dialect in ORDERED_SET_DIALECTS:
        value = sa.func.percentile_cont(0.5).within_group(g.y)
        return sa.select(g.id, value.label("volume_median")).group_by(g.id).cte("median")
    ranked = sa.select(
        g.id, g.n, g.y, sa.func.row_number().over(partition_by=g.id, order_by=g.y).label("rn")
    ).cte("ranked")
    r = ranked.c
    middle = sa.and_(r.rn * 2 >= r.n, r.rn * 2 <= r.n + 2)
    return sa.select(r.id, sa.func.avg(r.y).label("volume_median")).where(middle).group_by(r.id).cte("median")


def _year_over_year(grid: sa.CTE, trend: sa.CTE, width: int) -> sa.CTE:
    """Mean correlation of consecutive full years of the detrended series, from the end."""
    late, early = grid.alias("late"), grid.alias("early")
    tr = trend.c
    a = late.c.y - tr.slope * (late.c.t - tr.t_mean)
    b = early.c.y - tr.slope * (early.c.t - tr.t_mean)
    back = width - 1 - late.c.t
    block = (back - back % 12) / 12  # whole years counted back from the end (integer in every dialect)
    pairs = (
        sa.select(late.c.id, block.label("k"), a.label("a"), b.label("b"))
        .select_from(
            late.join(early, sa.and_(early.c.id == late.c.id, early.c.t == late.c.t - 12)).join(
                trend, tr.id == late.c.id
            )
        )
        .where(late.c.t >= width - 12 * (width // 12 - 1), late.c.n >= 12 * (block + 2))
        .cte("pairs")
    )
    p = pairs.c
    count = sa.func.count()
    covariance = sa.func.sum(p.a * p.b) / count - sa.func.sum(p.a) * sa.func.sum(p.b) / (count * count)
    var_a = sa.func.sum(p.a * p.a) / count - sa.func.sum(p.a) * sa.func.sum(p.a) / (count * count)
    var_b = sa.func.sum(p.b * p.b) / count - sa.func.sum(p.b) * sa.func.sum(p.b) / (count * count)
    blocks = (
        sa.select(
            p.id,
            sa.case(
                (sa.and_(var_a > 1e-12, var_b > 1e-12), covariance / sa.func.sqrt(var_a * var_b)),
                else_=None,
            ).label("r"),
        )
        .group_by(p.id, p.k)
        .cte("blocks")
    )
    return (
        sa.select(blocks.c.id, sa.func.avg(blocks.c.r).label("yoy_correlation"))
        .group_by(blocks.c.id)
        .cte("yoy")
    )


def pushdown_features(
    engine: Engine, table: str, config: DemandFeatureConfig, schema: str | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """DFU features computed in the database (ID as a column), and the IDs the window left
    out for short history."""
    fact = table_ref(engine, table, schema)
    missing = [c for c in (config.id_column, config.date_column, config.value_column) if c not in fact.c]
    if missing:
        raise UserInputError(
            f"Table '{table}' has no column(s) {', '.join(missing)}: set features.id_column, date_column and value_column."
        )
    with engine.connect() as connection:
        aggregates = pd.read_sql(aggregates_query(fact, config, engine.dialect.name), connection)
        every = connection.execute(sa.select(fact.c[config.id_column]).distinct()).scalars().all()
    aggregates[config.id_column] = aggregates[config.id_column].astype(str)
    features = finish_features(aggregates.set_index(config.id_column), config.window_months)
    dropped = sorted(set(map(str, every)) - set(features.index))
    return features.reset_index(), dropped
