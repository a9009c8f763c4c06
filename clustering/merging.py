"""Combine two labelings into merged segments and absorb the small ones.

Merged segment = the pair of labels of the same ID ("I2" and "E1" give "I2-E1"), matched
by ID, never by position. Segments below the minimum size, and IDs present in only one
dataset, go store by store to the nearest large segment: the distance is to that
segment's centroid in the combined standardized space (each dataset's prepared columns
re-standardized; with ``balance_datasets`` each dataset's block weighs the same), over
the columns the store has.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clustering.config import MergeConfig, resolve_size
from clustering.errors import UserInputError
from clustering.model.metrics import (
    BOUNDARY_MARGIN,
    agreement,
    group_sums,
    separation_scores,
    silhouette_many,
)


@dataclass
class SpaceScaling:
    """How one dataset's prepared columns enter the combined space: re-standardized, and with
    ``balance_datasets`` divided by sqrt(columns) so that each dataset weighs the same."""

    mean: np.ndarray
    std: np.ndarray
    weight: float

    def apply(self, matrix: pd.DataFrame) -> pd.DataFrame:
        values = (matrix.to_numpy(dtype=np.float64) - self.mean) / self.std * self.weight
        return pd.DataFrame(values, index=matrix.index)


@dataclass
class MergeResult:
    """Labels before and after the merge, what moved where, and how quality changed; with the
    fitted pieces (space scaling, large segments and their centroids) that assign new entities."""

    assignments: pd.DataFrame
    log: pd.DataFrame
    metrics: pd.DataFrame
    min_size: int
    warnings: list[str] = field(default_factory=list)
    scaling: dict[str, SpaceScaling] = field(default_factory=dict)
    large: list[str] = field(default_factory=list)
    centroids: np.ndarray | None = None
    space: np.ndarray | None = field(default=None, repr=False)
    nests: dict[str, dict[str, str]] = field(default_factory=dict)  # nested datasets: segment -> group


def space_scaling(matrices: dict[str, pd.DataFrame], balance: bool) -> dict[str, SpaceScaling]:
    """Each dataset's standardization in the combined space, fitted on its prepared matrix."""
    scaling = {}
    for name, matrix in matrices.items():
        values = matrix.to_numpy(dtype=np.float64)
        std = values.std(axis=0)
        std[std == 0] = 1.0
        weight = 1 / np.sqrt(values.shape[1]) if balance else 1.0
        scaling[name] = SpaceScaling(values.mean(axis=0), std, weight)
    return scaling


def combined_space(
    matrices: dict[str, pd.DataFrame], ids: pd.Index, scaling: dict[str, SpaceScaling]
) -> np.ndarray:
    """Stack each dataset's prepared matrix, scaled, aligned on ``ids`` (NaN where absent)."""
    return np.hstack(
        [scaling[name].apply(matrix).reindex(ids).to_numpy() for name, matrix in matrices.items()]
    )


def nearest_centroid(
    points: np.ndarray, centroids: np.ndarray, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Index of and distance to the nearest centroid, over each point's non-missing columns.

    ``allowed`` (points x centroids, boolean) restricts each point's candidates.
    """
    present = ~np.isnan(points)
    filled = np.where(present, points, 0.0)
    distances = np.empty((len(points), len(centroids)))
    for j, centroid in enumerate(centroids):
        distances[:, j] = (present * (filled - centroid) ** 2).sum(axis=1)
    if allowed is not None:
        distances[~allowed] = np.inf
    best = distances.argmin(axis=1)
    return best, np.sqrt(distances[np.arange(len(points)), best])


def merged_labels(labels: dict[str, pd.Series], ids: pd.Index, separator: str) -> pd.Series:
    aligned = [labels[name].reindex(ids) for name in labels]
    complete = aligned[0].notna() & aligned[1].notna()
    merged = aligned[0].astype("string") + separator + aligned[1].astype("string")
    return merged.where(complete)


def candidates(
    labels: dict[str, pd.Series],
    ids: pd.Index,
    large: list[str],
    separator: str,
    nests: dict[str, dict[str, str]] | None = None,
) -> np.ndarray:
    """Which large segments each moving ID may join: a store missing from one dataset keeps
    the segment it has in the other (I3 joins an I3-E* segment) whenever one is large; and a
    store of a nested dataset (``nests``: segment -> group, per dataset) stays in its group
    (a hypermarket joins a hypermarket segment) whenever one of its group is large."""
    parts = np.array([segment.split(separator) for segment in large], dtype=object)
    allowed = np.ones((len(ids), len(large)), dtype=bool)
    for position, name in enumerate(labels):
        known = labels[name].reindex(ids)
        match = known.fillna("").to_numpy(dtype=object)[:, None] == parts[None, :, position]
        has_match = match.any(axis=1) & known.notna().to_numpy()
        incomplete = labels[next(n for n in labels if n != name)].reindex(ids).isna().to_numpy()
        restrict = has_match & incomplete
        allowed[restrict] = match[restrict]
    for position, name in enumerate(labels):
        nest = (nests or {}).get(name)
        if nest:
            _stay_in_group(allowed, labels[name].reindex(ids), parts[:, position], nest)
    return allowed


def _stay_in_group(allowed: np.ndarray, known: pd.Series, parts: np.ndarray, nest: dict[str, str]) -> None:
    """Narrow ``allowed`` to the large segments of each entity's own group, where there is one."""
    own = known.map(nest).to_numpy(dtype=object)
    target = np.array([nest.get(part) for part in parts], dtype=object)
    same = (own[:, None] == target[None, :]) & pd.notna(own)[:, None]
    both = allowed & same
    allowed[both.any(axis=1)] = both[both.any(axis=1)]
    only_group = ~both.any(axis=1) & same.any(axis=1)
    allowed[only_group] = same[only_group]


def _coverage(labels: dict[str, pd.Series], ids: pd.Index) -> pd.Series:
    first, second = labels
    has_first = labels[first].reindex(ids).notna().to_numpy()
    has_second = labels[second].reindex(ids).notna().to_numpy()
    values = np.where(has_first & has_second, "both", np.where(has_first, f"{first} only", f"{second} only"))
    return pd.Series(values, index=ids, dtype="string")


def merge_segments(
    labels: dict[str, pd.Series],
    matrices: dict[str, pd.DataFrame],
    config: MergeConfig,
    random_state: int | None = None,
    nests: dict[str, dict[str, str]] | None = None,
) -> MergeResult:
    """Merge two labelings (Series of labels indexed by ID) and reassign small segments (within
    their group, for a nested dataset: ``nests``, segment -> group per dataset)."""
    ids = labels[next(iter(labels))].index
    for name in list(labels)[1:]:
        ids = ids.append(labels[name].index.difference(ids, sort=False))
    # Aligned on ``ids`` once: every later reindex on ``ids`` is then free, where each one
    # looked up 100k text IDs again (a fifth of a second per merge at 100k stores).
    labels = {name: series.reindex(ids) for name, series in labels.items()}
    merged = merged_labels(labels, ids, config.separator)
    scaling = space_scaling(matrices, config.balance_datasets)
    space = combined_space(matrices, ids, scaling)
    min_size = resolve_size(config.min_segment_size, len(ids))
    sizes = merged.value_counts()
    large = sorted(sizes[sizes >= min_size].index)
    notes = []
    if not large:
        large = [sizes.index[0]]
        notes.append(
            f"No merged segment reaches the minimum size of {min_size}; every store joins the "
            f"largest segment {large[0]}. Lower merge.min_segment_size."
        )
    final = merged.where(merged.isin(large))
    moving = final.isna().to_numpy()
    centroids = np.vstack(
        [space[merged.eq(seg).fillna(False).to_numpy(dtype=bool)].mean(axis=0) for seg in large]
    )
    allowed = candidates(labels, ids[moving], large, config.separator, nests)
    target, distance = nearest_centroid(space[moving], centroids, allowed)
    final[moving] = np.asarray(large, dtype=object)[target]
    assignments = merge_columns(labels, ids, merged, final, moving)
    log = _merge_log(assignments, pd.Series(distance, index=ids[moving]), sizes, min_size)
    metrics = _before_after(space, merged, final, config, random_state)
    result = MergeResult(assignments, log, metrics, min_size, notes, scaling, large, centroids, space)
    result.nests = nests or {}
    return result


def merge_columns(
    labels: dict[str, pd.Series], ids: pd.Index, merged: pd.Series, final: pd.Series, moving: np.ndarray
) -> pd.DataFrame:
    """The merge's columns of the assignments (each dataset's segment, the merged one, the
    final one, which datasets the entity has, whether it was reassigned), in the run and in
    ``assign`` alike."""
    assignments = pd.DataFrame({f"{name}_cluster": labels[name].reindex(ids) for name in labels})
    assignments["merged_cluster"] = merged
    assignments["final_cluster"] = final.astype("string")
    assignments["coverage"] = _coverage(labels, ids)
    assignments["reassigned"] = moving
    return assignments


def _merge_log(
    assignments: pd.DataFrame, moved_distance: pd.Series, sizes: pd.Series, min_size: int
) -> pd.DataFrame:
    """One row per (source, target) of the reassigned entities; ``moved_distance`` is each
    one's distance to the centroid of the large segment it joined (before reassignment)."""
    moved = assignments[assignments["reassigned"]].assign(distance=moved_distance)
    columns = ["source", "target", "moved", "source_size", "target_size", "mean_distance", "reason"]
    if moved.empty:
        return pd.DataFrame(columns=columns)
    first, second = (c.removesuffix("_cluster") for c in moved.columns[:2])
    known = moved[f"{first}_cluster"].fillna(moved[f"{second}_cluster"])
    missing = np.where(moved[f"{first}_cluster"].isna(), first, second)
    source = moved["merged_cluster"].fillna(
        known + " (no " + pd.Series(missing, index=moved.index) + " data)"
    )
    grouped = moved.groupby([source, moved["final_cluster"]], sort=True)["distance"]
    log = grouped.agg(moved="size", mean_distance="mean").reset_index()
    log.columns = ["source", "target", "moved", "mean_distance"]
    log["source_size"] = log["source"].map(sizes).fillna(log["moved"]).astype(int)
    log["target_size"] = log["target"].map(sizes).astype(int)
    log["reason"] = np.where(
        log["source"].isin(sizes.index),
        "segment of " + log["source_size"].astype(str) + f" is below the minimum size of {min_size}",
        "store is missing from one dataset",
    )
    log["mean_distance"] = log["mean_distance"].round(4)
    return log[columns]


def segment_centroids(space: np.ndarray, codes: np.ndarray, n_segments: int) -> np.ndarray:
    """Mean of each segment's points over the columns they have (NaN where a dataset is absent)."""
    present = ~np.isnan(space)
    sums = group_sums(np.where(present, space, 0.0), codes, n_segments)
    counts = group_sums(present, codes, n_segments)
    return np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)


def distances_to_centroids(space: np.ndarray, centroids: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Euclidean distance of each point to the centroid of its segment (``codes``), over the
    columns the point has (a store without external data: its internal columns); NaN for a
    point without a segment (code -1)."""
    known = codes >= 0
    distance = np.full(len(space), np.nan)
    gap = np.where(np.isnan(space[known]), 0.0, space[known] - centroids[codes[known]])
    distance[known] = np.sqrt((gap**2).sum(axis=1))
    return distance


def near_boundary(space: np.ndarray, centroids: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Whether each entity sits near a segment boundary: the centre of another segment is less
    than ``BOUNDARY_MARGIN`` farther from it than its own segment's centre (``codes``), over
    the columns it has. Such an entity could sit on either side of an arbitrary boundary."""
    if len(centroids) < 2:
        return np.zeros(len(space), dtype=bool)
    present = ~np.isnan(space)
    filled = np.where(present, space, 0.0)
    # squared distance to every centre over the entity's own columns, without a rows x k x d array
    squares = (
        (filled**2).sum(axis=1)[:, None] - 2 * filled @ centroids.T + present.astype(float) @ (centroids.T**2)
    )
    distances = np.sqrt(np.maximum(squares, 0.0))
    own = distances[np.arange(len(space)), codes]
    distances[np.arange(len(space)), codes] = np.inf
    return distances.min(axis=1) < (1 + BOUNDARY_MARGIN) * own


def distance_to_segment(space: np.ndarray, final: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``distance_to_segment``, one definition for the run, ``assign`` and the DFU files: the
    distance of each entity to the centre of its final segment, in the space the segments
    were assigned in (the prepared columns of one dataset; the merge's combined space of
    two), the centre being the mean of the segment's entities after overrides; and, from the
    same centres, whether each entity is ``near_boundary``."""
    codes, segments = pd.factorize(pd.Series(final, dtype=object), sort=True)
    centroids = segment_centroids(space, codes, len(segments))
    return distances_to_centroids(space, centroids, codes), near_boundary(space, centroids, codes)


def _before_after(
    space: np.ndarray, merged: pd.Series, final: pd.Series, config: MergeConfig, random_state: int | None
) -> pd.DataFrame:
    """Quality of the merged segments before and after reassignment, on stores in both datasets."""
    complete = merged.notna().to_numpy()
    points = space[complete]
    # integer codes: every metric below sorts its labels, and 100k strings sort slowly
    before = pd.factorize(merged[complete], sort=True)[0]
    after = pd.factorize(final[complete], sort=True)[0]
    sil = silhouette_many(points, [before, after], config.metrics_sample, random_state)
    ch_before, db_before = separation_scores(points, before)
    ch_after, db_after = separation_scores(points, after)
    ari, nmi = agreement(before, after)
    rows = [
        ("segments", len(np.unique(before)), len(np.unique(after))),
        (
            "smallest segment",
            int(pd.Series(before).value_counts().min()),
            int(pd.Series(after).value_counts().min()),
        ),
        (f"silhouette (sample of {min(len(points), config.metrics_sample)})", sil[0], sil[1]),
        ("calinski_harabasz", ch_before, ch_after),
        ("davies_bouldin", db_before, db_after),
        ("ARI before vs after", np.nan, ari),
        ("NMI before vs after", np.nan, nmi),
    ]
    return pd.DataFrame(rows, columns=["metric", "before", "after"]).assign(scope="merged")


def contingency(assignments: pd.DataFrame, rows: str, columns: str) -> pd.DataFrame:
    """Counts of IDs per pair of labels (e.g. internal x external segments), with totals."""
    present = assignments.dropna(subset=[rows, columns])
    return pd.crosstab(present[rows], present[columns], margins=True, margins_name="total")


def apply_overrides(assignments: pd.DataFrame, overrides: dict[str, str]) -> tuple[pd.DataFrame, list[str]]:
    """The analyst's moves (entity ID -> final segment) applied to ``final_cluster``, flagged in an
    ``override`` column. An override of an unknown ID, or to a segment this run does not have,
    is not applied and is reported, never silently dropped."""
    assignments = assignments.copy()
    assignments["override"] = False
    if not overrides:
        return assignments, []
    segments = set(assignments["final_cluster"].dropna())
    ids = pd.Index(list(overrides), dtype="string")
    known = ids.isin(assignments.index)
    targets = pd.Series(overrides).reindex(ids)
    valid = known & targets.isin(segments).to_numpy()
    chosen = ids[valid]
    assignments.loc[chosen, "final_cluster"] = targets[valid].to_numpy()
    assignments.loc[chosen, "override"] = True
    notes = []
    if (~known).any():
        missing = list(ids[~known][:5])
        notes.append(
            f"{int((~known).sum())} override(s) name IDs that are not in the data and were not applied "
            f"(e.g. {', '.join(missing)}). Remove them from 'overrides', or check the IDs."
        )
    gone = known & ~valid
    if gone.any():
        examples = [f"{i} → {targets[i]}" for i in ids[gone][:5]]
        notes.append(
            f"{int(gone.sum())} override(s) move entities to segments this run does not have, so they were "
            f"not applied (e.g. {', '.join(examples)}); the entities keep their computed segment. The segments "
            f"now are: {', '.join(sorted(segments))}. Point the overrides at one of those."
        )
    return assignments, notes


def ids_matching(frame: pd.DataFrame, expression: str, id_column: str) -> list[str]:
    """IDs of the rows of ``frame`` (one row per entity, its features beside its segment) that
    match a filter such as ``region == "North" and revenue > 2e6`` (pandas query syntax)."""
    if not expression.strip():
        raise UserInputError('The filter is empty: write a condition such as region == "North".')
    try:
        matched = frame.query(expression, engine="python")
    except Exception as error:  # pandas raises many types for a bad expression
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        columns = ", ".join(map(str, frame.columns[:15]))
        raise UserInputError(
            f"The filter '{expression}' cannot be applied ({reason}). Use column names as they are "
            f"(here: {columns}…), == for equality, and quotes around text."
        ) from None
    if matched.empty:
        raise UserInputError(f"No entity matches the filter '{expression}'.")
    return matched[id_column].astype(str).tolist()
