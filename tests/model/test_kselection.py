import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from clustering.config import ClusterConfig, config_from_dict
from clustering.errors import UserInputError
from clustering.model.kselection import choose_k, elbow_of, gap_statistic, preferred_ks, select_k


@pytest.fixture(scope="module")
def four_blobs():
    X, _ = make_blobs(2000, 5, centers=4, cluster_std=0.8, random_state=4)
    return X


@pytest.mark.parametrize("algorithm", ["kmeans", "minibatch_kmeans", "agglomerative", "gmm"])
def test_finds_the_planted_k(four_blobs, algorithm):
    selection = select_k(four_blobs, ClusterConfig(algorithm=algorithm, k_max=8), min_size=20, random_state=0)
    assert selection.chosen_k == 4
    assert selection.scores["chosen"].sum() == 1


@pytest.mark.parametrize("rule", ["silhouette", "calinski_harabasz", "davies_bouldin", "elbow"])
def test_every_rule_finds_well_separated_k(four_blobs, rule):
    selection = select_k(four_blobs, ClusterConfig(selection=rule, k_max=8), min_size=20, random_state=0)
    assert selection.chosen_k == 4, selection.scores


def test_every_score_is_kept_for_plotting(four_blobs):
    selection = select_k(four_blobs, ClusterConfig(k_min=2, k_max=10), min_size=20, random_state=0)
    assert selection.scores["k"].tolist() == list(range(2, 11))
    for column in (
        "inertia",
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
        "smallest_segment",
        "feasible",
    ):
        assert selection.scores[column].notna().all()
    assert selection.scores["inertia"].is_monotonic_decreasing
    assert selection.elbow_k == 4
    assert "highest silhouette" in selection.rule


def test_minimum_segment_size_rules_out_k():
    X, _ = make_blobs([900, 900, 80], 3, cluster_std=0.5, random_state=0)  # 4% of rows: above the 3% floor
    best = select_k(X, ClusterConfig(k_max=6), min_size=10, random_state=0)
    assert best.chosen_k == 3
    constrained = select_k(X, ClusterConfig(k_max=6), min_size=100, random_state=0)
    assert constrained.chosen_k == 2
    assert not constrained.scores.set_index("k").loc[3, "feasible"]


def test_no_feasible_k_warns_and_still_chooses():
    scores = pd.DataFrame({"k": [2, 3], "silhouette": [0.3, 0.5], "feasible": [False, False]})
    k, notes, _ = choose_k(scores, "silhouette", None)
    assert k == 3 and "No k gives segments of the minimum size" in notes[0]


def test_gap_statistic_prefers_the_planted_k(four_blobs):
    gap = gap_statistic(four_blobs, list(range(2, 8)), references=10, sample=1000, random_state=0)
    assert (gap["gap_se"] > 0).all()
    assert gap.loc[gap["gap"].idxmax(), "k"] == 4
    selection = select_k(four_blobs, ClusterConfig(selection="gap", k_max=7), min_size=20, random_state=0)
    assert selection.chosen_k == 4


def test_gap_rule_takes_the_smallest_k_within_one_standard_error():
    scores = pd.DataFrame(
        {"k": [2, 3, 4, 5], "gap": [0.5, 0.9, 0.95, 0.96], "gap_se": [0.1, 0.1, 0.1, 0.1], "feasible": True}
    )
    scores["silhouette"] = 0.1
    assert preferred_ks(scores, None)["gap"] == 3


def test_bic_for_gaussian_mixtures(four_blobs):
    selection = select_k(four_blobs, ClusterConfig(algorithm="gmm", selection="bic", k_max=7), 20, 0)
    assert "bic" in selection.scores and selection.chosen_k == 4
    with pytest.raises(UserInputError, match="selection 'bic' needs algorithm 'gmm'"):
        config_from_dict({"datasets": {"a": {"cluster": {"selection": "bic"}}}})


def test_consensus_table_lists_every_criterion_and_the_decider(four_blobs):
    selection = select_k(four_blobs, ClusterConfig(k_max=8), min_size=20, random_state=0)
    table = selection.consensus.set_index("criterion")
    assert set(table.index) == {"silhouette", "calinski_harabasz", "davies_bouldin", "elbow", "gap", "stable"}
    assert table.loc["silhouette", "decides"] and table["decides"].sum() == 1
    assert (table["preferred_k"] == 4).all()
    assert table.loc["gap", "rule"].startswith("smallest k with gap(k)")


def test_consensus_selection_takes_the_majority():
    scores = pd.DataFrame(
        {
            "k": [2, 3, 4],
            "silhouette": [0.5, 0.4, 0.3],
            "calinski_harabasz": [1, 5, 3],
            "davies_bouldin": [2.0, 1.0, 3.0],
            "inertia": [3.0, 2.0, 1.0],
            "feasible": True,
        }
    )
    k, _, table = choose_k(scores, "consensus", elbow_k=3)
    assert k == 3
    assert table.iloc[-1]["criterion"] == "consensus" and table.iloc[-1]["preferred_k"] == 3


def test_large_data_is_swept_on_a_sample():
    X, _ = make_blobs(30_000, 4, centers=3, random_state=0)
    selection = select_k(X, ClusterConfig(k_max=5, selection_sample=5_000, silhouette_sample=2_000), 10, 0)
    assert selection.sample_rows == 5_000 and selection.silhouette_rows == 2_000
    assert selection.chosen_k == 3
    assert selection.scores["smallest_segment"].min() > 1_000  # scaled back to all rows


def test_too_few_rows_for_the_k_range():
    with pytest.raises(UserInputError, match="needs at least 6 rows, but the data has 4"):
        select_k(np.zeros((4, 2)), ClusterConfig(k_min=3), min_size=1)


def test_the_sweep_fits_each_k_with_exactly_sweep_n_init_starts(four_blobs):
    selection = select_k(four_blobs, ClusterConfig(k_max=6, sweep_n_init=3), min_size=20, random_state=0)
    assert {len(model.start_scores_) for model in selection.models.values()} == {3}


def test_elbow_matches_kneed_on_real_sweeps_and_awkward_curves():
    kneed = pytest.importorskip("kneed")
    rng = np.random.default_rng(0)
    ks = list(range(2, 11))
    curves = [
        [100.0 / k for k in ks],  # smooth convex
        [50, 20, 10, 9, 8.5, 8, 7.8, 7.5, 7.4],  # sharp elbow at 4
        [10] * len(ks),  # flat: no elbow
        [9, 8, 7, 6, 5, 4, 3, 2, 1],  # straight line
        [30, 10, 12, 5, 6, 2, 3, 1, 0.5],  # bumpy, several local extrema
        [5, 5, 4, 4, 3, 3, 2, 2, 1],  # plateaus: maxima and minima at once
    ]
    curves += [np.sort(rng.gamma(1.0, 10.0, len(ks)))[::-1].tolist() for _ in range(200)]
    curves += [
        (1000 / np.array(ks) ** rng.uniform(0.3, 3) + rng.normal(0, 5, len(ks))).tolist() for _ in range(200)
    ]
    for n in (3, 4, 5):
        curves += [sorted(rng.uniform(0, 100, n), reverse=True) for _ in range(30)]
    elbows = set()
    for curve in curves:
        xs = ks[: len(curve)]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = kneed.KneeLocator(xs, curve, curve="convex", direction="decreasing").knee
        assert elbow_of(xs, curve) == expected, curve
        elbows.add(expected)
    assert len(elbows) > 4  # the curves exercise many outcomes, None among them
    assert None in elbows


def test_the_stable_rule_takes_the_largest_k_whose_segments_all_come_back():
    X, _ = make_blobs(1200, 4, centers=4, cluster_std=1.0, random_state=3)
    config = ClusterConfig(selection="stable", k_min=2, k_max=8, gap_references=0)
    selection = select_k(X, config, min_size=20, random_state=0)
    scores = selection.scores.set_index("k")
    chosen = selection.chosen_k
    assert chosen >= 4  # never fewer than the blobs: each of the four comes back whole
    assert scores.loc[chosen, "jaccard_min"] >= 0.75 and scores.loc[chosen, "least_distinct_d"] >= 0.5
    larger = scores.loc[chosen + 1 :]
    assert ((larger["jaccard_min"] < 0.75) | (larger["least_distinct_d"] < 0.5)).all()
    assert selection.rule.startswith("largest k whose segments are all stable")
    # the blobs are clear structure: auto lets the silhouette decide, and it finds the four
    auto = select_k(X, ClusterConfig(k_max=8, gap_references=0), min_size=20, random_state=0, weak=False)
    assert auto.chosen_k == 4


def test_on_a_continuum_the_stable_rule_gives_more_than_the_smallest_k_and_each_segment_is_stable():
    X = np.random.default_rng(0).uniform(size=(1500, 3))
    stable = select_k(X, ClusterConfig(selection="stable", gap_references=0), min_size=30, random_state=0)
    scores = stable.scores.set_index("k")
    assert stable.chosen_k >= 3
    assert scores.loc[stable.chosen_k, "jaccard_min"] >= 0.75
    larger = scores.loc[stable.chosen_k + 1 :]
    assert ((larger["jaccard_min"] < 0.75) | (larger["least_distinct_d"] < 0.5)).all()


def test_without_a_stable_k_the_rule_says_so_and_falls_back_to_the_silhouette():
    scores = pd.DataFrame(
        {
            "k": [2, 3],
            "silhouette": [0.3, 0.2],
            "feasible": [True, True],
            "inertia": [10.0, 8.0],
            "jaccard_min": [0.5, 0.4],
            "jaccard_mean": [0.6, 0.5],
            "least_distinct_d": [1.0, 1.0],
        }
    )
    chosen, notes, table = choose_k(scores, "stable", None)
    assert chosen == 2 and any("stable criterion gave no k" in n for n in notes)
    assert table.set_index("criterion").loc["stable", "decides"]


def stability_scores(**columns) -> pd.DataFrame:
    base = {
        "k": [2, 3, 4, 5],
        "smallest_segment": [400, 300, 200, 150],
        "jaccard_min": [0.9, 0.85, 0.8, 0.6],
        "silhouette": [0.30, 0.35, 0.40, 0.45],
        "feasible": [True] * 4,
        "least_distinct_d": [1.0] * 4,
    }
    return pd.DataFrame({**base, **columns})


def test_a_recommended_k_has_only_stable_segments_of_a_real_size():
    from clustering.model.kselection import trusted_k

    assert trusted_k(stability_scores(), 4, 30, "silhouette") == (4, None)  # the rule's k passes
    k, why = trusted_k(stability_scores(), 5, 30, "silhouette")  # its least stable segment: 0.6
    assert k == 4 and "not k = 5 (the highest silhouette)" in why and "Jaccard of 0.60, below 0.75" in why
    assert "k = 4 is the highest silhouette among the k whose segments are all stable" in why
    tiny = stability_scores(smallest_segment=[400, 2, 200, 150], silhouette=[0.30, 0.45, 0.20, 0.10])
    k, why = trusted_k(tiny, 3, 30, "silhouette")  # a 2-row segment, however stable
    assert k == 2 and "would hold 2 rows, fewer than 30" in why


def test_the_rule_is_applied_again_among_the_trusted_k_above_the_rules_k_too():
    from clustering.model.kselection import trusted_k

    # k = 3 is the silhouette's but unstable; of the trusted k, 4 has the higher silhouette
    shaky_three = stability_scores(jaccard_min=[0.9, 0.6, 0.8, 0.6], silhouette=[0.30, 0.45, 0.40, 0.20])
    k, why = trusted_k(shaky_three, 3, 30, "silhouette")
    assert k == 4 and "not k = 3" in why


def test_when_no_k_is_trusted_the_most_stable_of_real_size_is_recommended():
    from clustering.model.kselection import trusted_k

    shaky = stability_scores(jaccard_min=[0.68, 0.71, 0.5, 0.4], smallest_segment=[23, 2, 1, 1])
    k, why = trusted_k(shaky, 3, 3, "silhouette")
    assert k == 2  # k = 3 is more stable but holds a 2-row segment
    assert why.startswith("No k from 2 to 5 gives segments that are all stable") and "0.68" in why


def test_the_sweep_recommends_a_trusted_k_and_says_why():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (300, 2)), rng.normal(9, 1, (300, 2)), [[30, 30], [30.5, 30]]])
    selection = select_k(X, ClusterConfig(k_max=5), min_size=2, random_state=0)
    smallest = selection.scores.set_index("k")["smallest_segment"]
    assert smallest[selection.chosen_k] >= 0.03 * len(X)  # never the 2-point segment
    assert selection.chosen_k == 2 and any("is recommended, not k = 3" in n for n in selection.warnings)
