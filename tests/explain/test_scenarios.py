"""The k scenarios table: every k of the sweep with its quality, stability, smallest segment,
separating features and a name preview, the recommended k marked."""

import numpy as np
from sklearn.datasets import make_blobs

from clustering.config import ClusterConfig, ColumnInfo
from clustering.explain.scenarios import compare_scenarios, k_scenarios, recommendation
from clustering.model.kselection import select_k


def test_every_k_of_the_sweep_is_a_scenario_with_its_stability_and_names_in_words():
    X, _ = make_blobs(900, 3, centers=3, cluster_std=0.8, random_state=2)
    selection = select_k(X, ClusterConfig(k_min=2, k_max=6, gap_references=0), min_size=20, random_state=0)
    table = k_scenarios(
        selection, ["sales", "margin", "format=hyper"], {"sales": ColumnInfo(label="annual sales")}
    )
    assert table["k"].tolist() == [2, 3, 4, 5, 6]
    assert table.loc[table["recommended"], "k"].tolist() == [selection.chosen_k] == [3]
    three = table.set_index("k").loc[3]
    assert three["jaccard_min"] >= 0.75 and three["smallest_segment"] > 200
    assert "annual sales" in three["names_preview"].lower() and "S1" not in three["names_preview"]
    assert set(three["separating_features"].split(", ")) <= {"sales", "margin", "format = hyper"}
    np.testing.assert_allclose(table["silhouette"], selection.scores["silhouette"])
    assert recommendation(selection).startswith("Recommended: k = 3, the highest silhouette")


def test_a_fixed_k_has_no_scenarios():
    X, _ = make_blobs(300, 2, centers=3, random_state=0)
    selection = select_k(X, ClusterConfig(k=3), min_size=10, random_state=0)
    assert selection.chosen_k == 3 and len(selection.scores) == 1
    assert k_scenarios(selection, ["a", "b"]).empty


def test_two_scenarios_side_by_side_say_which_segment_splits_and_refit_nothing():
    X, _ = make_blobs(900, 3, centers=3, cluster_std=0.8, random_state=2)
    selection = select_k(X, ClusterConfig(k_min=2, k_max=6, gap_references=0), min_size=20, random_state=0)
    models = {k: model.labels_.copy() for k, model in selection.models.items()}
    pair = compare_scenarios(
        selection, (2, 3), ["sales", "margin", "area"], {"sales": ColumnInfo(label="annual sales")}
    )
    assert pair.ks == (2, 3)
    for k in (2, 3):
        segments = pair.segments[k]
        assert len(segments) == k and segments["share"].sum() == np.float64(1.0)
        assert segments["share"].is_monotonic_decreasing and segments["name"].is_unique
        assert pair.stability[k] == selection.scores.set_index("k").loc[k, "jaccard_min"]
    assert pair.flows.to_numpy().sum() == len(selection.sample)  # every sampled row, once
    assert pair.flows.shape == (2, 3)
    # two blobs joined at k = 2 come apart at k = 3: one segment splits, in words with shares
    splits = [m for m in pair.moves if "splits into" in m]
    assert len(splits) == 1 and splits[0].count("%") == 2
    assert all(np.array_equal(models[k], selection.models[k].labels_) for k in models)  # nothing refitted


def test_a_scenario_beside_itself_moves_nothing():
    X, _ = make_blobs(300, 2, centers=3, random_state=0)
    selection = select_k(X, ClusterConfig(k_min=2, k_max=4, gap_references=0), min_size=10, random_state=0)
    pair = compare_scenarios(selection, (3, 3), ["a", "b"])
    assert pair.moves == ["The segments are the same in both: every segment stays whole."]
    assert (np.diag(pair.flows.to_numpy()) == pair.flows.to_numpy().sum(axis=1)).all()
