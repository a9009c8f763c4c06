"""Stage 2: cluster one dataset (k chosen by the configured rule, or density-based) and say
what to watch in the result.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from clustering.config import (
    ClusterConfig,
    DatasetConfig,
    resolve_size,
)
from clustering.errors import UserInputError, where
from clustering.model.clusterability import assess_clusterability
from clustering.model.density import MAX_EXACT_DIMENSIONS, fit_density
from clustering.model.kselection import KSelection, select_k
from clustering.model.metrics import same_partition, separation_scores, silhouette_many
from clustering.model.models import MISSING_GROUP, GroupedModel, SegmentModel, group_values
from clustering.pipeline.outlying import find_far_entities, report_far_entities

if TYPE_CHECKING:  # the database layer (SQLAlchemy, sqlglot) loads only for a database run
    pass
from clustering.io.validation import ValidatedTable
from clustering.results import ClusteredDataset, PreparedDataset

LOW_SILHOUETTE = 0.1
SMALL_GROUP = "one segment (a small group)"
REASSIGNED_SHARE = 0.2
UNSTABLE_JACCARD = 0.6


def cluster_dataset(
    prepared: PreparedDataset, config: DatasetConfig, prefix: str, random_state: int | None
) -> ClusteredDataset:
    """Choose k (or take the fixed k), fit on a sample of the inliers, assign every row;
    or, for HDBSCAN, find density-based segments and apply the noise policy."""
    if config.group_by is not None:
        return cluster_nested(prepared, config, prefix, random_state)
    far = find_far_entities(prepared, config.cluster, random_state)
    fitted = prepared if not far.count else replace(prepared, outliers=prepared.outliers | far.mask)
    clusterability = assess_clusterability(fitted.matrix.to_numpy()[~fitted.outliers], random_state)
    with where(f"{prepared.table.source} (dataset '{prepared.name}')"):
        result = _cluster_fit(fitted, config, prefix, random_state, not clusterability.clear)
    if far.count:
        report_far_entities(result, prepared, far, config.cluster.far_entities, prefix)
    result.clusterability = clusterability
    result.warnings = cluster_warnings(result, config.cluster)
    return result


def cluster_nested(
    prepared: PreparedDataset, config: DatasetConfig, prefix: str, random_state: int | None
) -> ClusteredDataset:
    """Segments within each value of ``config.group_by``: each group clustered on its own (its
    own verdict and k, by the dataset's rule) in the dataset's prepared space, segment codes
    numbered across groups in the groups' order. A group with fewer rows than twice the
    minimum segment size (resolved on the whole dataset) cannot hold two segments: it is one."""
    check_group_column(prepared.name, prepared.table, config.group_by)
    groups = group_values(prepared.table.frame[config.group_by])
    X = prepared.matrix.to_numpy()
    min_size = resolve_size(config.cluster.min_segment_size, len(X))
    parts: dict[str, ClusteredDataset | None] = {}
    for group in sorted(set(groups), key=lambda g: (g == MISSING_GROUP, g)):  # missing last
        rows = groups == group
        if rows.sum() < max(2 * min_size, 2):
            parts[group] = None
            continue
        part = PreparedDataset(
            prepared.name,
            prepared.table,
            prepared.preprocessor,
            prepared.matrix[rows],
            prepared.outliers[rows],
        )
        parts[group] = cluster_dataset(
            part, config.model_copy(update={"group_by": None}), prefix, random_state
        )
    return _nested_result(prepared, config, prefix, groups, parts, random_state)


MAX_GROUPS = 50


def check_group_column(name: str, table: ValidatedTable, column: str) -> None:
    """A nested segmentation's grouping column must be a column of the table with a few values."""
    if column not in table.frame.columns:
        choices = ", ".join(table.categorical) or "none of its columns has a few text values"
        raise UserInputError(
            f"{table.source} (dataset '{name}'): group_by names column '{column}', which the table "
            f"does not have. Name a column of formats or regions ({choices}), or clear group_by."
        )
    groups = table.frame[column].nunique(dropna=True)
    if groups > MAX_GROUPS:
        raise UserInputError(
            f"{table.source} (dataset '{name}'): group_by column '{column}' has {groups:,} distinct "
            f"values; nested segmentation clusters within each, so it needs a column of at most "
            f"{MAX_GROUPS} groups (a format, a region, a climate zone). Pick another column."
        )


def _nested_result(
    prepared: PreparedDataset,
    config: DatasetConfig,
    prefix: str,
    groups: np.ndarray,
    parts: dict[str, ClusteredDataset | None],
    random_state: int | None,
) -> ClusteredDataset:
    """One dataset's result from its groups' (None: a one-segment group)."""
    X = prepared.matrix.to_numpy()
    centers = {
        g: (p.centers if p is not None else X[groups == g].mean(axis=0, keepdims=True))
        for g, p in parts.items()
    }
    model = GroupedModel(config.group_by, {g: p.model if p else None for g, p in parts.items()}, centers)
    codes = model.predict(X, groups)
    labels = pd.Series([f"{prefix}{c + 1}" for c in codes], index=prepared.matrix.index, dtype="string")
    (silhouette,) = silhouette_many(X, [codes], config.cluster.silhouette_sample, random_state)
    metrics = dataset_metrics(
        prepared.name, X, codes, silhouette, min(len(X), config.cluster.silhouette_sample)
    )
    table, notes, warnings = _group_summary(config, prefix, groups, parts, model)
    result = ClusteredDataset(
        prepared.name,
        labels,
        len(model.cluster_centers_),
        model.cluster_centers_,
        None,
        metrics,
        notes,
        model=model,
    )
    result.groups = {g: p for g, p in parts.items() if p is not None}
    flagged = [p.far for p in result.groups.values() if p.far is not None]
    if flagged:
        result.far = pd.concat(flagged).reindex(labels.index).fillna(False).astype(bool)
    result.group_table = pd.DataFrame(table)
    result.segment_group = {
        f"{prefix}{model.offsets[g] + i + 1}": g for g in parts for i in range(len(centers[g]))
    }
    result.warnings = warnings
    return result


def _group_summary(
    config: DatasetConfig,
    prefix: str,
    groups: np.ndarray,
    parts: dict[str, ClusteredDataset | None],
    model: GroupedModel,
) -> tuple[list[dict], list[str], list[str]]:
    """One row per group (rows, k, its segment codes, rule, verdict), and the groups' notes
    and warnings, each naming its group; the small-group policy as a note."""
    table, notes, warnings = [], [], []
    for group, part in parts.items():
        first = model.offsets[group] + 1
        k = part.k if part is not None else 1
        table.append(
            {
                "group": group,
                "rows": int((groups == group).sum()),
                "k": k,
                "segments": f"{prefix}{first}" + (f" to {prefix}{first + k - 1}" if k > 1 else ""),
                "rule": part.selection.rule if part is not None and part.selection else SMALL_GROUP,
                "verdict": part.clusterability.verdict.split(":")[0] if part is not None else "",
            }
        )
        if part is not None:
            notes += [f"{config.group_by} {group}: {note}" for note in part.notes]
            warnings += [f"{config.group_by} {group}: {warning}" for warning in part.warnings]
    small = [row["group"] for row in table if row["rule"] == SMALL_GROUP]
    if small:
        notes.append(
            f"{config.group_by} {', '.join(small)}: fewer rows than twice the minimum segment size "
            f"({config.cluster.min_segment_size}), so each is one segment."
        )
    return table, notes, warnings


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
