import numpy as np
import pandas as pd
import pytest

from clustering.config import MergeConfig
from clustering.merging import merge_segments, nearest_centroid


def planted(n_internal=(60, 60, 6), seed=0):
    """Internal labels I1..I3 (I3 small) and external E1..E2 on well-separated features."""
    rng = np.random.default_rng(seed)
    ids = [f"S{i:03d}" for i in range(sum(n_internal))]
    internal = np.repeat(["I1", "I2", "I3"], n_internal)
    external = np.where(np.arange(len(ids)) % 2 == 0, "E1", "E2")
    centers_i = {"I1": 0.0, "I2": 10.0, "I3": 9.0}
    centers_e = {"E1": 0.0, "E2": 10.0}
    xi = np.array([centers_i[label] for label in internal]) + rng.normal(0, 0.3, len(ids))
    xe = np.array([centers_e[label] for label in external]) + rng.normal(0, 0.3, len(ids))
    index = pd.Index(ids, name="store_id")
    labels = {"internal": pd.Series(internal, index=index), "external": pd.Series(external, index=index)}
    matrices = {
        "internal": pd.DataFrame({"x": xi}, index=index),
        "external": pd.DataFrame({"y": xe}, index=index),
    }
    return labels, matrices


def test_merged_label_is_the_pair_of_labels():
    labels, matrices = planted()
    result = merge_segments(labels, matrices, MergeConfig(min_segment_size=1))
    row = result.assignments.loc["S000"]
    assert row["merged_cluster"] == f"{row['internal_cluster']}-{row['external_cluster']}"
    assert (result.assignments["final_cluster"] == result.assignments["merged_cluster"]).all()
    assert result.log.empty


def test_matching_is_by_id_not_position():
    labels, matrices = planted()
    shuffled = {"internal": labels["internal"], "external": labels["external"].sample(frac=1, random_state=1)}
    mats = {"internal": matrices["internal"], "external": matrices["external"].sample(frac=1, random_state=2)}
    result = merge_segments(shuffled, mats, MergeConfig(min_segment_size=1))
    expected = labels["internal"] + "-" + labels["external"]
    pd.testing.assert_series_equal(
        result.assignments["merged_cluster"].astype(object), expected.astype(object), check_names=False
    )


def test_small_segments_join_the_nearest_large_segment():
    labels, matrices = planted()
    result = merge_segments(labels, matrices, MergeConfig(min_segment_size=10))
    moved = result.assignments[result.assignments["merged_cluster"].str.startswith("I3")]
    # I3 sits at x=9, next to I2 (x=10); the external part stays the store's own.
    assert (moved["final_cluster"] == "I2-" + moved["external_cluster"]).all()
    assert moved["reassigned"].all()
    sizes = result.assignments["final_cluster"].value_counts()
    assert sizes.min() >= 10


def test_merge_log_records_source_target_sizes_and_distance():
    labels, matrices = planted()
    result = merge_segments(labels, matrices, MergeConfig(min_segment_size=10))
    log = result.log.set_index(["source", "target"])
    entry = log.loc[("I3-E1", "I2-E1")]
    assert entry["moved"] == 3 and entry["source_size"] == 3 and entry["target_size"] == 30
    assert entry["mean_distance"] > 0
    assert "below the minimum size of 10" in entry["reason"]


def test_percentage_minimum_size():
    labels, matrices = planted()
    result = merge_segments(labels, matrices, MergeConfig(min_segment_size="5%"))
    assert result.min_size == 7
    assert result.assignments["final_cluster"].value_counts().min() >= 7


def test_before_after_metrics():
    labels, matrices = planted()
    metrics = merge_segments(labels, matrices, MergeConfig(min_segment_size=10)).metrics.set_index("metric")
    assert metrics.loc["segments", "before"] == 6 and metrics.loc["segments", "after"] == 4
    assert 0 < metrics.loc["ARI before vs after", "after"] < 1
    assert 0 < metrics.loc["NMI before vs after", "after"] < 1
    for metric in ("calinski_harabasz", "davies_bouldin"):
        assert np.isfinite(metrics.loc[metric, ["before", "after"]].astype(float)).all()
    assert any(m.startswith("silhouette (sample of") for m in metrics.index)


def test_store_missing_from_one_dataset_keeps_its_known_segment():
    labels, matrices = planted()
    labels["external"] = labels["external"].drop("S000")  # S000 is I1
    matrices["external"] = matrices["external"].drop("S000")
    result = merge_segments(labels, matrices, MergeConfig(min_segment_size=10))
    row = result.assignments.loc["S000"]
    assert pd.isna(row["merged_cluster"]) and row["coverage"] == "internal only"
    assert row["final_cluster"].startswith("I1-")
    assert "I1 (no external data)" in set(result.log["source"])


def test_nearest_centroid_ignores_missing_columns_and_respects_allowed():
    points = np.array([[0.0, np.nan], [5.0, 5.0]])
    centroids = np.array([[0.0, 100.0], [5.0, 5.0]])
    best, distance = nearest_centroid(points, centroids)
    assert best.tolist() == [0, 1] and distance.tolist() == [0.0, 0.0]
    best, _ = nearest_centroid(points, centroids, allowed=np.array([[False, True], [True, True]]))
    assert best.tolist() == [1, 1]


def test_no_large_segment_puts_everyone_in_the_largest():
    labels, matrices = planted()
    result = merge_segments(labels, matrices, MergeConfig(min_segment_size=1000))
    assert result.assignments["final_cluster"].nunique() == 1
    assert "No merged segment reaches the minimum size" in result.warnings[0]


@pytest.mark.parametrize("balance", [True, False])
def test_balance_option_runs(balance):
    labels, matrices = planted()
    result = merge_segments(labels, matrices, MergeConfig(min_segment_size=10, balance_datasets=balance))
    assert len(result.assignments) == 126
