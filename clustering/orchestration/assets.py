"""The assets: each a stage of ``clustering.pipeline``, for stores and for DFUs, with checks
that report the validation findings.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandas as pd

from clustering.io.validation import Finding
from clustering.orchestration.resources import CODE_VERSION, PipelineSettings
from clustering.pipeline import (
    check_sheets,
    check_stability,
    cluster_dataset,
    combine_segments,
    explain_segments,
    prepare_dataset,
    with_segment_names,
)
from clustering.results import Combined


def _findings_check(findings: list[Finding]) -> dg.AssetCheckResult:
    warnings = [f.text() for f in findings if f.level != "info"]
    return dg.AssetCheckResult(
        passed=not warnings,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"warnings": len(warnings), "findings": "\n".join(f.text() for f in findings) or "none"},
    )


@dg.asset(group_name="store", code_version=CODE_VERSION)
def store_inputs(store_settings: PipelineSettings) -> dict[str, Any]:
    """The internal and external tables, read and validated (errors stop here)."""
    config = store_settings.config()
    checked, findings = check_sheets(config, store_settings.sheets(config))
    return {"config": config, "tables": checked, "findings": findings}


@dg.asset_check(asset=store_inputs, description="Validation findings of the store inputs")
def store_inputs_findings(store_inputs: dict[str, Any]) -> dg.AssetCheckResult:
    return _findings_check(store_inputs["findings"])


def _prepared(inputs: dict[str, Any], name: str):
    config = inputs["config"]
    return prepare_dataset(name, inputs["tables"][name], config.datasets[name], config.random_state)


def _segments(inputs: dict[str, Any], prepared, name: str):
    config = inputs["config"]
    return cluster_dataset(prepared, config.datasets[name], config.prefix(name), config.random_state)


@dg.asset(group_name="store", code_version=CODE_VERSION)
def internal_prepared(store_inputs: dict[str, Any]):
    """Store performance, prepared for clustering."""
    return _prepared(store_inputs, "internal")


@dg.asset(group_name="store", code_version=CODE_VERSION)
def internal_segments(store_inputs: dict[str, Any], internal_prepared):
    """Internal segments (I1, I2...), k chosen as the preset says."""
    return _segments(store_inputs, internal_prepared, "internal")


@dg.asset(group_name="store", code_version=CODE_VERSION)
def external_prepared(store_inputs: dict[str, Any]):
    """The market around each store, prepared for clustering."""
    return _prepared(store_inputs, "external")


@dg.asset(group_name="store", code_version=CODE_VERSION)
def external_segments(store_inputs: dict[str, Any], external_prepared):
    """External segments (E1, E2...)."""
    return _segments(store_inputs, external_prepared, "external")


@dg.asset(group_name="store", code_version=CODE_VERSION)
def merged_segments(
    store_inputs: dict[str, Any], internal_prepared, internal_segments, external_prepared, external_segments
) -> Combined:
    """Internal x external segments, small ones absorbed, the analyst's overrides applied."""
    return combine_segments(
        {"internal": internal_segments, "external": external_segments},
        {"internal": internal_prepared, "external": external_prepared},
        store_inputs["config"],
    )


@dg.asset(group_name="store", code_version=CODE_VERSION)
def segment_profiles(store_inputs: dict[str, Any], merged_segments: Combined):
    """Profiles, feature tests, surrogate rules and names of the final segments."""
    return explain_segments(
        merged_segments.assignments["final_cluster"], store_inputs["tables"], store_inputs["config"]
    )


@dg.asset(group_name="store", code_version=CODE_VERSION)
def final_segments(merged_segments: Combined, segment_profiles) -> dg.Output[pd.DataFrame]:
    """One row per store: its segments and its final segment's name."""
    named = with_segment_names(merged_segments.assignments, segment_profiles.names).reset_index()
    return dg.Output(
        named, metadata={"stores": len(named), "segments": int(named["final_cluster"].nunique())}
    )


@dg.asset(group_name="dfu", code_version=CODE_VERSION)
def dfu_features(dfu_settings: PipelineSettings) -> dict[str, Any]:
    """One row per DFU: demand features from monthly sales, attributes joined (on Spark: by
    Spark, written as Parquet)."""
    config = dfu_settings.config()
    if dfu_settings.on_spark():
        from clustering.orchestration.spark_steps import spark_features

        return spark_features(dfu_settings, config)
    checked, findings = check_sheets(config, dfu_settings.sheets(config))
    return {"config": config, "tables": checked, "findings": findings}


@dg.asset_check(asset=dfu_features, description="Validation findings of the DFU features")
def dfu_features_findings(dfu_features: dict[str, Any]) -> dg.AssetCheckResult:
    return _findings_check(dfu_features["findings"])


@dg.asset(group_name="dfu", code_version=CODE_VERSION)
def dfu_segments(dfu_settings: PipelineSettings, dfu_features: dict[str, Any]) -> dg.Output[dict[str, Any]]:
    """DFU segments (D1, D2...) with the stability of each (on Spark: fitted on a sample)."""
    if dfu_features.get("engine") == "spark":
        from clustering.orchestration.spark_steps import spark_segments

        return spark_segments(dfu_settings, dfu_features)
    config = dfu_features["config"]
    prepared = {n: _prepared(dfu_features, n) for n in config.datasets}
    clustered = {n: _segments(dfu_features, prepared[n], n) for n in config.datasets}
    combined = combine_segments(clustered, prepared, config)
    return dg.Output(
        {"combined": combined, "stability": check_stability(prepared, clustered, config)},
        metadata={
            "dfus": len(combined.assignments),
            "segments": int(combined.assignments["final_cluster"].nunique()),
        },
    )


@dg.asset(group_name="dfu", code_version=CODE_VERSION)
def dfu_labels(
    dfu_settings: PipelineSettings, dfu_features: dict[str, Any], dfu_segments: dict[str, Any]
) -> dg.Output[pd.DataFrame]:
    """Each DFU's segment and business label (high_volume_steady, seasonal_high_volume...); on
    Spark, written as Parquet by Spark, and this asset is the summary per segment."""
    if dfu_segments.get("engine") == "spark":
        from clustering.orchestration.spark_steps import spark_labels

        return spark_labels(dfu_settings, dfu_features, dfu_segments)
    combined = dfu_segments["combined"]
    explanation = explain_segments(
        combined.assignments["final_cluster"], dfu_features["tables"], dfu_features["config"]
    )
    named = with_segment_names(combined.assignments, explanation.names).reset_index()
    labels = named["segment_name"].value_counts()
    return dg.Output(
        named, metadata={"dfus": len(named), "labels": dg.MetadataValue.md(labels.to_markdown())}
    )


@dg.asset(group_name="dfu", code_version=CODE_VERSION)
def dfu_write_back(
    dfu_settings: PipelineSettings, dfu_features: dict[str, Any], dfu_labels: pd.DataFrame
) -> dg.Output[str | None]:
    """The labels written to the warehouse (``dim_dfu.cluster_assignment``), in one transaction,
    with history; skipped when the DFUs did not come from a database, and on Spark (where the
    labels are a Parquet table for the warehouse to read)."""
    if dfu_features.get("engine") == "spark":
        from clustering.orchestration.spark_steps import spark_write_back

        return spark_write_back(dfu_settings)
    if not dfu_settings.database:
        return dg.Output(None, metadata={"written": False, "reason": "no database configured"})
    from clustering.io.database import connect
    from clustering.io.hosting import system_user
    from clustering.io.writeback import Provenance, write_back

    config = dfu_features["config"]
    report = write_back(
        connect(dfu_settings.database),
        dfu_labels,
        config.database.write_back,
        config.id_column,
        provenance=Provenance(written_by=system_user()),
    )
    return dg.Output(
        report.write_back_id,
        metadata={
            "written": True,
            "rows": report.rows,
            "write_back_id": report.write_back_id,
            "uncovered": report.uncovered,
            "summary": dg.MetadataValue.md("\n\n".join(report.lines())),
        },
    )


STORE_ASSETS = [
    store_inputs,
    internal_prepared,
    internal_segments,
    external_prepared,
    external_segments,
    merged_segments,
    final_segments,
    segment_profiles,
]


DFU_ASSETS = [dfu_features, dfu_segments, dfu_labels, dfu_write_back]


CHECKS = [store_inputs_findings, dfu_features_findings]
