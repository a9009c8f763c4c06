"""Dagster's assets, built from the declared stages (``pipeline.stages``): for each preset, one
asset per stage and dataset, whatever the datasets are called (``store/internal_prepared``,
``store/merged``, ``dfu/dfu_clustered``...), each reading the assets of the stages it reads,
with the stage's ``code_version`` (a hash of its source: Dagster marks an asset changed when
its stage's code changes). The preset's input tables are the asset ``<preset>/sheets``; the
findings of the checked inputs are an asset check.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from clustering.config import RunConfig, load_config
from clustering.formats import first_upper
from clustering.io.validation import Finding
from clustering.orchestration.resources import RunSource
from clustering.pipeline.stages import Node, Stage, call, declaration, nodes, source_version, stage, upstream
from clustering.results import Combined, RunResult


def asset_key(preset: str, node: Node) -> dg.AssetKey:
    """``<preset>/<stage>`` for a run-level stage, ``<preset>/<dataset>_<stage>`` per dataset."""
    name, dataset = node
    return dg.AssetKey([preset, name if dataset is None else f"{dataset}_{name}"])


def source_key(preset: str) -> str:
    """The resource a preset's assets read their data from (a ``RunSource``)."""
    return f"{preset}_source"


def preset_assets(
    preset: str, stages: tuple[Stage, ...] | None = None
) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    """A preset's assets, one per (stage, dataset) of the declaration, and its findings check."""
    stages = declaration(stages)
    config = load_config(preset)
    assets = [_sheets_asset(preset)]
    assets += [_stage_asset(preset, config, node, stages) for node in nodes(config, stages)]
    return assets, [_findings_check(preset)]


def _sheets_asset(preset: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey([preset, "sheets"]),
        group_name=preset,
        required_resource_keys={source_key(preset)},
        code_version=source_version(RunSource.sheets),
        description="The input tables by sheet: the input file or folder, the database, or the demo.",
    )
    def sheets(context) -> Any:
        source: RunSource = getattr(context.resources, source_key(preset))
        return source.sheets(source.config())

    return sheets


def _stage_asset(
    preset: str, config: RunConfig, node: Node, stages: tuple[Stage, ...]
) -> dg.AssetsDefinition:
    """One stage of one dataset of the preset's ``config`` as an asset: its inputs the assets
    of what it reads."""
    declared = stage(node[0], stages)
    reads = upstream(node, config, stages)
    ins = {_argument(n): dg.AssetIn(key=asset_key(preset, n)) for n in reads}
    if "sheets" in declared.reads:
        ins["sheets"] = dg.AssetIn(key=dg.AssetKey([preset, "sheets"]))

    @dg.asset(
        key=asset_key(preset, node),
        ins=ins,
        group_name=preset,
        required_resource_keys={source_key(preset)},
        code_version=declared.code_version,
        description=first_upper(declared.summary) + ".",
    )
    def compute(context, **values: Any) -> dg.Output[Any]:
        source: RunSource = getattr(context.resources, source_key(preset))
        run_config = source.config()
        if set(run_config.datasets) != set(config.datasets):
            raise dg.Failure(
                f"{source.preset} has the datasets {', '.join(run_config.datasets)}; the assets of "
                f"'{preset}' were built for {', '.join(config.datasets)}."
            )
        inputs = {"sheets": values.pop("sheets", None), "previous": None, "destination": None}
        if "destination" in declared.reads:
            inputs["destination"] = source.destination()
        by_node = {n: values[_argument(n)] for n in reads}
        value = call(declared, run_config, node[1], by_node, inputs)
        return dg.Output(value, metadata=_metadata(value))

    return compute


def _argument(node: Node) -> str:
    return node[0] if node[1] is None else f"{node[0]}__{node[1]}"


def _metadata(value: Any) -> dict[str, Any]:
    """What Dagster shows of a stage's value: counts, and a write-back's summary."""
    if isinstance(value, RunResult | Combined):
        final = value.assignments["final_cluster"]
        return {"entities": len(final), "segments": int(final.nunique())}
    if value is None:
        return {"written": False, "reason": "no database configured"}
    if hasattr(value, "write_back_id"):
        return {
            "written": True,
            "rows": value.rows,
            "write_back_id": value.write_back_id,
            "uncovered": value.uncovered,
            "summary": dg.MetadataValue.md("\n\n".join(value.lines())),
        }
    return {}


def _findings_check(preset: str) -> dg.AssetChecksDefinition:
    """The validation findings of a preset's checked inputs: errors stop the asset itself;
    warnings are a failed check of severity WARN, the findings as metadata."""

    @dg.asset_check(
        asset=asset_key(preset, ("checked", None)),
        name="findings",
        description=f"Validation findings of the {preset} inputs",
    )
    def findings(checked: Any) -> dg.AssetCheckResult:
        return findings_result(checked[1])

    return findings


def findings_result(findings: list[Finding]) -> dg.AssetCheckResult:
    """A check's result from validation findings (passed: no warning)."""
    warnings = [f.text() for f in findings if f.level != "info"]
    return dg.AssetCheckResult(
        passed=not warnings,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"warnings": len(warnings), "findings": "\n".join(f.text() for f in findings) or "none"},
    )


STORE_ASSETS, STORE_CHECKS = preset_assets("store")
DFU_ASSETS, DFU_CHECKS = preset_assets("dfu")
CHECKS = [*STORE_CHECKS, *DFU_CHECKS]
