"""Segments you can trust: robust final fits, an honest clusterability verdict, and warnings
where an expert would raise an eyebrow, each on data made to trigger it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris, make_blobs

from clustering.cli import main
from clustering.config import config_from_dict
from clustering.io.export import result_sheets
from clustering.pipeline import run

BASE = {"labels": {"pattern": "none", "market_column": None}, "merge": {"enabled": False}}


def table(X: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame.insert(0, "store_id", [f"S{i:05d}" for i in range(len(frame))])
    return frame


def config(seed: int = 42, stability: bool = False, **dataset):
    return config_from_dict(
        {**BASE, "random_state": seed, "stability": {"enabled": stability}, "datasets": {"internal": dataset}}
    )


def warnings_of(result) -> list[str]:
    return [f.message for f in result.findings if f.level == "warning"]


def test_iris_labels_do_not_depend_on_the_seed():
    iris = table(load_iris().data)
    labels = [
        run(config(seed, cluster={"k": 3}), {"internal": iris}).assignments["final_cluster"]
        for seed in range(5)
    ]
    for other in labels[1:]:
        pd.testing.assert_series_equal(other, labels[0])
    single = {
        tuple(
            run(config(seed, cluster={"k": 3, "n_init": 1}), {"internal": iris}).assignments["final_cluster"]
        )
        for seed in range(10)
    }
    assert len(single) > 1  # one start per fit: the labels change with the seed
    result = run(config(0, cluster={"k": 3}), {"internal": iris})
    notes = " ".join(result.clustered["internal"].notes)
    assert "The final model was fitted on all 150 rows, best of 100 starts" in notes
    metrics = result.metrics.set_index("metric")["after"]
    assert metrics["inertia, best of 100 starts"] <= metrics["inertia, worst start"]


@pytest.mark.parametrize(
    "X",
    [
        np.random.default_rng(1).uniform(size=(1500, 3)),
        np.random.default_rng(2).normal(size=(1500, 4)) * [9.0, 3.0, 1.0, 1.0],
    ],
    ids=["uniform", "elongated blob"],
)
def test_no_structure_is_said_in_findings_and_the_quality_sheet(X):
    result = run(config(), {"internal": table(X)})
    assert any(
        w.startswith("Weak structure: segments are a useful partition of a continuum")
        for w in warnings_of(result)
    )
    quality = result_sheets(result)["quality"]
    assert set(quality["verdict"]) == {
        "weak structure: segments are a useful partition of a continuum, not natural groups"
    }
    assert list(quality["test"]) == [
        "dip on the first principal component",
        "dip on pairwise distances",
        "gap statistic, one group against two",
    ]
    assert not quality["groups"].any()


def test_clear_structure_raises_no_verdict_warning():
    X, _ = make_blobs(1500, 4, centers=4, random_state=3)
    result = run(config(cluster={"k_max": 8}), {"internal": table(X)})
    assert result.clustered["internal"].clusterability.clear
    assert not any("structure" in w for w in warnings_of(result))
    assert result.assignments["final_cluster"].nunique() == 4


def test_low_silhouette_is_a_warning():
    X = np.random.default_rng(3).normal(size=(1200, 12))
    result = run(config(cluster={"k": 8}), {"internal": table(X)})
    assert result.clustered["internal"].silhouette < 0.1
    assert any("The silhouette of the segments is" in w and "below 0.1" in w for w in warnings_of(result))


def test_unstable_segments_are_warnings():
    X = np.random.default_rng(4).normal(size=(1000, 3))
    result = run(config(stability=True, cluster={"k": 7}), {"internal": table(X)})
    unstable = result.stability[~result.stability["stable"]]
    assert len(unstable)
    said = [w for w in warnings_of(result) if "is unstable: its mean bootstrap Jaccard" in w]
    assert len(said) == len(unstable)


def test_k_at_the_top_of_the_range_is_a_warning():
    X, _ = make_blobs(1500, 5, centers=7, cluster_std=0.6, random_state=5)
    result = run(config(cluster={"k_min": 2, "k_max": 4}), {"internal": table(X)})
    assert result.clustered["internal"].k == 4
    assert any("k = 4 is the largest k tried" in w for w in warnings_of(result))


def test_reassigning_most_rows_from_noise_is_a_warning():
    rng = np.random.default_rng(6)
    X = np.vstack([rng.uniform(-10, 10, (900, 2)), rng.normal(0, 0.2, (50, 2)), rng.normal(5, 0.2, (50, 2))])
    result = run(
        config(cluster={"algorithm": "hdbscan", "hdbscan": {"min_cluster_size": 30}}), {"internal": table(X)}
    )
    density = result.clustered["internal"].density
    assert density.noise_before > 0.2 and density.noise_after == 0
    (said,) = [w for w in warnings_of(result) if "of rows noise, and they were reassigned by" in w]
    assert (
        f"{density.noise_before:.0%}" in said
        and f"trained on {density.trained_rows:,} confident core rows" in said
    )


def test_a_segment_set_apart_by_one_outlying_feature_is_a_warning():
    rng = np.random.default_rng(7)
    X, _ = make_blobs(900, 4, centers=[[0, 0, 0, 0], [5, 5, 5, 5], [0, 5, 0, 5]], random_state=7)
    odd = X[rng.choice(len(X), 60, replace=False)].copy()  # typical stores in every feature...
    odd[:, 3] = rng.normal(40, 1, 60)  # ...but f3
    result = run(
        config(cluster={"k": 4}, preprocess={"outliers": "none", "log_transform": False}),
        {"internal": table(np.vstack([X, odd]))},
    )
    said = [w for w in warnings_of(result) if "differs from the rest in one feature only (f3" in w]
    assert len(said) == 1


def test_the_cli_prints_the_warnings(tmp_path, capsys):
    path = tmp_path / "flat.csv"
    table(np.random.default_rng(8).normal(size=(800, 3))).to_csv(path, index=False)
    preset = tmp_path / "one.yml"
    preset.write_text(
        "datasets: {flat: {}}\nmerge: {enabled: false}\nlabels: {pattern: none, market_column: null}\n"
        "stability: {enabled: false}\n"
    )
    args = ["run", "--config", str(preset), "--input", str(path), "--output", str(tmp_path / "o.csv")]
    assert main([*args, "--no-track"]) == 0
    err = capsys.readouterr().err
    assert "warning: flat: Weak structure: segments are a useful partition of a continuum" in err
