"""DFU segmentation where the data lives: features on Spark, a fit on a sample, assignment on
Spark. Only the sample (``scale.sample_rows`` DFUs) and the per-segment summary reach the
driver, so its memory does not grow with the number of DFUs.

- **Features** (``feature_frame``): the push-down monthly query (one row per DFU with its
  months of the window) run by Spark SQL, then ``mapInPandas`` over those rows with the
  in-memory builder's own ``grid_features``: the numbers cannot drift from a run on one
  machine.
- **Sample** (``sample_frame``): a fixed-seed sample, the same whatever the partitioning
  (each DFU ranked by a 64-bit hash of the seed and its ID), stratified in proportion to
  each stratum's size when ``scale.strata`` names columns (largest remainders, so the
  quotas add up to the sample size).
- **Fit** (``fit_sample``): the ordinary run on the sample (validation, preparation, k,
  stability, names), with a finding that says how it was sampled.
- **Assign** (``assign_frame``): ``mapInPandas`` with the fitted ``Segmentation`` broadcast:
  every DFU gets exactly the label ``Segmentation.assign`` gives it in memory; the summary
  per segment (``segment_summary``) is aggregated by Spark.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clustering.assign import Segmentation, fit_segmentation
from clustering.config import DemandFeatureConfig, RunConfig
from clustering.io.inputs import precomputed_key
from clustering.io.pushdown import END, FIRST, grid_from_rows, month_column
from clustering.io.validation import Finding
from clustering.prep.features import grid_features
from clustering.spark.features import spark_sql

ARROW_BATCH = 100_000
ASSIGNED = ["final_cluster", "segment_name", "distance_to_segment", "far_from_segments"]


def feature_names(config: DemandFeatureConfig) -> list[str]:
    """The feature columns ``grid_features`` returns (after the ID), from a one-DFU probe."""
    probe = {config.id_column: ["probe"], FIRST: [0], END: [config.window_months - 1]}
    probe.update({month_column(k): [1.0 + k % 3] for k in range(config.window_months)})
    return list(grid_features(grid_from_rows(pd.DataFrame(probe), config)).columns)


def feature_frame(spark: object, table: str, config: DemandFeatureConfig) -> object:
    """A Spark DataFrame of every DFU's features (ID column first) over the sales ``table``
    (a table or view Spark knows); DFUs with too short a history are left out, as in memory."""
    from pyspark.sql import types as T

    columns = feature_names(config)
    schema = T.StructType(
        [T.StructField(config.id_column, T.StringType(), False)]
        + [T.StructField(c, T.DoubleType(), True) for c in columns]
    )

    def build(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for rows in batches:
            features = grid_features(grid_from_rows(rows, config)) if len(rows) else None
            if features is not None and len(features):
                out = features[columns].astype(np.float64)
                out.insert(0, config.id_column, features.index.astype(str))
                yield out.reset_index(drop=True)

    return spark.sql(spark_sql(table, config)).mapInPandas(build, schema)


def sample_frame(frame: object, id_column: str, rows: int, seed: int, strata: list[str]) -> pd.DataFrame:
    """A fixed-seed sample of ``rows`` rows of ``frame`` on the driver (all rows when fewer),
    stratified by ``strata`` in proportion to each stratum's size."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    ranked = frame.withColumn("_rank_key", F.xxhash64(F.lit(seed), F.col(id_column).cast("string")))
    if not strata:
        sample = ranked.orderBy("_rank_key", id_column).limit(rows)
        return sample.drop("_rank_key").toPandas()
    sizes = ranked.groupBy(*strata).count().toPandas()
    sizes["quota"] = _quotas(sizes["count"].to_numpy(), rows)
    spark = frame.sparkSession
    quotas = spark.createDataFrame(sizes[[*strata, "quota"]])
    order = Window.partitionBy(*strata).orderBy("_rank_key", id_column)
    kept = (
        ranked.withColumn("_rank", F.row_number().over(order))
        .join(quotas, on=strata, how="inner")
        .where(F.col("_rank") <= F.col("quota"))
    )
    sample = kept.drop("_rank_key", "_rank", "quota").toPandas()
    return sample.sort_values(id_column, kind="stable").reset_index(drop=True)


def _quotas(counts: np.ndarray, rows: int) -> np.ndarray:
    """Each stratum's share of ``rows`` by largest remainders (never more than its size)."""
    total = counts.sum()
    if total <= rows:
        return counts.astype(np.int64)
    exact = counts * rows / total
    quotas = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - quotas), kind="stable")
    quotas[order[: rows - quotas.sum()]] += 1
    return np.minimum(quotas, counts)


def left_out(spark: object, table: str, features: object, id_column: str) -> tuple[int, list[str]]:
    """The DFUs of the sales ``table`` that have no features (too short a history): how many,
    and the first five by ID."""
    from pyspark.sql import functions as F

    sold = spark.table(table).select(F.col(id_column).cast("string").alias(id_column)).distinct()
    missing = sold.join(features.select(id_column), on=id_column, how="left_anti").cache()
    count = missing.count()
    examples = [row[0] for row in missing.orderBy(id_column).limit(5).collect()] if count else []
    missing.unpersist()
    return count, examples


def fit_sample(
    sample: pd.DataFrame, config: RunConfig, total: int, short: tuple[int, list[str]] = (0, [])
) -> tuple[object, Segmentation]:
    """The run on the sample's features (ID column first) and its fitted segmentation; the
    findings say how it was sampled, and how many DFUs (``short``: count and examples) were
    left out for too short a history."""
    from clustering.pipeline import run
    from clustering.pipeline.prepare import short_history_finding

    name = dfu_dataset(config)
    features = sample.set_index(config.datasets[name].features.id_column)
    result = run(config, {precomputed_key(name): features})
    strata = config.scale.strata
    how = f", stratified by {', '.join(strata)}" if strata else ""
    result.findings.append(
        Finding(
            "info",
            "sample",
            f"Fitted on a fixed-seed sample of {len(sample):,} of {total:,} DFUs (random_state "
            f"{config.random_state}{how}); every DFU was then assigned by the fitted model where "
            f"the data lives. Stability was measured on the sample.",
        )
    )
    if short[0]:
        result.findings.append(short_history_finding(config.datasets[name].features, *short))
    return result, fit_segmentation(result)


def assign_frame(frame: object, segmentation: Segmentation) -> object:
    """Every DFU of ``frame`` (its features, ID column first) assigned by ``segmentation`` on
    the executors: ID, final segment, name, distance to it and the far flag."""
    from pyspark.sql import types as T

    name = dfu_dataset(segmentation.config)
    id_column = segmentation.config.datasets[name].features.id_column
    shared = frame.sparkSession.sparkContext.broadcast(segmentation)
    schema = T.StructType(
        [
            T.StructField(id_column, T.StringType(), False),
            T.StructField("final_cluster", T.StringType(), True),
            T.StructField("segment_name", T.StringType(), True),
            T.StructField("distance_to_segment", T.DoubleType(), True),
            T.StructField("far_from_segments", T.BooleanType(), True),
        ]
    )

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = shared.value
        for part in batches:
            if not len(part):
                continue
            assigned, _ = model.assign({precomputed_key(name): part.set_index(id_column)})
            out = assigned[[segmentation.config.id_column, *ASSIGNED]]
            yield out.rename(columns={segmentation.config.id_column: id_column}).astype(
                {id_column: str, "final_cluster": str, "segment_name": str}
            )

    return frame.mapInPandas(score, schema)


def segment_summary(assigned: object, frame: object, id_column: str, columns: list[str]) -> pd.DataFrame:
    """Per final segment, aggregated by Spark: DFUs, the far ones, and the mean of ``columns``
    (over the DFUs that have a value)."""
    from pyspark.sql import functions as F

    joined = assigned.join(frame.select(id_column, *columns), on=id_column, how="left")
    summary = joined.groupBy("final_cluster", "segment_name").agg(
        F.count(F.lit(1)).alias("dfus"),
        F.sum(F.col("far_from_segments").cast("int")).alias("far"),
        *[F.avg(F.when(~F.isnan(c), F.col(c))).alias(c) for c in columns],  # NaN skipped, as pandas does
    )
    return summary.toPandas().sort_values("final_cluster", kind="stable").reset_index(drop=True)


def dfu_dataset(config: RunConfig) -> str:
    """The name of the run's DFU dataset (the one built from monthly sales)."""
    names = [name for name, dataset in config.datasets.items() if dataset.features is not None]
    if len(names) != 1:
        from clustering.errors import UserInputError

        raise UserInputError("The Spark engine segments DFUs: the config needs one dataset with 'features'.")
    return names[0]


def spark_session(master: str = "local[*]", app: str = "clustering-studio") -> object:
    """A Spark session for the CLI and Dagster: ``master`` (``local[*]`` by default, or a
    cluster's URL); the executors run this environment's Python; no web UI."""
    import os
    import sys

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        # each pandas batch pays a fixed cost (validation, preparation): 100k DFUs, not 10k
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(ARROW_BATCH))
    )
    if master.startswith("local"):  # one machine: a few shuffle partitions, not Spark's 200
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.sql.shuffle.partitions", str(2 * (os.cpu_count() or 1))
        )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


@dataclass
class ScaledRun:
    """A segmentation beyond one machine: the run on the sample, its fitted segmentation, where
    every DFU's assignment was written (Parquet) and the per-segment summary."""

    result: object
    segmentation: Segmentation
    assignments: str
    summary: pd.DataFrame
    total: int


def segment_on_spark(spark: object, table: str, config: RunConfig, assignments: str) -> ScaledRun:
    """Features where the data lives, a fit on a sample, every DFU assigned where the data
    lives and written to the Parquet dataset ``assignments`` (which the summary then reads,
    so nothing is assigned twice): the whole of ``--engine spark`` over the sales ``table``."""
    options = config.datasets[dfu_dataset(config)].features
    features = feature_frame(spark, table, options).cache()
    fitted = fit_on_spark(features, config, left_out(spark, table, features, options.id_column))
    summary = assign_on_spark(features, fitted.segmentation, assignments)
    features.unpersist()
    return ScaledRun(fitted.result, fitted.segmentation, assignments, summary, fitted.total)


@dataclass
class SampleFit:
    """The run on the sample, its fitted segmentation, and how many DFUs the frame holds."""

    result: object
    segmentation: Segmentation
    total: int


def fit_on_spark(features: object, config: RunConfig, short: tuple[int, list[str]] = (0, [])) -> SampleFit:
    """The fit on a fixed-seed sample of a Spark frame of DFU features (``scale`` of ``config``);
    ``short``: the DFUs left out for too short a history (count, examples), for the findings."""
    id_column = config.datasets[dfu_dataset(config)].features.id_column
    total = features.count()
    scale = config.scale
    sample = sample_frame(features, id_column, scale.sample_rows, config.random_state, scale.strata)
    result, segmentation = fit_sample(sample, config, total, short)
    return SampleFit(result, segmentation, total)


def assign_on_spark(features: object, segmentation: Segmentation, assignments: str) -> pd.DataFrame:
    """Every DFU of ``features`` assigned on the executors and written to the Parquet dataset
    ``assignments``; returns the per-segment summary and profile (DFUs, far ones, the mean of
    every feature), aggregated by Spark from what was written."""
    id_column = segmentation.config.datasets[dfu_dataset(segmentation.config)].features.id_column
    assign_frame(features, segmentation).write.mode("overwrite").parquet(assignments)
    columns = [c for c in features.columns if c != id_column]  # the profile: every feature's mean
    written = features.sparkSession.read.parquet(assignments)
    return segment_summary(written, features, id_column, columns)
