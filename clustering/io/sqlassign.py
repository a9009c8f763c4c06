"""Assignment where the data lives, without Spark: a fitted KMeans-family segmentation as one
SQL query (SQLAlchemy Core), run by the warehouse over a table of the entities' columns.

The query repeats the preparation the model was fitted with, column by column: a missing
value becomes the fitted fill, a column divided by a power of two for its magnitude is
divided again, log1p where it was applied (of the value floored at 0), clipping at the
fitted quantiles; then every later step (scaling, attribute weights, PCA) is affine, so
it is one matrix applied as sums of products (measured from ``Preprocessor.linear_tail``).
Each entity goes to the nearest centre (the first on a tie, as ``argmin``), and its name
comes with it. Supported: numeric columns only (a text column's levels, FAMD and density
segments are refused with the reason), KMeans, MiniBatch KMeans and Ward (nearest centroid).
Portable SQL only (CASE, COALESCE, LN, arithmetic): SQLite, DuckDB and PostgreSQL alike.
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from clustering.errors import UserInputError
from clustering.prep.preprocessing import Preprocessor

NEAREST_CENTROID = ("kmeans", "minibatch_kmeans", "agglomerative")


def check_sql_assignable(preprocessor: Preprocessor, model: object) -> None:
    """Refuse, with the reason, a segmentation the query cannot reproduce."""
    algorithm = getattr(model, "algorithm", None)
    if algorithm not in NEAREST_CENTROID:
        raise UserInputError(
            "Assignment in SQL reproduces nearest-centroid segments (kmeans, minibatch_kmeans, "
            f"agglomerative); this segmentation's model is {algorithm or type(model).__name__}. "
            "Assign with the Spark engine or in memory."
        )
    if preprocessor.famd_ is not None or preprocessor.encoder_ is not None:
        raise UserInputError(
            "Assignment in SQL supports numeric columns only; this segmentation uses text columns "
            f"({', '.join(preprocessor.categorical_out_)}) or FAMD. Assign with the Spark engine or in memory."
        )


def affine_tail(preprocessor: Preprocessor) -> tuple[np.ndarray, np.ndarray]:
    """``A`` and ``b`` with ``linear_tail(v) = v @ A + b`` for clipped numeric values ``v``."""
    width = len(preprocessor.numeric_out_)
    offset = preprocessor.linear_tail(np.zeros((1, width)))[0]
    slopes = preprocessor.linear_tail(np.eye(width)) - offset
    return slopes, offset


def _prepared_value(column: sa.ColumnElement, preprocessor: Preprocessor, position: int) -> sa.ColumnElement:
    """One numeric column up to clipping, as the preprocessor does it for that column."""
    value = sa.cast(column, sa.Float)
    exponent = int(preprocessor.exponents_[position])
    if exponent:
        value = value / float(2.0**exponent)
    value = sa.func.coalesce(value, float(preprocessor.fill_[position]))
    if preprocessor.log_mask_[position]:
        value = sa.func.ln(1.0 + sa.case((value > 0, value), else_=0.0))
    return value


def assignment_query(
    table: sa.TableClause,
    id_column: str,
    preprocessor: Preprocessor,
    centers: np.ndarray,
    labels: list[str],
    names: dict[str, str] | None = None,
) -> sa.Select:
    """ID, ``final_cluster`` (``labels[k]`` of the nearest of ``centers``) and ``segment_name``
    of every row of ``table``, computed by the database."""
    raw = preprocessor.numeric_imputed_
    missing = [c for c in raw if c not in table.c]
    if missing:
        raise UserInputError(f"Table '{table.name}' has no column(s) {', '.join(missing)} the model needs.")
    kept = [int(i) for i in preprocessor.kept_positions_]
    clipped = []
    for out, position in enumerate(kept):
        value = _prepared_value(table.c[raw[position]], preprocessor, position)
        if preprocessor.clip_bounds_ is not None:
            low, high = (float(bound[out]) for bound in preprocessor.clip_bounds_)
            value = sa.case((value < low, low), (value > high, high), else_=value)
        clipped.append(value.label(f"v{out}"))
    stage = sa.select(table.c[id_column].label("entity_id"), *clipped).subquery("clipped")
    slopes, offset = affine_tail(preprocessor)
    prepared = [
        sum((float(slopes[i, j]) * stage.c[f"v{i}"] for i in np.flatnonzero(slopes[:, j])), float(offset[j]))
        for j in range(slopes.shape[1])
    ]
    distances = [
        sum(((p - float(c)) * (p - float(c)) for p, c in zip(prepared, centre, strict=True)), 0.0).label(
            f"d{k}"
        )
        for k, centre in enumerate(np.asarray(centers, dtype=np.float64))
    ]
    near = sa.select(stage.c.entity_id, *distances).subquery("distances")
    return sa.select(
        near.c.entity_id.label(id_column),
        _nearest(near, labels).label("final_cluster"),
        _nearest(near, [(names or {}).get(label, label) for label in labels]).label("segment_name"),
    )


def _nearest(near: sa.Subquery, values: list[str]) -> sa.ColumnElement:
    """``values[k]`` of the smallest distance ``d{k}``; on a tie the first, as ``argmin``."""
    d = [near.c[f"d{k}"] for k in range(len(values))]
    whens = []
    for k in range(len(values) - 1):
        conditions = [d[k] < d[j] for j in range(k)] + [d[k] <= d[j] for j in range(k + 1, len(d))]
        whens.append((sa.and_(*conditions), values[k]))
    return sa.case(*whens, else_=values[-1]) if whens else sa.literal(values[-1])
