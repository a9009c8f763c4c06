"""The DFU assets on the Spark engine: features by Spark (Parquet), a fit on a sample, every
DFU assigned by Spark into a Parquet table that a warehouse reads, the write-back saying where
the labels are; and the settings' refusals."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

dg = pytest.importorskip("dagster")
pytest.importorskip("pyspark")

from clustering.config import load_config  # noqa: E402
from clustering.demo import dfu_demo  # noqa: E402
from clustering.errors import UserInputError  # noqa: E402
from clustering.io.inputs import precomputed_key  # noqa: E402
from clustering.orchestration import SPARK_ASSETS, SPARK_CHECKS, RunSource, SparkEngine  # noqa: E402
from clustering.prep.features import demand_features  # noqa: E402

DFUS = 1400
SAMPLE = 1000


@pytest.fixture(scope="module")
def on_spark(spark, tmp_path_factory):
    """The DFU assets materialized once on Spark, on the demo's sales written as Parquet."""
    folder = tmp_path_factory.mktemp("dagster-spark")
    sales = dfu_demo(DFUS, 36, seed=11)["sales_monthly"]
    sales.to_parquet(folder / "sales.parquet", index=False)
    config = load_config("dfu")
    config.scale.sample_rows = SAMPLE
    config.stability.resamples = 3
    (folder / "dfu.yml").write_text(config.to_yaml())
    resources = {
        "dfu_source": RunSource(preset=str(folder / "dfu.yml")),
        "dfu_spark": SparkEngine(input=str(folder / "sales.parquet"), output=str(folder / "out")),
    }
    result = dg.materialize([*SPARK_ASSETS, *SPARK_CHECKS], resources=resources)
    _, short = demand_features({"sales_monthly": sales}, config.datasets["dfu"].features)
    return result, folder / "out", short


def test_the_dfu_assets_run_on_spark_and_fit_on_the_sample(on_spark):
    result, _, short = on_spark
    assert result.success and len(short) > 0  # the demo has DFUs with too short a history
    fitted = result.output_for_node("dfu_spark__segments")["fitted"]
    assert fitted.total == DFUS - len(short)
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and f"{len(short)} DFU(s) have fewer than" in check.metadata["findings"].value
    assert any(f"{len(short)} DFU(s) have fewer than" in f.text() for f in fitted.result.findings)
    assert len(fitted.result.assignments) == SAMPLE
    assert any(
        f.source == "sample" and f"{SAMPLE:,} of {fitted.total:,}" in f.text() for f in fitted.result.findings
    )
    metadata = result.asset_materializations_for_node("dfu_spark__segments")[0].metadata
    assert metadata["fitted_on"].value == SAMPLE and metadata["dfus"].value == fitted.total


def test_every_dfu_is_assigned_by_spark_as_the_fitted_model_assigns_it_in_memory(on_spark):
    result, out, short = on_spark
    assigned = pd.read_parquet(out / "assignments").set_index("dfu_id").sort_index()
    assert len(assigned) == DFUS - len(short) and assigned.index.is_unique
    assert not assigned.index.isin(short).any()
    fitted = result.output_for_node("dfu_spark__segments")["fitted"]
    features = pd.read_parquet(out / "features").set_index("dfu_id")
    in_memory, _ = fitted.segmentation.assign({precomputed_key("dfu"): features})
    expected = in_memory.set_index("dfu_id").sort_index()
    assert (assigned["final_cluster"] == expected["final_cluster"].astype(str)).all()
    assert (assigned["segment_name"] == expected["segment_name"]).all()
    summary = result.output_for_node("dfu_spark__labels")
    assert summary["dfus"].sum() == len(assigned)
    profile = features.join(assigned["final_cluster"]).groupby("final_cluster").mean(numeric_only=True)
    profiled = summary.set_index("final_cluster")[list(profile.columns)]  # every feature's mean, by Spark
    assert ((profiled - profile.loc[profiled.index]).abs() < 1e-9 * (1 + profile.abs())).all().all()
    assert (
        summary.set_index("final_cluster")["dfus"].to_dict()
        == assigned["final_cluster"].value_counts().to_dict()
    )


def test_the_labels_are_a_parquet_table_the_warehouse_reads(on_spark):
    result, out, short = on_spark
    warehouse = duckdb.connect()
    rows, dfus, segments = warehouse.execute(
        "SELECT count(*), count(DISTINCT dfu_id), count(DISTINCT segment_name) "
        f"FROM read_parquet('{out / 'assignments'}/*.parquet')"
    ).fetchone()
    assert (rows, dfus) == (DFUS - len(short), DFUS - len(short))
    assert segments == len(result.output_for_node("dfu_spark__labels"))
    write_back = result.asset_materializations_for_node("dfu_spark__written")[0].metadata
    assert write_back["written"].value is False
    assert write_back["assignments"].value == str(out / "assignments")


def test_the_spark_engine_without_its_parquet_input_or_output_folder_is_refused():
    with pytest.raises(UserInputError, match="reads the monthly sales from 'input'"):
        SparkEngine(input="sales.parquet").check()
    with pytest.raises(UserInputError, match="writes to the folder 'output'"):
        SparkEngine(output="out").check()
    SparkEngine(input="sales.parquet", output="out").check()
