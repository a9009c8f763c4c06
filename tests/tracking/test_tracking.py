"""Runs tracked in a temporary SQLite store: params, metrics, tags and artifacts are there and
MLflow's own search finds them; the saved model assigns without the training data; two runs
compare; approval is one run per name; overrides round-trip and are tracked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from clustering import tracking
from clustering.config import config_from_yaml
from clustering.explain.compare import compare_assignments
from clustering.io.export import write_result
from clustering.pipeline import run
from tests.profiles import quick_preset

mlflow = pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def quick_config():
    return quick_preset("store")  # tests/profiles.py: what is logged, not how k is chosen


@pytest.fixture(scope="module")
def first_run(quick_config, demo_sheets):
    return run(quick_config, demo_sheets)


def test_a_run_is_logged_with_params_metrics_tags_and_artifacts(store, first_run, demo_sheets):
    tracked = tracking.log_run(first_run, demo_sheets, {"internal": "demo.xlsx"}, front_end="cli")
    found = mlflow.search_runs(experiment_names=["store segmentation"])
    assert list(found["run_id"]) == [tracked.run_id]
    row = found.iloc[0]
    assert row["params.datasets.internal.cluster.k_max"] == "6"  # the quick profile's
    assert row["params.merge.min_segment_size"] == "2%"
    assert row["metrics.internal.k"] == first_run.clustered["internal"].k
    assert row["metrics.final.segments"] == first_run.assignments["final_cluster"].nunique()
    assert 0 < row["metrics.merged.silhouette"] < 1
    assert row["metrics.internal.clusterability_clear"] == 1.0
    assert "metrics.internal.stability_jaccard_mean" in found
    assert row["tags.status"] == "completed" and row["tags.approved"] == "false"
    assert len(row["tags.data_fingerprint"]) == 20 and "demo.xlsx" in row["tags.sources"]
    client = mlflow.MlflowClient(store)
    artifacts = {a.path for a in client.list_artifacts(tracked.run_id)}
    assert {"config.yml", "results.xlsx", "assignments.parquet"} <= artifacts
    config = tracking.load_config_of(store, tracked.run_id)
    assert config == first_run.config


def test_a_workbook_already_written_is_logged_without_writing_it_again(
    store, first_run, demo_sheets, tmp_path, monkeypatch
):
    written = tmp_path / "my results.xlsx"
    write_result(first_run, written)

    def second_write(*args, **kwargs):
        raise AssertionError("the workbook was written a second time")

    monkeypatch.setattr(tracking.log, "write_workbook", second_write)
    tracked = tracking.log_run(first_run, demo_sheets, workbook=written)
    logged = mlflow.artifacts.download_artifacts(
        run_id=tracked.run_id, artifact_path="results.xlsx", dst_path=str(tmp_path / "logged")
    )
    assert Path(logged).read_bytes() == written.read_bytes()


def test_the_saved_model_reproduces_the_training_labels_and_flags_a_far_store(store, first_run, demo_sheets):
    tracked = tracking.log_run(first_run, demo_sheets)
    segmentation = tracking.load_segmentation(store, tracked.run_id)
    again, _ = segmentation.assign(demo_sheets)
    expected = first_run.assignments.set_index("store_id")[["final_cluster", "segment_name"]]
    got = again.set_index("store_id").loc[expected.index, ["final_cluster", "segment_name"]]
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert again["far_from_segments"].mean() <= 0.011  # the 99th percentile of training distances

    far = {name: frame.head(1).copy() for name, frame in demo_sheets.items() if name != "truth"}
    for frame in far.values():
        frame["store_id"] = "NEW-1"
        for column in frame.select_dtypes("number").columns:
            frame[column] = frame[column] * 50
    assigned, _ = segmentation.assign(far)
    assert assigned["store_id"].tolist() == ["NEW-1"]
    assert bool(assigned["far_from_segments"].iloc[0])
    assert assigned["segment_name"].notna().all()


def test_pyfunc_predict_assigns_a_wide_frame(store, first_run, demo_sheets):
    tracked = tracking.log_run(first_run, demo_sheets)
    model = mlflow.pyfunc.load_model(f"runs:/{tracked.run_id}/model")
    wide = demo_sheets["internal"].merge(demo_sheets["external"], on="store_id", how="outer")
    predicted = model.predict(wide)
    expected = first_run.assignments.set_index("store_id")["final_cluster"]
    assert (predicted.set_index("store_id")["final_cluster"].reindex(expected.index) == expected).all()


def test_two_seeds_compare_with_the_right_ari(quick_config, demo_sheets, first_run):
    other = quick_config.model_copy(deep=True)
    other.random_state = 7
    second = run(other, demo_sheets)
    comparison = compare_assignments(first_run.assignments, second.assignments, "store_id", ("A", "B"))
    expected = adjusted_rand_score(
        first_run.assignments["final_cluster"], second.assignments["final_cluster"]
    )
    assert comparison.ari == pytest.approx(expected)
    summary = comparison.summary.set_index("measure")["value"]
    assert summary["entities in both runs"] == len(demo_sheets["truth"])
    assert summary["entities that moved"] == len(comparison.moved)
    assert comparison.transitions.to_numpy().sum() == len(demo_sheets["truth"])


def test_sizes_side_by_side_keep_each_runs_codes_and_names_apart(quick_config, demo_sheets, first_run):
    other = run(quick_config.model_copy(update={"random_state": 99}), demo_sheets)
    comparison = compare_assignments(
        first_run.assignments, other.assignments, "store_id", ("A", "B"), None, "stores"
    )
    sizes = comparison.sizes
    codes_a, codes_b = set(first_run.assignments["final_cluster"]), set(other.assignments["final_cluster"])
    assert set(sizes["segment A"].dropna()) == codes_a and set(sizes["segment B"].dropna()) == codes_b
    assert sizes["size A"].sum() == sizes["size B"].sum() == len(demo_sheets["truth"])
    names = first_run.assignments.groupby("final_cluster")["segment_name"].first()
    paired = sizes.dropna(subset=["segment A"])
    assert (paired["name A"] == paired["segment A"].map(names)).all()
    assert "stores in both runs" in set(comparison.summary["measure"])


def test_compare_a_run_with_itself_moves_nothing(first_run):
    comparison = compare_assignments(first_run.assignments, first_run.assignments, "store_id")
    assert comparison.ari == pytest.approx(1.0) and comparison.moved.empty


def test_one_approved_run_per_name(store, first_run, demo_sheets):
    a = tracking.log_run(first_run, demo_sheets, user="ana@example.com").run_id
    b = tracking.log_run(first_run, demo_sheets).run_id
    assert tracking.approve(store, a, "lead@example.com") == "store segmentation"
    assert tracking.is_approved(store, a)
    tracking.approve(store, b)
    assert tracking.is_approved(store, b) and not tracking.is_approved(store, a)
    listed = tracking.list_runs(store).set_index("run_id")
    assert listed.loc[b, "approved"] and not listed.loc[a, "approved"]
    # each run named by what it is: name, segments of how many stores, who, when
    segments = first_run.assignments["final_cluster"].nunique()
    rows = len(first_run.assignments)
    assert listed.loc[a, "run"].startswith(
        f"store segmentation · {segments} segments of {rows:,} stores · ana@example.com · "
    )
    assert listed.loc[b, "run"].endswith(" · approved")
    assert listed.loc[a, "user"] == "ana@example.com"  # who ran it
    assert listed.loc[b, "user"] == tracking.system_user()  # the CLI's operating-system user
    assert listed.loc[b, "approved_by"] == tracking.system_user()
    assert pd.isna(listed.loc[a, "approved_by"])  # no longer approved: no approver shown


def test_an_unknown_run_is_a_user_error(store):
    from clustering.errors import UserInputError

    with pytest.raises(UserInputError, match="There is no tracked run 'nope'"):
        tracking.load_assignments(store, "nope")


def test_overrides_round_trip_through_yaml_apply_on_rerun_and_are_tracked(
    store, quick_config, demo_sheets, first_run
):
    final = first_run.assignments.set_index("store_id")["final_cluster"]
    moved = final.index[:3].tolist()
    target = sorted(set(final) - set(final[moved]))[0]
    config = quick_config.model_copy(deep=True)
    gone = final.index[10]
    config.overrides = {**{store_id: target for store_id in moved}, "NOPE": target, gone: "I9-E9"}
    reloaded = config_from_yaml(config.to_yaml())
    assert reloaded.overrides == config.overrides
    result = run(reloaded, demo_sheets)
    assignments = result.assignments.set_index("store_id")
    assert (assignments.loc[moved, "final_cluster"] == target).all()
    assert assignments["override"].sum() == 3 and assignments.loc[moved, "override"].all()
    messages = " ".join(f.message for f in result.findings if f.source == "overrides")
    assert "name IDs that are not in the data" in messages and "NOPE" in messages
    assert f"{gone} → I9-E9" in messages and "segments this run does not have" in messages
    assert assignments.loc[gone, "final_cluster"] == final[gone] and not assignments.loc[gone, "override"]
    size = result.profiles.drop_duplicates("segment").set_index("segment")["size"]
    assert size[target] == (assignments["final_cluster"] == target).sum()  # profiles recomputed
    assert "final (with overrides)" in set(result.metrics["scope"])
    tracked = tracking.log_run(result, demo_sheets)
    found = mlflow.search_runs(experiment_names=["store segmentation"]).set_index("run_id")
    assert found.loc[tracked.run_id, "metrics.overrides"] == 3
    silhouette = [c for c in found.columns if "overrides" in c and c.endswith(".silhouette")]
    assert silhouette and np.isfinite(found.loc[tracked.run_id, silhouette[0]])


def test_asking_whether_mlflow_is_installed_does_not_import_it():
    """Pages ask on every visit; importing MLflow to answer would cost them a second."""
    asked = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from clustering import tracking; "
            "print(tracking.available(), 'mlflow' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert asked.stdout.split() == ["True", "False"]


def test_mlflow_blocked_or_missing_is_not_available(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    assert tracking.available() is False
    monkeypatch.delitem(sys.modules, "mlflow")
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    assert tracking.available() is False


def test_a_process_of_its_own_prepares_then_logs_the_run_it_is_sent(store, first_run, demo_sheets, tmp_path):
    worker = tracking.TrackingProcess(store)
    record = tracking.run_record(first_run, demo_sheets, tmp_path, {"internal": "demo.xlsx"}, "cli")
    tracked = worker.log(record)
    assert worker.process.returncode == 0
    mlflow.set_tracking_uri(store)  # this process never opened the store: the other one logged
    found = mlflow.search_runs(experiment_names=["store segmentation"])
    assert list(found["run_id"]) == [tracked.run_id] and tracked.uri == store
    assert found.iloc[0]["tags.front_end"] == "cli" and "demo.xlsx" in found.iloc[0]["tags.sources"]
    assert found.iloc[0]["metrics.final.segments"] == first_run.assignments["final_cluster"].nunique()
    saved = tracking.load_segmentation(store, tracked.run_id)
    assigned, _ = saved.assign(demo_sheets)
    expected = first_run.assignments.set_index("store_id")["final_cluster"]
    assert (assigned.set_index("store_id")["final_cluster"] == expected.reindex(assigned["store_id"])).all()


def test_a_tracking_process_that_cannot_log_says_why(first_run, demo_sheets, tmp_path):
    unusable = f"sqlite:///{tmp_path / 'a file, not a folder' / 'mlruns.db'}"
    (tmp_path / "a file, not a folder").write_text("")
    record = tracking.run_record(first_run, demo_sheets, tmp_path, {}, "cli")
    record.uri = unusable
    with pytest.raises(tracking.TrackingFailed, match=r"FileExistsError: .*a file, not a folder"):
        tracking.TrackingProcess(unusable).log(record)


def test_a_tracking_process_with_no_run_to_log_ends(store):
    worker = tracking.TrackingProcess(store)
    worker.cancel()
    assert worker.process.returncode is not None
    quiet = tracking.TrackingProcess(store)
    out, _ = quiet.process.communicate(b"", timeout=120)  # its input closed: nothing came
    assert quiet.process.returncode == 0 and out == b""


def test_preparing_a_store_loads_mlflow_and_opens_the_store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; from clustering import tracking; tracking.store.prepare({uri!r}); "
            "print(all(module in sys.modules for module in tracking.store.PRELOADED))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.split() == ["True"]
    assert (tmp_path / "fresh.db").stat().st_size > 0  # created, with MLflow's tables


def test_metric_names_keep_words_not_punctuation():
    from clustering.tracking.log import _metric_name

    assert _metric_name("final (with overrides).silhouette") == "final_with_overrides.silhouette"
    assert _metric_name("internal.davies_bouldin") == "internal.davies_bouldin"


def test_attribute_weights_are_recorded_with_the_tracked_run(store, quick_config, demo_sheets):
    weighted = quick_config.model_copy(deep=True)
    weighted.stability.enabled = False
    weighted.datasets["internal"].preprocess.weights = {"revenue": 2.0, "format": 0.5}
    tracked = tracking.log_run(run(weighted, demo_sheets), demo_sheets)
    params = mlflow.get_run(tracked.run_id).data.params
    assert params["datasets.internal.preprocess.weights.revenue"] == "2.0"
    config = tracking.load_config_of(store, tracked.run_id)
    assert config.datasets["internal"].preprocess.weights == {"revenue": 2.0, "format": 0.5}
    segmentation = tracking.load_segmentation(store, tracked.run_id)
    assigned, _ = segmentation.assign({k: v for k, v in demo_sheets.items() if k != "truth"})
    assert set(assigned["entity_status"]) == {"trained"}  # the weighted space reproduces itself


def test_a_nested_run_is_tracked_and_its_saved_model_assigns_within_groups(store, quick_config, demo_sheets):
    nested = quick_config.model_copy(deep=True)
    nested.stability.enabled = False
    nested.datasets["internal"].group_by = "format"
    result = run(nested, demo_sheets)
    tracked = tracking.log_run(result, demo_sheets)
    params = mlflow.get_run(tracked.run_id).data.params
    assert params["datasets.internal.group_by"] == "format"
    assert tracking.load_config_of(store, tracked.run_id).datasets["internal"].group_by == "format"
    segmentation = tracking.load_segmentation(store, tracked.run_id)
    assigned, _ = segmentation.assign({k: v for k, v in demo_sheets.items() if k != "truth"})
    expected = result.assignments.set_index("store_id")["final_cluster"]
    got = assigned.set_index("store_id").loc[expected.index, "final_cluster"]
    assert got.tolist() == expected.tolist()


def test_a_tracked_run_keeps_no_password(store, first_run, demo_sheets):
    config = first_run.config.model_copy(deep=True)
    config.database.queries = {
        "internal": "SELECT * FROM t -- from postgresql://analyst:s3cret@warehouse/retail"
    }
    result = first_run.__class__(**{**first_run.__dict__, "config": config})
    sources = {"internal": "postgresql+psycopg://analyst:s3cret@warehouse/retail › store_internal"}
    tracked = tracking.log_run(result, demo_sheets, sources)
    logged = mlflow.get_run(tracked.run_id).data
    everything = str(logged.params) + str(logged.tags)
    assert "s3cret" not in everything and "analyst:***@warehouse" in everything
