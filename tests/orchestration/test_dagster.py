"""Dagster's assets are the declared stages: one per stage and dataset with the declaration's
dependencies and code versions; materialized in-process on demo data they give the CLI's
labels and write the DFU labels back; a stage whose code changed is an asset Dagster sees
as changed."""

from __future__ import annotations

import pandas as pd
import pytest

dg = pytest.importorskip("dagster")

from dagster._core.definitions.data_version import StaleCauseCategory, StaleStatus  # noqa: E402
from dagster._utils.test.data_versions import get_stale_status_resolver  # noqa: E402

from clustering.cli import main  # noqa: E402
from clustering.config import load_config  # noqa: E402
from clustering.io.database import connect  # noqa: E402
from clustering.io.dbwrite import demo_warehouse  # noqa: E402
from clustering.orchestration import (  # noqa: E402
    CHECKS,
    DFU_ASSETS,
    STORE_ASSETS,
    RunSource,
    asset_key,
    defs,
    preset_assets,
)
from clustering.pipeline.stages import STAGES, check, nodes, stage, upstream  # noqa: E402


@pytest.mark.parametrize("preset", ["store", "dfu"])
def test_each_stage_and_dataset_is_an_asset_with_the_declared_dependencies(preset):
    graph = defs.resolve_asset_graph()
    config = load_config(preset)
    for node in nodes(config):
        key = asset_key(preset, node)
        reads = {asset_key(preset, n) for n in upstream(node, config)}
        if "sheets" in stage(node[0]).reads:
            reads.add(dg.AssetKey([preset, "sheets"]))
        assert graph.get(key).parent_keys == reads, key
        assert graph.get(key).code_version == stage(node[0]).code_version
    declared = {asset_key(preset, n) for n in nodes(config)} | {dg.AssetKey([preset, "sheets"])}
    assert {k for k in graph.get_all_asset_keys() if k.path[0] == preset} == declared
    assert {n for s in STAGES if s.per_dataset for n in config.datasets} <= {
        k.path[1].rsplit("_", 1)[0] for k in declared if k.path[1].endswith("_prepared")
    }


def test_store_assets_give_the_cli_labels(tmp_path, demo_workbook):
    result = dg.materialize(
        [*STORE_ASSETS, *CHECKS[:1]],
        resources={"store_source": RunSource(preset="store", input=str(demo_workbook))},
    )
    assert result.success
    final = result.output_for_node("store__result").assignments.set_index("store_id")
    assert (
        main(["run", "--input", str(demo_workbook), "--output", str(tmp_path / "cli.csv"), "--no-track"]) == 0
    )
    cli = pd.read_csv(tmp_path / "cli.csv", dtype={"store_id": str}).set_index("store_id")
    for column in ("final_cluster", "segment_name"):
        pd.testing.assert_series_equal(final[column], cli[column].reindex(final.index), check_dtype=False)
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "findings" and not evaluation.passed  # stores in one dataset only
    assert "are in internal but not in external" in evaluation.metadata["findings"].value
    written = result.asset_materializations_for_node("store__written")[0].metadata
    assert written["written"].value is False and written["reason"].value == "no database configured"


def test_dfu_assets_write_the_labels_back(tmp_path):
    from clustering.demo import dfu_demo

    url = f"sqlite:///{tmp_path / 'w.db'}"
    demo_warehouse(connect(url, create=True), "dfu", dfu_demo(800, 36, 3))
    result = dg.materialize(
        [*DFU_ASSETS, *CHECKS[1:]], resources={"dfu_source": RunSource(preset="dfu", database=url)}
    )
    assert result.success
    merged = result.output_for_node("dfu__merged").assignments["final_cluster"]
    names = result.output_for_node("dfu__named").names.set_index("segment")["label"]
    expected = merged.map(names)
    assert expected.str.contains("_volume").all()
    written = pd.read_sql("SELECT dfu_id, cluster_assignment FROM dim_dfu", connect(url)).set_index("dfu_id")
    assert (written["cluster_assignment"].reindex(expected.index) == expected).all()
    metadata = result.asset_materializations_for_node("dfu__written")[0].metadata
    assert metadata["written"].value is True and metadata["rows"].value == len(
        written
    )  # short histories: uncovered


def check_changed(config, sheets):
    """The inputs' check with its code changed (a new line of source)."""
    checked = check(config, sheets)
    return checked


def test_dagster_sees_an_asset_as_changed_when_its_stages_code_changes():
    instance = dg.DagsterInstance.ephemeral()
    assets, _ = preset_assets("store")
    inputs = [dg.AssetKey(["store", "sheets"]), asset_key("store", ("checked", None))]
    resources = {"store_source": RunSource(preset="store", demo_size=300)}
    assert dg.materialize(assets, instance=instance, resources=resources, selection=inputs).success

    def status(stages):
        resolver = get_stale_status_resolver(instance, preset_assets("store", stages)[0])
        return resolver.get_status(inputs[1]), resolver.get_stale_causes(inputs[1])

    assert status(STAGES) == (StaleStatus.FRESH, [])
    changed = tuple(
        s if s.name != "checked" else s.__class__(**{**vars(s), "function": check_changed}) for s in STAGES
    )
    assert stage("checked", changed).code_version != stage("checked").code_version
    state, causes = status(changed)
    assert state == StaleStatus.STALE and [c.category for c in causes] == [StaleCauseCategory.CODE]


def test_steps_run_in_process():
    assert defs.resolve_job_def("__ASSET_JOB").executor_def.name == "in_process"
