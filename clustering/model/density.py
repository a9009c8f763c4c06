"""Density-based segments with HDBSCAN, and what to do with the points it calls noise.

Euclidean distances use fast_hdbscan (several times faster than scikit-learn's HDBSCAN at
100k rows: docs/benchmarks.md); other metrics use the hdbscan package. fast_hdbscan
compiles with numba on first use and caches the compiled code next to its
sources; ``warm_up`` triggers that once, on tiny data.

Noise policy: ``keep`` makes noise a segment of its own (segment 0); ``random_forest``
trains a RandomForest on the confident core points (membership probability at least
``core_probability``) and predicts the segment of each noise point; ``nearest`` assigns
each noise point to the nearest segment centroid. Reassigned points are flagged
``inferred``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import pairwise_distances_argmin

from clustering.config import HdbscanConfig, resolve_size
from clustering.errors import UserInputError
from clustering.model.metrics import sample_rows
from clustering.model.models import canonical_order, centroids_of

NOISE = -1
MAX_EXACT_DIMENSIONS = 30
PCA_SAMPLE = 50_000


def _writable_numba_cache() -> None:
    """fast_hdbscan caches its compiled code next to its sources; where that folder is
    read-only, use a per-user cache folder instead, so the compile happens once."""
    import importlib.util

    spec = importlib.util.find_spec("fast_hdbscan")
    folder = Path(spec.origin).parent if spec and spec.origin else None
    if folder is not None and not os.access(folder, os.W_OK):
        os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "clustering-studio" / "numba"))


@dataclass
class DensityResult:
    """HDBSCAN's labels before and after the noise policy, with validity scores."""

    labels: np.ndarray
    raw_labels: np.ndarray
    inferred: np.ndarray
    probabilities: np.ndarray
    centers: np.ndarray
    min_cluster_size: int
    noise_before: float
    noise_after: float
    relative_validity: float
    dbcv: float
    dbcv_rows: int
    projected_variance: float | None = None
    trained_rows: int = 0


def relative_validity(edges: np.ndarray, labels: np.ndarray) -> float:
    """HDBSCAN's relative validity (a fast DBCV approximation) from the mutual-reachability
    minimum spanning tree's edges (from, to, distance); ported from the hdbscan package."""
    cluster_sizes = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.array([], dtype=int)
    n_clusters = len(cluster_sizes)
    if n_clusters == 0 or len(edges) == 0:
        return float("nan")
    start, end, distance = edges[:, 0].astype(np.intp), edges[:, 1].astype(np.intp), edges[:, 2]
    first, second = labels[start], labels[end]
    sparseness = np.zeros(n_clusters)
    separation = np.full(n_clusters, np.inf)
    one_noise = (first == NOISE) ^ (second == NOISE)
    neither = (first != NOISE) & (second != NOISE)
    same, different = neither & (first == second), neither & (first != second)
    np.maximum.at(sparseness, first[same], distance[same])
    np.minimum.at(separation, first[different], distance[different])
    np.minimum.at(separation, second[different], distance[different])
    max_distance = distance.max()
    outlier_separation = distance[one_noise].min() if one_noise.any() else max_distance
    separation[np.isinf(separation)] = 2 * (max_distance if n_clusters > 1 else outlier_separation)
    with np.errstate(invalid="ignore", divide="ignore"):
        index = np.nan_to_num((separation - sparseness) / np.maximum(separation, sparseness))
    return float(np.sum(cluster_sizes * index) / len(labels))


def density_space(X: np.ndarray, random_state: int | None) -> tuple[np.ndarray, float | None]:
    """The points HDBSCAN runs on: ``X`` itself, or for more than ``MAX_EXACT_DIMENSIONS``
    columns its first principal components, and the share of variance they keep (None when
    not projected). fast_hdbscan's exact k-d tree path takes at most 30 dimensions (wider data
    would need pynndescent's approximate neighbours), and densities in many dimensions are
    dominated by noise anyway; the projection is deterministic."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.shape[1] <= MAX_EXACT_DIMENSIONS or X.shape[0] <= MAX_EXACT_DIMENSIONS:
        return X, None
    pca = PCA(MAX_EXACT_DIMENSIONS, svd_solver="randomized", random_state=random_state).fit(
        X[sample_rows(len(X), PCA_SAMPLE, random_state)]
    )
    return np.ascontiguousarray(pca.transform(X)), float(pca.explained_variance_ratio_.sum())


def _fit_hdbscan(
    X: np.ndarray, config: HdbscanConfig, min_cluster_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw labels (noise = -1), membership probabilities and MST edges (at most 30 columns for
    the Euclidean metric: see ``density_space``)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    options = {
        "min_cluster_size": min_cluster_size,
        "min_samples": config.min_samples,
        "cluster_selection_epsilon": config.cluster_selection_epsilon,
        "cluster_selection_method": config.cluster_selection_method,
    }
    if config.metric == "euclidean":
        _writable_numba_cache()
        import fast_hdbscan

        model = fast_hdbscan.HDBSCAN(reproducible=True, **options).fit(X)
    else:
        import hdbscan

        model = hdbscan.HDBSCAN(
            metric=config.metric, gen_min_span_tree=True, core_dist_n_jobs=2, **options
        ).fit(X)
    return model.labels_.astype(np.int64), model.probabilities_, model.minimum_spanning_tree_.to_numpy()


def warm_up() -> np.ndarray:
    """Compile (or load the cached compile of) fast_hdbscan's numba code on tiny data: two
    separated blobs, whose labels are returned."""
    rng = np.random.default_rng(0)
    blobs = np.vstack([rng.normal(0, 0.3, size=(30, 2)), rng.normal(5, 0.3, size=(30, 2))])
    return _fit_hdbscan(blobs, HdbscanConfig(), 5)[0]


def _exact_dbcv(
    X: np.ndarray, labels: np.ndarray, sample: int, metric: str, random_state: int | None
) -> tuple[float, int]:
    """Exact DBCV (hdbscan.validity_index) on a fixed-seed sample of at most ``sample`` rows."""
    from hdbscan.validity import validity_index

    positions = sample_rows(len(X), sample, random_state)
    labels = labels[positions]
    if len(np.unique(labels[labels >= 0])) < 2:
        return float("nan"), len(positions)
    try:
        return float(validity_index(X[positions], labels, metric=metric)), len(positions)
    except (ValueError, ZeroDivisionError):  # degenerate clusters (e.g. duplicates only)
        return float("nan"), len(positions)


def _apply_policy(
    X: np.ndarray, raw: np.ndarray, probabilities: np.ndarray, config: HdbscanConfig, random_state: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Final labels, the inferred flag after the noise policy, and how many clustered rows the
    reassignment learned from (core points for the RandomForest, all for 'nearest')."""
    noise = raw == NOISE
    if config.noise_policy == "keep" or not noise.any():
        return raw.copy(), np.zeros(len(raw), dtype=bool), 0
    labels = raw.copy()
    n_clusters = int(raw.max()) + 1
    if config.noise_policy == "nearest":
        centers = centroids_of(X[~noise], raw[~noise], n_clusters)
        labels[noise] = pairwise_distances_argmin(X[noise], centers)
        return labels, noise, int((~noise).sum())
    else:
        core = ~noise & (probabilities >= config.core_probability)
        if len(np.unique(raw[core])) < n_clusters:  # a segment without confident points
            core = ~noise
        forest = RandomForestClassifier(
            n_estimators=200, min_samples_leaf=2, random_state=random_state, n_jobs=2
        )
        forest.fit(X[core], raw[core])
        labels[noise] = forest.predict(X[noise])
    return labels, noise, int(core.sum())


def fit_density(X: np.ndarray, config: HdbscanConfig, random_state: int | None = None) -> DensityResult:
    """Run HDBSCAN, apply the noise policy, and score the result."""
    min_cluster_size = max(2, resolve_size(config.min_cluster_size, len(X)))
    setting = f"min_cluster_size {config.min_cluster_size} (= {min_cluster_size} of {len(X):,} rows)"
    if min_cluster_size >= len(X):
        raise UserInputError(f"hdbscan.{setting} must be smaller than the number of rows. Lower it.")
    space, projected = density_space(X, random_state) if config.metric == "euclidean" else (X, None)
    raw, probabilities, edges = _fit_hdbscan(space, config, min_cluster_size)
    if (raw == NOISE).all():
        raise UserInputError(
            f"HDBSCAN found no segment: every row is noise with {setting}. "
            f"Lower min_cluster_size or min_samples."
        )
    clustered = raw >= 0
    mapping = canonical_order(raw[clustered], centroids_of(X[clustered], raw[clustered], int(raw.max()) + 1))
    raw = np.where(clustered, mapping[np.maximum(raw, 0)], NOISE)
    validity = relative_validity(edges, raw)
    dbcv, dbcv_rows = _exact_dbcv(X, raw, config.dbcv_sample, config.metric, random_state)
    labels, inferred, trained_rows = _apply_policy(X, raw, probabilities, config, random_state)
    kept = labels >= 0
    centers = centroids_of(X[kept], labels[kept], int(labels.max()) + 1)
    return DensityResult(
        labels=labels,
        raw_labels=raw,
        inferred=inferred,
        probabilities=probabilities,
        centers=centers,
        min_cluster_size=min_cluster_size,
        noise_before=float((raw == NOISE).mean()),
        noise_after=float((labels == NOISE).mean()),
        relative_validity=validity,
        dbcv=dbcv,
        dbcv_rows=dbcv_rows,
        projected_variance=projected,
        trained_rows=trained_rows,
    )
