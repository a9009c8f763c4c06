"""Clustering algorithms behind one scikit-learn style estimator, ``SegmentModel``.

Labels are canonical: segment 0 is the largest, ties broken by centroid coordinates,
so the same data and seed always give the same segment numbers. Agglomerative (Ward)
clustering needs memory quadratic in rows, so it is fitted on a fixed-seed sample of
at most ``max_fit_rows`` rows and every other row goes to its nearest centroid.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import pairwise_distances_argmin
from sklearn.mixture import GaussianMixture

from clustering.model.metrics import sample_rows

ALGORITHMS = ("kmeans", "minibatch_kmeans", "agglomerative", "gmm")


def centroids_of(X: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """Mean of each cluster's rows (clusters numbered 0..n_clusters-1)."""
    counts = np.bincount(labels, minlength=n_clusters).astype(np.float64)
    sums = np.zeros((n_clusters, X.shape[1]))
    np.add.at(sums, labels, X)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]


def canonical_order(labels: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Mapping old label -> new label: by size descending, then centroid coordinates.

    Empty clusters (a mixture component that won no row) map to -1.
    """
    n_clusters = len(centroids)
    counts = np.bincount(labels, minlength=n_clusters)
    used = [i for i in range(n_clusters) if counts[i] > 0]
    order = sorted(used, key=lambda i: (-counts[i], tuple(np.round(centroids[i], 9))))
    mapping = np.full(n_clusters, -1, dtype=np.int64)
    mapping[order] = np.arange(len(order))
    return mapping


def ward_tree(X: np.ndarray) -> np.ndarray:
    """Ward linkage matrix of ``X`` (quadratic memory: pass a sample)."""
    return linkage(X, method="ward")


def cut_tree(tree: np.ndarray, n_clusters: int) -> np.ndarray:
    """Labels 0..k-1 from cutting a linkage tree into ``n_clusters`` clusters."""
    return fcluster(tree, t=n_clusters, criterion="maxclust").astype(np.int64) - 1


class SegmentModel(ClusterMixin, BaseEstimator):
    """KMeans, MiniBatchKMeans, Agglomerative (Ward) or GaussianMixture with canonical labels."""

    def __init__(
        self,
        algorithm: str = "kmeans",
        n_clusters: int = 8,
        random_state: int | None = None,
        max_fit_rows: int = 5_000,
    ) -> None:
        self.algorithm = algorithm
        self.n_clusters = n_clusters
        self.random_state = random_state
        self.max_fit_rows = max_fit_rows

    def fit(self, X: np.ndarray, y: object = None) -> SegmentModel:
        """Fit on ``X``; ``labels_`` holds the canonical label of every row of ``X``."""
        X = np.asarray(X, dtype=np.float64)
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {self.algorithm!r}; use one of {ALGORITHMS}")
        self.fitted_on_sample_ = False
        if self.algorithm == "agglomerative":
            return self.fit_labels(X, self._fit_agglomerative(X))
        self.estimator_ = self._make_estimator().fit(X)
        return self.fit_labels(X, self.estimator_.predict(X))

    def fit_labels(self, X: np.ndarray, raw: np.ndarray) -> SegmentModel:
        """Adopt raw labels 0..k-1 of ``X`` (from the estimator, or a cut of a shared Ward
        tree) and make them canonical; agglomerative models predict by nearest centroid."""
        X = np.asarray(X, dtype=np.float64)
        if not hasattr(self, "fitted_on_sample_"):
            self.fitted_on_sample_ = False
        centroids = centroids_of(X, raw, self.n_clusters)
        self.mapping_ = canonical_order(raw, centroids)
        used = self.mapping_ >= 0
        self.cluster_centers_ = np.empty((int(used.sum()), X.shape[1]))
        self.cluster_centers_[self.mapping_[used]] = centroids[used]
        self.labels_ = self.mapping_[raw]
        return self

    def _make_estimator(self) -> KMeans | MiniBatchKMeans | GaussianMixture:
        k, seed = self.n_clusters, self.random_state
        if self.algorithm == "kmeans":
            return KMeans(n_clusters=k, n_init="auto", random_state=seed)
        if self.algorithm == "minibatch_kmeans":
            return MiniBatchKMeans(n_clusters=k, batch_size=4096, n_init=3, random_state=seed)
        return GaussianMixture(n_components=k, covariance_type="full", random_state=seed, reg_covar=1e-5)

    def _fit_agglomerative(self, X: np.ndarray) -> np.ndarray:
        if len(X) <= self.max_fit_rows:
            return cut_tree(ward_tree(X), self.n_clusters)
        self.fitted_on_sample_ = True
        sample = sample_rows(len(X), self.max_fit_rows, self.random_state)
        sample_labels = cut_tree(ward_tree(X[sample]), self.n_clusters)
        centers = centroids_of(X[sample], sample_labels, self.n_clusters)
        return pairwise_distances_argmin(X, centers)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Canonical label of each row: the model's own rule, or the nearest centroid."""
        X = np.asarray(X, dtype=np.float64)
        if self.algorithm == "agglomerative":
            return pairwise_distances_argmin(X, self.cluster_centers_)
        labels = self.mapping_[self.estimator_.predict(X)]
        unmatched = labels < 0
        if unmatched.any():
            labels[unmatched] = pairwise_distances_argmin(X[unmatched], self.cluster_centers_)
        return labels
