"""The push-down query run for real by Spark SQL (local[2]) on the demo sales written as a
Spark table: equal to the in-memory features within 1e-9."""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("pyspark")

from clustering.config import load_config
from clustering.demo import dfu_demo
from clustering.prep.features import demand_features
from clustering.spark import spark_features, spark_sql


@pytest.mark.parametrize("window", [24, 36])
def test_pushdown_on_spark_equals_the_in_memory_features(spark, window):
    sheets = dfu_demo(240, 36, seed=11)
    config = (
        load_config("dfu")
        .datasets["dfu"]
        .features.model_copy(update={"attributes": [], "window_months": window})
    )
    spark.createDataFrame(sheets["sales_monthly"]).write.mode("overwrite").saveAsTable("fact_sales_monthly")
    pushed = spark_features(spark, "fact_sales_monthly", config)
    expected = demand_features({"sales_monthly": sheets["sales_monthly"]}, config)[0].set_index("dfu_id")
    assert set(pushed.index) == set(expected.index)
    pushed = pushed.reindex(expected.index)[expected.columns]
    both_nan = pushed.isna() & expected.isna()
    error = (pushed - expected).abs().where(~both_nan, 0.0) / np.maximum(1.0, expected.abs().fillna(1.0))
    assert (pushed.isna() == expected.isna()).all().all()
    assert float(error.max().max()) < 1e-9


def test_the_spark_sql_has_no_truncating_decimal_casts():
    config = load_config("dfu").datasets["dfu"].features
    sql = spark_sql("fact_sales_monthly", config)
    assert "AS DECIMAL)" not in sql and "AS DOUBLE)" in sql
    assert "PERCENTILE" not in sql.upper()  # medians come from the returned months, exactly
    scans = re.findall(r"(?:FROM|JOIN) fact_sales_monthly(?!\.)", sql, re.IGNORECASE)
    assert len(scans) == 2  # the window's end, then one grouped scan
