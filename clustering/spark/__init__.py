"""The DFU push-down on Apache Spark: the same one-scan monthly query, run by Spark SQL.

``clustering.io.pushdown.monthly_query`` is built with SQLAlchemy Core; here it is compiled
(PostgreSQL's grammar) and transpiled to Spark SQL with sqlglot. One rewrite guards the
arithmetic: SQLAlchemy makes ``/`` a true division by casting a divisor to ``NUMERIC``, which
Spark reads as ``DECIMAL(10, 0)`` and would truncate; such casts become ``DOUBLE``. Only one
row per DFU comes back (its months of the window); ``features.grid_features`` finishes the
features exactly as for in-memory data. Needs the ``spark`` extra (pyspark) and a Java runtime.

Beyond one machine (``clustering.spark.scale``): features on Spark, a fit on a sample, every
DFU assigned on Spark (``segment_on_spark``, ``run --engine spark``).

The code lives in ``clustering.spark.features`` and ``clustering.spark.scale``; this module
only re-exports.
"""

from clustering.spark.features import spark_features, spark_sql
from clustering.spark.scale import segment_on_spark, spark_session

__all__ = ["segment_on_spark", "spark_features", "spark_session", "spark_sql"]
