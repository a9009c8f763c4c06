"""The k scenarios table: every k of the sweep with its quality, stability, smallest segment,
separating features and a name preview, the recommended k marked."""

import numpy as np
from sklearn.datasets import make_blobs

from clustering.config import ClusterConfig, ColumnInfo
from clustering.explain.scenarios import k_scenarios, recommendation
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
