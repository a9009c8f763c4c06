"""The DFU push-down on Apache Spark: the same aggregates query, run by Spark SQL.

``clustering.io.pushdown.aggregates_query`` is built with SQLAlchemy Core; here it is compiled
(PostgreSQL's grammar) and transpiled to Spark SQL with sqlglot. One rewrite matters:
SQLAlchemy makes ``/`` a true division by casting a divisor to ``NUMERIC``, which Spark reads
as ``DECIMAL(10, 0)`` and would truncate (a mean of 1.42 becomes 1); those casts become
``DOUBLE``. The median takes the ROW_NUMBER form (Spark's percentile functions approximate).
Only one row per DFU comes back; ``features.finish_features`` finishes the features exactly
as for in-memory data. Needs the ``spark`` extra (pyspark) and a Java runtime.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
import sqlglot
from sqlalchemy.dialects import postgresql
from sqlglot import exp

from clustering.config import DemandFeatureConfig
from clustering.io.pushdown import aggregates_query
from clustering.prep.features import finish_features


def _double_not_decimal(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.DECIMAL and not node.expressions:
        return exp.DataType.build("DOUBLE")
    return node


def spark_sql(table: str, config: DemandFeatureConfig) -> str:
    """The push-down aggregates query in Spark's SQL, over the table (or view) ``table``."""
    columns = (config.id_column, config.date_column, config.value_column)
    fact = sa.table(table, *[sa.column(c) for c in columns])
    query = aggregates_query(fact, config, "spark")
    compiled = str(
        query.compile(dialect=postgresql.dialect(paramstyle="named"), compile_kwargs={"literal_binds": True})
    )
    tree = sqlglot.parse_one(compiled, read="postgres").transform(_double_not_decimal)
    return tree.sql(dialect="spark")


def spark_features(spark: object, table: str, config: DemandFeatureConfig) -> pd.DataFrame:
    """DFU features computed by Spark over ``table`` (ID as the index)."""
    aggregates = spark.sql(spark_sql(table, config)).toPandas()
    aggregates[config.id_column] = aggregates[config.id_column].astype(str)
    return finish_features(aggregates.set_index(config.id_column), config.window_months)
