"""Beyond one machine: the DFU features computed by Spark (mapInPandas over the push-down
rows), a fixed-seed (stratified) sample on the driver, the fit on it, and every DFU assigned
on the executors with exactly the labels the in-memory ``assign`` gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")

from clustering.config import load_config
from clustering.demo import dfu_demo
from clustering.io.inputs import precomputed_key
from clustering.prep.features import demand_features
from clustering.spark.scale import (
    _quotas,
    assign_frame,
    feature_frame,
    fit_sample,
    sample_frame,
    segment_summary,
)

DFUS = 400


@pytest.fixture(scope="module")
def sheets():
    return dfu_demo(DFUS, 36, seed=13)


@pytest.fixture(scope="module")
def config():
    config = load_config("dfu")
    config.stability.resamples = 3
    config.scale.sample_rows = 1_000
    return config


@pytest.fixture(scope="module")
def features(spark, sheets, config):
    spark.createDataFrame(sheets["sales_monthly"]).createOrReplaceTempView("sales_monthly_scale")
    return feature_frame(spark, "sales_monthly_scale", config.datasets["dfu"].features).cache()


def test_features_on_spark_equal_the_in_memory_features(features, sheets, config):
    got = features.toPandas().set_index("dfu_id").sort_index()
    options = config.datasets["dfu"].features.model_copy(update={"attributes": []})
    expected = demand_features({"sales_monthly": sheets["sales_monthly"]}, options)[0].set_index("dfu_id")
    expected = expected.sort_index()
    assert got.index.tolist() == expected.index.astype(str).tolist()
    difference = (got[expected.columns] - expected).abs() / np.maximum(1.0, expected.abs())
    assert float(difference.fillna(0.0).max().max()) < 1e-9
    assert (got[expected.columns].isna() == expected.isna()).all().all()


def test_the_sample_is_fixed_by_the_seed_whatever_the_partitioning(features):
    first = sample_frame(features, "dfu_id", 120, 7, [])
    again = sample_frame(features.repartition(5), "dfu_id", 120, 7, [])
    other = sample_frame(features, "dfu_id", 120, 8, [])
    assert len(first) == 120 and first["dfu_id"].is_unique
    assert set(first["dfu_id"]) == set(again["dfu_id"])
    assert set(first["dfu_id"]) != set(other["dfu_id"])


def test_a_stratified_sample_keeps_each_strata_share(features):
    from pyspark.sql import functions as F

    banded = features.withColumn("band", F.when(F.col("mean_demand") > 20, "high").otherwise("low"))
    sample = sample_frame(banded, "dfu_id", 100, 7, ["band"])
    population = banded.groupBy("band").count().toPandas().set_index("band")["count"]
    assert len(sample) == 100
    expected = _quotas(population.to_numpy(), 100)
    assert sample["band"].value_counts().reindex(population.index).tolist() == expected.tolist()


def test_quotas_add_up_and_never_exceed_a_stratum():
    quotas = _quotas(np.array([5, 50, 945]), 100)
    assert quotas.sum() == 100 and (quotas <= [5, 50, 945]).all() and quotas.tolist() == [1, 5, 94]
    assert _quotas(np.array([3, 4]), 100).tolist() == [3, 4]


def test_assigned_on_spark_exactly_as_in_memory_and_summarised_by_spark(features, config):
    total = features.count()
    sample = sample_frame(features, "dfu_id", 250, config.random_state, [])
    result, segmentation = fit_sample(sample, config, total)
    assert any(f.source == "sample" and f"250 of {total:,} DFUs" in f.message for f in result.findings)

    assigned = assign_frame(features, segmentation).toPandas().set_index("dfu_id").sort_index()
    everything = features.toPandas().set_index("dfu_id")
    expected, _ = segmentation.assign({precomputed_key("dfu"): everything})
    expected = expected.set_index("dfu_id").sort_index()
    assert len(assigned) == total
    assert assigned["final_cluster"].tolist() == expected["final_cluster"].astype(str).tolist()
    assert assigned["segment_name"].tolist() == expected["segment_name"].astype(str).tolist()
    np.testing.assert_allclose(assigned["distance_to_segment"], expected["distance_to_segment"])

    trained = result.assignments.set_index("dfu_id")["final_cluster"]
    assert assigned.loc[trained.index, "final_cluster"].tolist() == trained.astype(str).tolist()

    summary = segment_summary(assign_frame(features, segmentation), features, "dfu_id", ["mean_demand"])
    assert summary["dfus"].sum() == total
    means = everything.join(assigned["final_cluster"]).groupby("final_cluster")["mean_demand"].mean()
    np.testing.assert_allclose(
        summary.set_index("final_cluster")["mean_demand"], means.loc[summary["final_cluster"]]
    )


def spark_run_inputs(sheets, folder):
    """The demo's sales as Parquet and a quick DFU config file in ``folder``, for ``run --engine spark``."""
    sales = folder / "sales.parquet"
    sheets["sales_monthly"].to_parquet(sales)
    config = load_config("dfu")
    config.stability.resamples = 3
    config.scale.sample_rows = 1_000
    path = folder / "dfu.yml"
    path.write_text(config.to_yaml())
    return sales, path, config


def test_the_cli_runs_on_spark_from_parquet_to_a_folder(spark, sheets, tmp_path, capsys):
    from clustering.cli import main

    sales, path, _ = spark_run_inputs(sheets, tmp_path)
    output = tmp_path / "out"
    args = ["run", "--config", str(path), "--engine", "spark", "--input", str(sales), "--output", str(output)]
    assert main([*args, "--spark-master", "local[2]", "--no-track"]) == 0
    printed = capsys.readouterr()
    assigned = pd.read_parquet(output / "assignments")
    assert len(assigned) == assigned["dfu_id"].nunique() > 0
    assert f"{len(assigned):,} DFUs -> " in printed.out
    assert "Fitted on a fixed-seed sample" in printed.err
    sample = pd.read_excel(output / "sample_results.xlsx", sheet_name="assignments", engine="calamine")
    merged = assigned.set_index("dfu_id").loc[sample["dfu_id"].astype(str), "final_cluster"]
    assert merged.tolist() == sample["final_cluster"].astype(str).tolist()
    profiles = pd.read_csv(output / "segment_profiles.csv", dtype={"final_cluster": str})
    assert profiles["dfus"].sum() == len(assigned)
    options = load_config("dfu").datasets["dfu"].features.model_copy(update={"attributes": []})
    features = demand_features({"sales_monthly": sheets["sales_monthly"]}, options)[0]
    features["dfu_id"] = features["dfu_id"].astype(str)
    by_segment = features.merge(assigned, on="dfu_id").groupby("final_cluster")["seasonality_strength"].mean()
    np.testing.assert_allclose(
        profiles.set_index("final_cluster")["seasonality_strength"], by_segment.loc[profiles["final_cluster"]]
    )
    assert spark.range(1).count() == 1  # the caller's session is still up


def test_a_spark_run_is_tracked_with_how_it_was_sampled(spark, sheets, tmp_path, capsys, store):
    mlflow = pytest.importorskip("mlflow")
    from clustering import tracking
    from clustering.cli import main

    sales, path, config = spark_run_inputs(sheets, tmp_path)
    args = [
        "run",
        "--config",
        str(path),
        "--engine",
        "spark",
        "--input",
        str(sales),
        "--output",
        str(tmp_path / "out"),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "tracked as run" in printed
    run_id = printed.split("tracked as run ")[1].split()[0]
    params = mlflow.MlflowClient(store).get_run(run_id).data.params
    assert params["scale.sample_rows"] == "1000" and params["scale.strata"] == "[]"
    saved = tracking.load_segmentation(store, run_id)
    assigned = pd.read_parquet(tmp_path / "out" / "assignments").set_index("dfu_id")
    options = config.datasets["dfu"].features.model_copy(update={"attributes": []})
    features = demand_features({"sales_monthly": sheets["sales_monthly"]}, options)[0]
    features["dfu_id"] = features["dfu_id"].astype(str)
    again, _ = saved.assign({precomputed_key("dfu"): features.set_index("dfu_id")})
    expected = again.set_index("dfu_id")["final_cluster"].astype(str)
    assert (assigned["final_cluster"] == expected.reindex(assigned.index)).all()
