"""Every Dagster asset materialized in-process on demo data; the final labels equal the CLI's."""

from __future__ import annotations

import pandas as pd
import pytest

dg = pytest.importorskip("dagster")

from clustering.cli import main  # noqa: E402
from clustering.io.database import connect, demo_warehouse  # noqa: E402
from clustering.orchestration import (  # noqa: E402
    CHECKS,
    DFU_ASSETS,
    STORE_ASSETS,
    PipelineSettings,
    defs,
)


def test_the_definitions_load_with_every_asset_and_check():
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {
        "store_inputs", "internal_prepared", "internal_segments", "external_prepared", "external_segments",
        "merged_segments", "final_segments", "segment_profiles",
        "dfu_features", "dfu_segments", "dfu_labels", "dfu_write_back",
    }  # fmt: skip
    assert all(a.code_versions_by_key for a in STORE_ASSETS + DFU_ASSETS)


def test_store_assets_give_the_cli_labels(tmp_path, demo_workbook, capsys):
    result = dg.materialize(
        [*STORE_ASSETS, *CHECKS[:1]],
        resources={"store_settings": PipelineSettings(preset="store", input=str(demo_workbook))},
    )
    assert result.success
    final = result.output_for_node("final_segments").set_index("store_id")
    assert (
        main(["run", "--input", str(demo_workbook), "--output", str(tmp_path / "cli.csv"), "--no-track"]) == 0
    )
    cli = pd.read_csv(tmp_path / "cli.csv", dtype={"store_id": str}).set_index("store_id")
    pd.testing.assert_series_equal(
        final["final_cluster"], cli["final_cluster"].reindex(final.index), check_dtype=False
    )
    pd.testing.assert_series_equal(
        final["segment_name"], cli["segment_name"].reindex(final.index), check_dtype=False
    )
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "store_inputs_findings" and not check.passed  # stores in one dataset only
    assert "are in internal but not in external" in check.metadata["findings"].value


def test_dfu_assets_write_the_labels_back(tmp_path):
    from clustering.demo import dfu_demo

    url = f"sqlite:///{tmp_path / 'w.db'}"
    demo_warehouse(connect(url, create=True), "dfu", dfu_demo(800, 36, 3))
    result = dg.materialize(
        [*DFU_ASSETS, *CHECKS[1:]],
        resources={"dfu_settings": PipelineSettings(preset="dfu", database=url)},
    )
    assert result.success
    labels = result.output_for_node("dfu_labels")
    assert labels["segment_name"].str.contains("_volume").all()
    written = pd.read_sql("SELECT dfu_id, cluster_assignment FROM dim_dfu", connect(url)).set_index("dfu_id")
    expected = labels.set_index("dfu_id")["segment_name"]
    assert (written["cluster_assignment"].reindex(expected.index) == expected).all()


def test_steps_run_in_process():
    assert defs.resolve_job_def("__ASSET_JOB").executor_def.name == "in_process"
