"""The DFU assets' work on the Spark engine: the features computed by Spark and written as
Parquet, the fit on a fixed-seed sample, every DFU assigned by Spark and written as Parquet
(the table the warehouse reads). Only the sample and the per-segment summary reach this
process, so its memory does not grow with the number of DFUs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from clustering.config import RunConfig
from clustering.orchestration.resources import PipelineSettings
from clustering.pipeline.prepare import short_history_finding
from clustering.spark.scale import assign_on_spark, dfu_dataset, feature_frame, fit_on_spark, left_out

SALES_VIEW = "dfu_sales_input"


def spark_features(settings: PipelineSettings, config: RunConfig) -> dict[str, Any]:
    """The monthly sales (``input``, Parquet) to one row of features per DFU, by Spark,
    written to ``output``/features."""
    spark = settings.spark()
    spark.read.parquet(str(Path(settings.input).resolve())).createOrReplaceTempView(SALES_VIEW)
    path = settings.spark_path("features")
    options = config.datasets[dfu_dataset(config)].features
    feature_frame(spark, SALES_VIEW, options).write.mode("overwrite").parquet(path)
    short = left_out(spark, SALES_VIEW, spark.read.parquet(path), options.id_column)
    findings = [short_history_finding(options, *short)] if short[0] else []
    return {"config": config, "engine": "spark", "features": path, "short": short, "findings": findings}


def spark_segments(settings: PipelineSettings, features: dict[str, Any]) -> dg.Output[dict[str, Any]]:
    """The segmentation fitted on a sample of the features; its findings as metadata."""
    frame = settings.spark().read.parquet(features["features"])
    fitted = fit_on_spark(frame, features["config"], features["short"])
    findings = "\n".join(f.text() for f in fitted.result.findings) or "none"
    return dg.Output(
        {"engine": "spark", "fitted": fitted},
        metadata={
            "dfus": fitted.total,
            "fitted_on": len(fitted.result.assignments),
            "findings": dg.MetadataValue.md(findings),
        },
    )


def spark_labels(
    settings: PipelineSettings, features: dict[str, Any], segments: dict[str, Any]
) -> dg.Output[pd.DataFrame]:
    """Every DFU assigned by Spark, written to ``output``/assignments; the per-segment summary."""
    fitted = segments["fitted"]
    path = settings.spark_path("assignments")
    summary = assign_on_spark(settings.spark().read.parquet(features["features"]), fitted.segmentation, path)
    labels = summary.set_index("segment_name")["dfus"]
    return dg.Output(
        summary,
        metadata={
            "dfus": fitted.total,
            "assignments": path,
            "labels": dg.MetadataValue.md(labels.to_markdown()),
        },
    )


def spark_write_back(settings: PipelineSettings) -> dg.Output[str | None]:
    """On Spark the labels are a Parquet table for the warehouse to read, not rows sent through
    this process: say where they are."""
    path = settings.spark_path("assignments")
    return dg.Output(
        None,
        metadata={
            "written": False,
            "reason": f"the Spark engine wrote every DFU's segment as Parquet at {path}, for the warehouse to read",
            "assignments": path,
        },
    )
