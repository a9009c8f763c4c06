"""Clustering algorithms behind one scikit-learn style estimator, ``SegmentModel``.

Labels are canonical: segment 0 is the largest, ties broken by centroid coordinates,
so the same data and seed always give the same segment numbers. KMeans, MiniBatchKMeans
and GaussianMixture run ``n_init`` starts (seeds drawn from ``random_state``; KMeans takes
more on small data, up to 100 while rows x columns x starts stays within 6 million) and keep the best (lowest
inertia; for the mixture, the highest log-likelihood); ``start_scores_`` holds every
start's score, so the spread across starts can be reported. Agglomerative (Ward)
clustering needs memory quadratic in rows, so it is fitted on a fixed-seed sample of
at most ``max_fit_rows`` rows and every other row goes to its nearest centroid.
``GroupedModel`` nests segments within the values of a grouping column (one model per group).
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import pairwise_distances_argmin
from sklearn.mixture import GaussianMixture

from clustering.model.metrics import group_sums, sample_rows
from clustering.model.threads import in_parallel, thread_limit

ALGORITHMS = ("kmeans", "minibatch_kmeans", "agglomerative", "gmm")
SINGLE_THREAD_CELLS = 2_000_000  # fits of fewer cells (rows x columns) run on one thread
SPLIT_STARTS, SPLIT_CELLS = 4, 200_000  # from here, the single-threaded starts run in two halves
START_SAMPLE_ROWS = 20_000  # KMeans on more rows: starts on a sample, the best refined on all
START_BUDGET, MAX_STARTS = 6_000_000, 100  # small data gets more starts: cells x starts <= budget


def centroids_of(X: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """Mean of each cluster's rows (clusters numbered 0..n_clusters-1)."""
    counts = np.bincount(labels, minlength=n_clusters).astype(np.float64)
    sums = group_sums(X, labels, n_clusters)
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


def refit_labels(
    X: np.ndarray, algorithm: str, k: int, seed: int | None, starts: int, max_rows: int
) -> np.ndarray:
    """Labels of one stability refit: the best of ``starts`` starts (one KMeans call with
    ``n_init``, half the cost of separate fits; the labels need not be canonical, only
    compared), other algorithms by ``SegmentModel``."""
    if algorithm == "kmeans":
        with thread_limit(1):
            return KMeans(n_clusters=k, n_init=starts, random_state=seed).fit(X).labels_
    return SegmentModel(algorithm, k, seed, max_rows, starts, False).fit(X).labels_


class SegmentModel(ClusterMixin, BaseEstimator):
    """KMeans, MiniBatchKMeans, Agglomerative (Ward) or GaussianMixture with canonical labels."""

    def __init__(
        self,
        algorithm: str = "kmeans",
        n_clusters: int = 8,
        random_state: int | None = None,
        max_fit_rows: int = 5_000,
        n_init: int = 1,
        more_starts_on_small_data: bool = True,
    ) -> None:
        self.algorithm = algorithm
        self.n_clusters = n_clusters
        self.random_state = random_state
        self.max_fit_rows = max_fit_rows
        self.n_init = n_init
        self.more_starts_on_small_data = more_starts_on_small_data

    def fit(self, X: np.ndarray, y: object = None) -> SegmentModel:
        """Fit on ``X``; ``labels_`` holds the canonical label of every row of ``X``."""
        X = np.asarray(X, dtype=np.float64)
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {self.algorithm!r}; use one of {ALGORITHMS}")
        self.fitted_on_sample_ = False
        if self.algorithm == "agglomerative":
            self.start_scores_ = np.array([])
            return self.fit_labels(X, self._fit_agglomerative(X))
        self.estimator_, self.start_scores_ = self._best_start(X)
        return self.fit_labels(X, self.estimator_.predict(X))

    def starts(self, cells: int) -> int:
        """How many starts: ``n_init``; for KMeans raised on small data (up to ``MAX_STARTS``)
        while the starts fit in ``START_BUDGET`` cells (rows x columns) of fitting, because
        there near-tied optima are common and starts are cheap (unless
        ``more_starts_on_small_data`` is off, as in the k sweep)."""
        if self.n_init <= 1 or self.algorithm != "kmeans" or not self.more_starts_on_small_data:
            return max(self.n_init, 1)
        return int(np.clip(START_BUDGET // max(cells, 1), self.n_init, max(self.n_init, MAX_STARTS)))

    def start_seeds(self, cells: int) -> list[int | None]:
        """One seed per start: ``random_state`` itself for a single start, else drawn from it."""
        count = self.starts(cells)
        if count == 1:
            return [self.random_state]
        return np.random.RandomState(self.random_state).randint(0, 2**31 - 1, size=count).tolist()

    def _best_start(self, X: np.ndarray) -> tuple[KMeans | MiniBatchKMeans | GaussianMixture, np.ndarray]:
        """Fit every start; keep the best. Scores: inertia, or mean negative log-likelihood.
        Small fits run on one thread: for them OpenMP's threads cost more than they give, and
        on a shared machine their spin-waiting slows every process (measured: 4x and worse).
        Many starts on large data are split in two halves fitted side by side, each start on
        one thread as before, so the result is the same as one start after the other."""
        seeds = self.start_seeds(X.size)
        self.start_rows_ = len(X)
        if self.algorithm == "kmeans" and len(seeds) > 1 and len(X) > START_SAMPLE_ROWS:
            return self._best_start_on_sample(X)
        if X.size >= SINGLE_THREAD_CELLS:
            return self._starts(X, seeds)
        if len(seeds) < SPLIT_STARTS or X.size < SPLIT_CELLS:
            with thread_limit(1):
                return self._starts(X, seeds)
        middle = len(seeds) // 2
        halves = in_parallel(
            {
                "first": partial(self._starts, X, seeds[:middle]),
                "second": partial(self._starts, X, seeds[middle:]),
            }
        )
        (first, first_scores), (second, second_scores) = halves["first"], halves["second"]
        best = second if second_scores.min() < first_scores.min() else first  # the first of equals
        return best, np.concatenate([first_scores, second_scores])

    def _best_start_on_sample(self, X: np.ndarray) -> tuple[KMeans, np.ndarray]:
        """KMeans on more than START_SAMPLE_ROWS rows: the starts run on a fixed-seed sample of
        that many rows, and the best one's centroids start one Lloyd run on every row
        (``start_scores_`` are the sample's). At 100k stores this takes less than half the time
        of 20 starts on every row, and on six demo sets of 30k to 100k rows the refined
        inertia was never higher than the best full start's (equal, or up to 0.4% lower).
        """
        sample = X[sample_rows(len(X), START_SAMPLE_ROWS, self.random_state)]
        best, scores = self._best_start(sample)
        self.start_rows_ = len(sample)
        refined = KMeans(
            self.n_clusters, init=best.cluster_centers_, n_init=1, random_state=self.random_state
        )
        return refined.fit(X), scores

    def _starts(
        self, X: np.ndarray, seeds: list[int | None]
    ) -> tuple[KMeans | MiniBatchKMeans | GaussianMixture, np.ndarray]:
        best, scores = None, []
        for seed in seeds:
            estimator = self._make_estimator(seed).fit(X)
            score = -estimator.score(X) if self.algorithm == "gmm" else estimator.inertia_
            if best is None or score < min(scores):
                best = estimator
            scores.append(float(score))
        return best, np.asarray(scores)

    def fit_labels(self, X: np.ndarray, raw: np.ndarray) -> SegmentModel:
        """Adopt raw labels 0..k-1 of ``X`` (from the estimator, or a cut of a shared Ward
        tree) and make them canonical; agglomerative models predict by nearest centroid."""
        X = np.asarray(X, dtype=np.float64)
        if not hasattr(self, "fitted_on_sample_"):
            self.fitted_on_sample_ = False
        if not hasattr(self, "start_scores_"):
            self.start_scores_ = np.array([])
        centroids = centroids_of(X, raw, self.n_clusters)
        self.mapping_ = canonical_order(raw, centroids)
        used = self.mapping_ >= 0
        self.cluster_centers_ = np.empty((int(used.sum()), X.shape[1]))
        self.cluster_centers_[self.mapping_[used]] = centroids[used]
        self.labels_ = self.mapping_[raw]
        return self

    def _make_estimator(self, seed: int | None) -> KMeans | MiniBatchKMeans | GaussianMixture:
        k = self.n_clusters
        if self.algorithm == "kmeans":
            return KMeans(n_clusters=k, n_init=1, random_state=seed)
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
        """Canonical label of each row: the model's own rule, or the nearest centroid; a row
        nearer to a segment added after the fit (``add_segment``) than to its own joins it."""
        X = np.asarray(X, dtype=np.float64)
        fitted = len(self.cluster_centers_) - getattr(self, "added_segments_", 0)
        if self.algorithm == "agglomerative":
            labels = pairwise_distances_argmin(X, self.cluster_centers_[:fitted])
        else:
            labels = self.mapping_[self.estimator_.predict(X)]
            unmatched = labels < 0
            if unmatched.any():
                labels[unmatched] = pairwise_distances_argmin(X[unmatched], self.cluster_centers_[:fitted])
        if fitted < len(self.cluster_centers_):
            own = np.linalg.norm(X - self.cluster_centers_[labels], axis=1)
            added = self.cluster_centers_[fitted:]
            nearest = pairwise_distances_argmin(X, added)
            closer = np.linalg.norm(X - added[nearest], axis=1) < own
            labels[closer] = fitted + nearest[closer]
        return labels

    def add_segment(self, center: np.ndarray) -> int:
        """A segment the fit did not make (the far entities kept as their own); its code."""
        self.cluster_centers_ = np.vstack([self.cluster_centers_, center])
        self.added_segments_ = getattr(self, "added_segments_", 0) + 1
        return len(self.cluster_centers_) - 1


MISSING_GROUP = "(missing)"


def group_values(values: pd.Series | np.ndarray) -> np.ndarray:
    """A grouping column's values as text, a missing value as its own group."""
    series = pd.Series(values, copy=False)
    return series.astype("string").fillna(MISSING_GROUP).to_numpy(dtype=object)


class GroupedModel:
    """Segments nested within groups (a format, a region): one model per group, or None for a
    group that is one segment, with segment codes numbered across groups (a group's codes
    start at its offset). An entity of a group the fit never saw takes the nearest segment
    of any group."""

    def __init__(self, column: str, models: dict[str, SegmentModel | None], centers: dict[str, np.ndarray]):
        self.column = column
        self.models = models
        self.offsets, start = {}, 0
        for group in models:
            self.offsets[group] = start
            start += len(centers[group])
        self.cluster_centers_ = np.vstack([centers[group] for group in models])

    def predict(self, X: np.ndarray, groups: pd.Series | np.ndarray) -> np.ndarray:
        """The segment code of each row of ``X``, within its group."""
        X = np.asarray(X, dtype=np.float64)
        groups = group_values(groups)
        codes = np.empty(len(X), dtype=np.int64)
        for group in np.unique(groups):
            rows = groups == group
            if group not in self.models:
                codes[rows] = pairwise_distances_argmin(X[rows], self.cluster_centers_)
                continue
            model = self.models[group]
            own = model.predict(X[rows]) if model is not None else np.zeros(int(rows.sum()), dtype=np.int64)
            codes[rows] = self.offsets[group] + own
        return codes
