import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import silhouette_score

from clustering.model.metrics import group_sums, same_partition, silhouette_many, within_sum_of_squares


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(3000, 6, centers=5, random_state=1)
    labelings = [KMeans(k, n_init="auto", random_state=0).fit_predict(X) for k in range(2, 9)]
    return X, labelings


def test_equals_sklearn_on_all_rows(blobs):
    X, labelings = blobs
    ours = silhouette_many(X, labelings, sample_size=10_000, random_state=0)
    reference = [silhouette_score(X, labels) for labels in labelings]
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5)


def test_equals_sklearn_on_the_same_fixed_seed_sample(blobs):
    X, labelings = blobs
    ours = silhouette_many(X, labelings, sample_size=1000, random_state=3)
    reference = [silhouette_score(X, labels, sample_size=1000, random_state=3) for labels in labelings]
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5)


def test_singletons_score_zero_like_sklearn():
    X = np.array([[0.0], [0.1], [0.2], [5.0], [9.0]])
    labels = np.array([0, 0, 0, 1, 2])
    assert silhouette_many(X, [labels])[0] == pytest.approx(silhouette_score(X, labels), abs=1e-5)


def test_one_cluster_is_nan_not_an_error():
    X = np.random.default_rng(0).normal(size=(20, 2))
    assert np.isnan(silhouette_many(X, [np.zeros(20, dtype=int)])[0])


def test_within_sum_of_squares_is_kmeans_inertia(blobs):
    X, _ = blobs
    model = KMeans(4, n_init="auto", random_state=0).fit(X)
    assert within_sum_of_squares(X, model.labels_) == pytest.approx(model.inertia_, rel=1e-6)


def test_same_partition_ignores_names_and_sees_one_moved_row():
    a = np.array([0, 0, 1, 1, 2, 2])
    assert same_partition(a, np.array([5, 5, 3, 3, 9, 9]))
    assert not same_partition(a, np.array([5, 5, 3, 3, 9, 3]))  # one row moved
    assert not same_partition(a, np.array([0, 0, 0, 0, 2, 2]))  # two segments joined
    assert not same_partition(np.array([0, 0, 0, 0, 2, 2]), a)  # one segment split
    assert same_partition(np.array([]), np.array([]))


def test_group_sums_equal_adding_each_row_in_turn():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(500, 6)) * 1e3
    codes = rng.choice([0, 1, 3], size=500)  # group 2 has no row, group 4 is beyond every code
    expected = np.zeros((5, 6))
    np.add.at(expected, codes, X)
    sums = group_sums(X, codes, 5)
    np.testing.assert_array_equal(sums, expected)
    assert not sums[2].any() and not sums[4].any()


def test_group_sums_count_booleans_as_ones():
    present = np.array([[True, False], [True, True], [False, True]])
    np.testing.assert_array_equal(group_sums(present, np.array([0, 0, 1]), 2), [[2, 1], [0, 1]])
