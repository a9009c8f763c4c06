import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from clustering.model.models import ALGORITHMS, SegmentModel


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(
        1200, 4, centers=[[0] * 4, [6] * 4, [0, 6, 0, 6], [6, 0, 6, 0]], cluster_std=1.0, random_state=2
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_recovers_separated_blobs(blobs, algorithm):
    X, truth = blobs
    model = SegmentModel(algorithm, 4, random_state=0).fit(X)
    assert adjusted_rand_score(truth, model.labels_) > 0.95
    np.testing.assert_array_equal(model.predict(X), model.labels_)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_same_seed_same_labels(blobs, algorithm):
    X, _ = blobs
    first = SegmentModel(algorithm, 4, random_state=5).fit(X).labels_
    second = SegmentModel(algorithm, 4, random_state=5).fit(X).labels_
    np.testing.assert_array_equal(first, second)


def test_labels_are_ordered_by_size():
    X, _ = make_blobs(
        [500, 100, 300], 2, centers=[[0, 0], [10, 10], [20, 0]], cluster_std=0.5, random_state=0
    )
    labels = SegmentModel("kmeans", 3, random_state=0).fit(X).labels_
    assert np.bincount(labels).tolist() == [500, 300, 100]


def test_agglomerative_fits_a_sample_when_data_is_large(blobs):
    X, truth = blobs
    model = SegmentModel("agglomerative", 4, random_state=0, max_fit_rows=300).fit(X)
    assert model.fitted_on_sample_
    assert adjusted_rand_score(truth, model.labels_) > 0.95


def test_unknown_algorithm(blobs):
    with pytest.raises(ValueError, match="unknown algorithm"):
        SegmentModel("dbscan", 3).fit(blobs[0])


def test_the_final_fit_keeps_the_best_of_several_starts_and_reports_them():
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(load_iris().data)
    single = [SegmentModel("kmeans", 3, random_state=seed).fit(X) for seed in range(10)]
    robust = [
        SegmentModel("kmeans", 3, random_state=seed, n_init=20).fit(X) for seed in range(5)
    ]  # 100 on 150 rows
    # one k-means++ start lands in different local optima depending on the seed...
    assert len({round(m.start_scores_[0], 6) for m in single}) > 1
    assert min(adjusted_rand_score(single[0].labels_, m.labels_) for m in single) < 0.9
    # ...the best of twenty starts (the default) gives the same labels whatever the seed
    for model in robust[1:]:
        np.testing.assert_array_equal(model.labels_, robust[0].labels_)
    assert len(robust[0].start_scores_) == 100
    assert robust[0].start_scores_.min() == pytest.approx(
        min(m.start_scores_.min() for m in single), rel=1e-6
    )


@pytest.mark.parametrize("algorithm", ["minibatch_kmeans", "gmm"])
def test_other_algorithms_take_several_starts_too(algorithm):
    X, _ = make_blobs(600, 3, centers=4, random_state=0)
    model = SegmentModel(algorithm, 4, random_state=0, n_init=4).fit(X)
    assert len(model.start_scores_) == 4
    assert model.start_scores_.min() <= model.start_scores_.max()


def test_starts_fitted_in_two_halves_give_the_same_model_as_one_after_the_other(monkeypatch):
    from clustering.model import models

    X, _ = make_blobs(30_000, n_features=8, centers=6, cluster_std=3.0, random_state=4)
    halves = models.SegmentModel("kmeans", 6, random_state=3, n_init=8).fit(X)
    monkeypatch.setattr(models, "SPLIT_STARTS", 10**6)
    in_turn = models.SegmentModel("kmeans", 6, random_state=3, n_init=8).fit(X)
    np.testing.assert_array_equal(halves.start_scores_, in_turn.start_scores_)
    np.testing.assert_array_equal(halves.labels_, in_turn.labels_)
    np.testing.assert_array_equal(halves.cluster_centers_, in_turn.cluster_centers_)
    assert len(set(halves.start_scores_)) > 1  # the starts differ: the best one had to be picked


def test_kmeans_on_many_rows_starts_on_a_sample_and_refines_on_every_row(monkeypatch):
    from clustering.model import models

    X, _ = make_blobs(12_000, n_features=5, centers=5, cluster_std=2.5, random_state=8)
    full = SegmentModel("kmeans", 5, random_state=1, n_init=10).fit(X)
    monkeypatch.setattr(models, "START_SAMPLE_ROWS", 3_000)
    sampled = SegmentModel("kmeans", 5, random_state=1, n_init=10).fit(X)
    assert sampled.start_rows_ == 3_000 and full.start_rows_ == 12_000
    assert len(sampled.start_scores_) == len(full.start_scores_)
    assert adjusted_rand_score(full.labels_, sampled.labels_) > 0.99
    assert sampled.estimator_.inertia_ <= full.estimator_.inertia_ * 1.001  # refined on every row
    again = SegmentModel("kmeans", 5, random_state=1, n_init=10).fit(X)
    np.testing.assert_array_equal(again.labels_, sampled.labels_)
