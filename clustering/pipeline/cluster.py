"""Stage 2: cluster one dataset (k chosen by the configured rule, or density-based) and say
what to watch in the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from clustering.config import (
    ClusterConfig,
    DatasetConfig,
    resolve_size,
)
from clustering.errors import where
from clustering.model.clusterability import assess_clusterability
from clustering.model.density import MAX_EXACT_DIMENSIONS, fit_density
from clustering.model.kselection import KSelection, select_k
from clustering.model.metrics import same_partition, separation_scores, silhouette_many
from clustering.model.models import SegmentModel

if TYPE_CHECKING:  # the database layer (SQLAlchemy, sqlglot) loads only for a database run
    pass
from clustering.results import ClusteredDataset, PreparedDataset

LOW_SILHOUETTE = 0.1
REASSIGNED_SHARE = 0.2
UNSTABLE_JACCARD = 0.6


def cluster_dataset(
    prepared: PreparedDataset, config: DatasetConfig, prefix: str, random_state: int | None
) -> ClusteredDataset:
    """Choose k (or take the fixed k), fit on a sample of the inliers, assign every row;
    or, for HDBSCAN, find density-based segments and apply the noise policy."""
    clusterability = assess_clusterability(prepared.matrix.to_numpy()[~prepared.outliers], random_state)
    with where(f"{prepared.table.source} (dataset '{prepared.name}')"):
        result = _cluster_fit(prepared, config, prefix, random_state, not clusterability.clear)
    result.clusterability = clusterability
    result.warnings = cluster_warnings(result, config.cluster)
    return result


def cluster_warnings(result: ClusteredDataset, cluster: ClusterConfig) -> list[str]:
    """What an expert would raise an eyebrow at in one dataset's segments."""
    warnings = []
    if result.clusterability is not None and not result.clusterability.clear:
        warnings.append(
            f"{result.clusterability.summary()} Treat the segments as a convenient split of one "
            f"continuous population, and check that each is large and stable enough to act on."
        )
    if result.silhouette < LOW_SILHOUETTE:
        warnings.append(
            f"The silhouette of the segments is {result.silhouette:.3f}, below {LOW_SILHOUETTE}: "
            f"entities sit about as close to other segments as to their own."
        )
    selection = result.selection
    if selection is not None and cluster.k is None and cluster.k_min < cluster.k_max:
        if selection.chosen_k == cluster.k_max:
            warnings.append(
                f"k = {selection.chosen_k} is the largest k tried: the best k may lie above the range. "
                f"Raise k_max and look at the k-selection chart."
            )
        elif selection.chosen_k == cluster.k_min:
            warnings.append(
                f"k = {selection.chosen_k} is the smallest k tried: the data may hold fewer natural "
                f"groups than that (see the clusterability verdict)."
            )
    density = result.density
    if (
        density is not None
        and density.noise_before > REASSIGNED_SHARE
        and density.noise_after < density.noise_before
    ):
        how = {
            "random_forest": f"a RandomForest trained on {density.trained_rows:,} confident core rows",
            "nearest": "the nearest segment centroid",
        }[cluster.hdbscan.noise_policy]
        warnings.append(
            f"HDBSCAN labeled {density.noise_before:.0%} of rows noise, and they were reassigned by "
            f"{how}: their segments are inferred, not found (column '{result.name}_inferred'). "
            f"Consider noise_policy 'keep', a smaller min_cluster_size, or KMeans."
        )
    return warnings


def _cluster_fit(
    prepared: PreparedDataset, config: DatasetConfig, prefix: str, random_state: int | None, weak: bool
) -> ClusteredDataset:
    cluster = config.cluster
    if cluster.algorithm == "hdbscan":
        return _cluster_density(prepared, config, prefix, random_state)
    X = prepared.matrix.to_numpy()
    inliers = X[~prepared.outliers]
    min_size = resolve_size(cluster.min_segment_size, len(X))
    selection = select_k(inliers, cluster, min_size, random_state, weak)
    model = final_model(inliers, cluster, selection, random_state)
    codes = model.predict(X)
    notes = list(selection.warnings)
    notes.append(_fit_note(model, selection, len(inliers)))
    if prepared.outliers.any():
        notes.append(
            f"{int(prepared.outliers.sum())} outlier row(s) were left out of the fit, then assigned."
        )
    labels = pd.Series([f"{prefix}{c + 1}" for c in codes], index=prepared.matrix.index, dtype="string")
    silhouette = _sweep_silhouette(selection, codes, len(inliers) == len(X))
    if silhouette is None:
        (silhouette,) = silhouette_many(X, [codes], cluster.silhouette_sample, random_state)
    metrics = dataset_metrics(prepared.name, X, codes, silhouette, min(len(X), cluster.silhouette_sample))
    if len(model.start_scores_) > 1:
        best, worst = model.start_scores_.min(), model.start_scores_.max()
        label = "inertia" if cluster.algorithm != "gmm" else "negative log-likelihood per row"
        metrics = pd.concat(
            [
                metrics,
                pd.DataFrame(
                    [
                        (f"{label}, best of {len(model.start_scores_)} starts", best),
                        (f"{label}, worst start", worst),
                    ],
                    columns=["metric", "after"],
                ).assign(scope=prepared.name, before=np.nan),
            ],
            ignore_index=True,
        )
    return ClusteredDataset(
        prepared.name,
        labels,
        len(model.cluster_centers_),
        model.cluster_centers_,
        selection,
        metrics,
        notes,
        model=model,
    )


def _sweep_silhouette(selection: KSelection, codes: np.ndarray, no_outliers: bool) -> float | None:
    """The sweep's silhouette of the chosen k when it scored these very rows (no outlier left
    out, no sample drawn) and the final fit found the same partition: the same value (to the
    float32 rounding of the sums), without a second pass over the distances. None otherwise."""
    if not no_outliers or selection.sample_rows != len(codes):
        return None
    sweep = selection.models[selection.chosen_k].labels_
    if not same_partition(sweep, codes):
        return None
    return float(selection.scores.loc[selection.scores["k"] == selection.chosen_k, "silhouette"].iloc[0])


def final_model(
    X: np.ndarray, cluster: ClusterConfig, selection: KSelection, random_state: int | None
) -> SegmentModel:
    """The chosen k fitted on every row with ``n_init`` starts, the best kept; agglomerative
    clustering keeps the sweep's Ward model (deterministic, and fitted on a sample by design)."""
    if cluster.algorithm == "agglomerative":
        return selection.models[selection.chosen_k]
    return SegmentModel(
        cluster.algorithm, selection.chosen_k, random_state, cluster.agglomerative_max_rows, cluster.n_init
    ).fit(X)


def _fit_note(model: SegmentModel, selection: KSelection, rows: int) -> str:
    """How the final model was fitted, with the spread of its starts."""
    if not len(model.start_scores_):
        return (
            f"k was chosen on a fixed-seed sample of {selection.sample_rows:,} of {rows:,} rows; the Ward "
            f"model of that sample assigned every row to its nearest segment centroid."
        )
    scores = model.start_scores_
    text = f"The final model was fitted on all {rows:,} rows"
    if selection.sample_rows < rows:
        text = f"k was chosen on a fixed-seed sample of {selection.sample_rows:,} rows; t" + text[1:]
    if len(scores) == 1:
        return text + " with one start."
    spread = (scores.max() - scores.min()) / abs(scores.min()) if scores.min() else 0.0
    started_on = getattr(model, "start_rows_", rows)  # models saved before it was recorded: all rows
    if started_on < rows:
        return (
            text + f" from the best of {len(scores)} starts on a fixed-seed sample of {started_on:,} rows "
            f"(the worst start scored {spread:.1%} worse on the sample)."
        )
    return (
        text
        + f", best of {len(scores)} starts (the worst start scored {spread:.1%} worse"
        + (": single-start fits land in poorer local optima here)." if spread > 0.01 else ").")
    )


def _cluster_density(
    prepared: PreparedDataset, config: DatasetConfig, prefix: str, random_state: int | None
) -> ClusteredDataset:
    """HDBSCAN on every row; noise is segment 0 when kept, else reassigned and flagged."""
    X = prepared.matrix.to_numpy()
    density = fit_density(X, config.cluster.hdbscan, random_state)
    codes = density.labels
    labels = pd.Series([f"{prefix}{c + 1}" for c in codes], index=prepared.matrix.index, dtype="string")
    clustered = codes >= 0
    (silhouette,) = silhouette_many(
        X[clustered], [codes[clustered]], config.cluster.silhouette_sample, random_state
    )
    metrics = dataset_metrics(
        prepared.name,
        X[clustered],
        codes[clustered],
        silhouette,
        min(int(clustered.sum()), config.cluster.silhouette_sample),
    )
    extra = pd.DataFrame(
        [
            ("noise share before policy", density.noise_before),
            ("noise share after policy", density.noise_after),
            ("relative validity", density.relative_validity),
            (f"DBCV (sample of {density.dbcv_rows})", density.dbcv),
        ],
        columns=["metric", "after"],
    ).assign(scope=prepared.name, before=np.nan)
    notes = [
        f"HDBSCAN (min_cluster_size {density.min_cluster_size}) labeled {density.noise_before:.1%} of rows noise; "
        f"policy '{config.cluster.hdbscan.noise_policy}' leaves {density.noise_after:.1%}."
    ]
    if density.noise_after > 0:
        notes.append(f"Noise rows form segment {prefix}0.")
    if density.projected_variance is not None:
        notes.append(
            f"The data has {X.shape[1]} prepared columns: HDBSCAN ran on its first "
            f"{MAX_EXACT_DIMENSIONS} principal components ({density.projected_variance:.1%} of the variance)."
        )
    inferred = pd.Series(density.inferred, index=prepared.matrix.index)
    return ClusteredDataset(
        prepared.name,
        labels,
        len(density.centers),
        density.centers,
        None,
        pd.concat([metrics, extra], ignore_index=True),
        notes,
        density,
        inferred,
    )


def dataset_metrics(
    name: str, X: np.ndarray, codes: np.ndarray, silhouette: float, silhouette_rows: int
) -> pd.DataFrame:
    """Quality of one dataset's segments. The silhouette is the k sweep's, on its sample."""
    ch, db = separation_scores(X, codes)
    rows = [
        ("segments", float(len(np.unique(codes)))),
        ("smallest segment", float(np.bincount(codes).min())),
        (f"silhouette (sample of {silhouette_rows})", float(silhouette)),
        ("calinski_harabasz", ch),
        ("davies_bouldin", db),
    ]
    return pd.DataFrame(rows, columns=["metric", "after"]).assign(scope=name, before=np.nan)
