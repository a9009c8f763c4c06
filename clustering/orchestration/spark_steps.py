"""The DFU assets on the Spark engine (group ``dfu_spark``), for more DFUs than one machine
holds: the features computed by Spark and written as Parquet, the fit on a fixed-seed
sample, every DFU assigned by Spark and written as Parquet (the table the warehouse reads).
Only the sample and the per-segment summary reach this process, so its memory does not grow
with the number of DFUs. The preset comes from the ``dfu_source`` resource, the Parquet
input, the output folder and the master from ``dfu_spark`` (a ``SparkEngine``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from clustering.orchestration.assets import findings_result
from clustering.orchestration.resources import RunSource, SparkEngine
from clustering.pipeline.prepare import short_history_finding
from clustering.spark.scale import assign_on_spark, dfu_dataset, feature_frame, fit_on_spark, left_out

SALES_VIEW = "dfu_sales_input"
GROUP = "dfu_spark"


@dg.asset(key=[GROUP, "features"], group_name=GROUP)
def spark_features(dfu_source: RunSource, dfu_spark: SparkEngine) -> dict[str, Any]:
    """The monthly sales (``input``, Parquet) to one row of features per DFU, by Spark,
    written to ``output``/features."""
    dfu_spark.check()
    config = dfu_source.config()
    spark = dfu_spark.session()
    spark.read.parquet(str(Path(dfu_spark.input).resolve())).createOrReplaceTempView(SALES_VIEW)
    path = dfu_spark.path("features")
    options = config.datasets[dfu_dataset(config)].features
    feature_frame(spark, SALES_VIEW, options).write.mode("overwrite").parquet(path)
    short = left_out(spark, SALES_VIEW, spark.read.parquet(path), options.id_column)
    findings = [short_history_finding(options, *short)] if short[0] else []
    return {"config": config, "features": path, "short": short, "findings": findings}


@dg.asset_check(asset=spark_features, name="findings", description="Findings of the DFU features on Spark")
def spark_features_findings(spark_features: dict[str, Any]) -> dg.AssetCheckResult:
    return findings_result(spark_features["findings"])


@dg.asset(key=[GROUP, "segments"], group_name=GROUP, ins={"features": dg.AssetIn(key=[GROUP, "features"])})
def spark_segments(dfu_spark: SparkEngine, features: dict[str, Any]) -> dg.Output[dict[str, Any]]:
    """The segmentation fitted on a sample of the features; its findings as metadata."""
    frame = dfu_spark.session().read.parquet(features["features"])
    fitted = fit_on_spark(frame, features["config"], features["short"])
    findings = "\n".join(f.text() for f in fitted.result.findings) or "none"
    return dg.Output(
        {"fitted": fitted},
        metadata={
            "dfus": fitted.total,
            "fitted_on": len(fitted.result.assignments),
            "findings": dg.MetadataValue.md(findings),
        },
    )


@dg.asset(
    key=[GROUP, "labels"],
    group_name=GROUP,
    ins={"features": dg.AssetIn(key=[GROUP, "features"]), "segments": dg.AssetIn(key=[GROUP, "segments"])},
)
def spark_labels(
    dfu_spark: SparkEngine, features: dict[str, Any], segments: dict[str, Any]
) -> dg.Output[pd.DataFrame]:
    """Every DFU assigned by Spark, written to ``output``/assignments; the per-segment summary."""
    fitted = segments["fitted"]
    path = dfu_spark.path("assignments")
    summary = assign_on_spark(
        dfu_spark.session().read.parquet(features["features"]), fitted.segmentation, path
    )
    labels = summary.set_index("segment_name")["dfus"]
    return dg.Output(
        summary,
        metadata={
            "dfus": fitted.total,
            "assignments": path,
            "labels": dg.MetadataValue.md(labels.to_markdown()),
        },
    )


@dg.asset(key=[GROUP, "written"], group_name=GROUP, deps=[spark_labels])
def spark_written(dfu_spark: SparkEngine) -> dg.Output[str | None]:
    """On Spark the labels are a Parquet table for the warehouse to read, not rows sent through
    this process: say where they are."""
    path = dfu_spark.path("assignments")
    return dg.Output(
        None,
        metadata={
            "written": False,
            "reason": f"the Spark engine wrote every DFU's segment as Parquet at {path}, for the warehouse to read",
            "assignments": path,
        },
    )


SPARK_ASSETS = [spark_features, spark_segments, spark_labels, spark_written]
SPARK_CHECKS = [spark_features_findings]
