"""The DFU features on Spark: the push-down query transpiled to Spark SQL, finished by the
in-memory builder's own code.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
import sqlglot
from sqlalchemy.dialects import postgresql
from sqlglot import exp

from clustering.config import DemandFeatureConfig
from clustering.io.pushdown import grid_from_rows, monthly_query
from clustering.prep.features import grid_features


def _double_not_decimal(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.DECIMAL and not node.expressions:
        return exp.DataType.build("DOUBLE")
    return node


def spark_sql(table: str, config: DemandFeatureConfig) -> str:
    """The push-down monthly query in Spark's SQL, over the table (or view) ``table``."""
    columns = (config.id_column, config.date_column, config.value_column)
    fact = sa.table(table, *[sa.column(c) for c in columns])
    query = monthly_query(fact, config)
    compiled = str(
        query.compile(dialect=postgresql.dialect(paramstyle="named"), compile_kwargs={"literal_binds": True})
    )
    tree = sqlglot.parse_one(compiled, read="postgres").transform(_double_not_decimal)
    return tree.sql(dialect="spark")


def spark_features(spark: object, table: str, config: DemandFeatureConfig) -> pd.DataFrame:
    """DFU features computed by Spark over ``table`` (ID as the index)."""
    rows = spark.sql(spark_sql(table, config)).toPandas()
    return grid_features(grid_from_rows(rows, config))
