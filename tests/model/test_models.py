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
