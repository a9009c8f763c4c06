import numpy as np
import pytest
from sklearn.datasets import make_blobs

from clustering.config import StabilityConfig
from clustering.model.models import SegmentModel
from clustering.model.stability import best_jaccard, segment_stability
from tests.profiles import quick_preset


def kmeans_refit(k):
    return lambda rows, seed: SegmentModel("kmeans", k, seed).fit(rows).labels_


def test_best_jaccard():
    reference = np.array([0, 0, 0, 1, 1, 1])
    refit = np.array([5, 5, 7, 7, 7, 7])
    np.testing.assert_allclose(best_jaccard(reference, refit).to_numpy(), [2 / 3, 3 / 4])


def test_planted_well_separated_segments_are_stable():
    X, _ = make_blobs(3000, 5, centers=4, cluster_std=1.0, random_state=0)
    labels = SegmentModel("kmeans", 4, 0).fit(X).labels_
    result = segment_stability(X, labels, kmeans_refit(4), StabilityConfig(), random_state=0)
    assert (result.segments["jaccard_mean"] >= 0.9).all()
    assert result.segments["stable"].all() and result.ari_mean > 0.95


def test_segments_of_pure_noise_are_unstable():
    X = np.random.default_rng(0).normal(size=(2000, 10))
    labels = SegmentModel("kmeans", 5, 0).fit(X).labels_
    result = segment_stability(X, labels, kmeans_refit(5), StabilityConfig(), random_state=0)
    assert (result.segments["jaccard_mean"] < 0.6).all()
    assert not result.segments["stable"].any() and result.ari_mean < 0.5


def test_base_sample_is_capped():
    X, _ = make_blobs(5000, 2, centers=2, random_state=0)
    labels = SegmentModel("kmeans", 2, 0).fit(X).labels_
    result = segment_stability(X, labels, kmeans_refit(2), StabilityConfig(max_rows=1000, resamples=3), 0)
    assert result.rows == 1000


def test_run_reports_stability_per_dataset_segment(demo_result):
    table = demo_result.stability
    assert set(table["dataset"]) == {"internal", "external"}
    assert set(table["segment"]) == set(demo_result.assignments["internal_cluster"].dropna()) | set(
        demo_result.assignments["external_cluster"].dropna()
    )
    assert (table["jaccard_mean"] > 0.9).all()  # planted archetypes


@pytest.mark.parametrize("algorithm", ["agglomerative", "hdbscan"])
def test_other_algorithms_can_be_refitted(demo_sheets, algorithm):
    from clustering.pipeline import run

    config = quick_preset("store")
    config.datasets = {"external": config.datasets["external"]}
    config.datasets["external"].cluster.algorithm = algorithm
    config.stability.resamples = 3
    result = run(config, demo_sheets)
    assert result.stability["jaccard_mean"].between(0, 1).all()


def test_a_failing_refit_scores_zero_for_every_segment_and_is_counted():
    from clustering.errors import UserInputError

    X, labels = make_blobs(300, 2, centers=3, random_state=0)

    def refit(rows, seed):
        if seed % 3 == 0:
            raise UserInputError("no segment found")
        return SegmentModel("kmeans", 3, seed).fit(rows).labels_

    result = segment_stability(X, labels, refit, StabilityConfig(resamples=6), random_state=0)
    assert result.failed == 2 and result.failure == "no segment found"
    assert (result.segments["jaccard_min"] == 0).all()
    assert (result.segments["jaccard_mean"] <= 4 / 6 + 1e-9).all()
