"""Stage 3: combine the datasets' segments into the final ones (merge, then overrides)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clustering.config import RunConfig
from clustering.io.validation import check_shared_ids
from clustering.merging import apply_overrides, distance_to_segment, merge_segments
from clustering.model.metrics import silhouette_many
from clustering.pipeline.cluster import LOW_SILHOUETTE, dataset_metrics
from clustering.pipeline.split import split_segments
from clustering.results import ClusteredDataset, Combined, PreparedDataset


def combine_segments(
    clustered: dict[str, ClusteredDataset],
    prepared: dict[str, PreparedDataset],
    config: RunConfig,
) -> Combined:
    """Assignments of every ID (the index): the merge of two labelings, or one dataset's
    labels as final; with a ``<dataset>_inferred`` flag where HDBSCAN noise was reassigned,
    and an ``override`` flag where the analyst moved an entity."""
    if len(clustered) == 2 and config.merge.enabled:
        (first, a), (second, b) = ((name, c.labels.index) for name, c in clustered.items())
        check_shared_ids(first, a, second, b, config.id_column)
        merge = merge_segments(
            {name: c.labels for name, c in clustered.items()},
            {name: p.matrix for name, p in prepared.items()},
            config.merge,
            config.random_state,
            {name: c.segment_group for name, c in clustered.items() if c.segment_group},
        )
        assignments = merge.assignments
    else:
        merge = None
        assignments = pd.concat([c.labels.rename(f"{name}_cluster") for name, c in clustered.items()], axis=1)
        assignments["final_cluster"] = assignments.iloc[:, 0].astype("string")
    assignments = _add_inferred_flags(assignments, clustered)
    assignments.index.name = config.id_column
    if merge is not None:
        _warn_low_silhouette(merge)
    assignments, splits = split_segments(
        assignments, lambda: assignment_space(merge, prepared), prepared, config
    )
    assignments, notes = apply_overrides(assignments, config.overrides)
    space, index = _assignment_space(merge, prepared)
    final = assignments["final_cluster"].reindex(index).to_numpy(dtype=str)
    distances, near = distance_to_segment(space, final)
    distance = pd.Series(distances.round(6), index=index)
    boundary = pd.Series(near, index=index)
    at = _after_final(assignments)
    assignments.insert(at, "distance_to_segment", distance.reindex(assignments.index))
    assignments.insert(
        at + 1, "near_boundary", boundary.reindex(assignments.index).fillna(False).astype(bool)
    )
    metrics = pd.DataFrame()
    if assignments["override"].any():
        present = ~np.isnan(space).any(axis=1)
        codes = pd.factorize(final[present])[0]
        (silhouette,) = silhouette_many(
            space[present], [codes], config.merge.metrics_sample, config.random_state
        )
        metrics = dataset_metrics(
            "final (with overrides)",
            space[present],
            codes,
            silhouette,
            min(int(present.sum()), config.merge.metrics_sample),
        )
    return Combined(assignments, merge, notes, metrics, splits)


def _warn_low_silhouette(merge) -> None:
    """A warning on the merge when its final segments' silhouette is below LOW_SILHOUETTE."""
    silhouette = merge.metrics.loc[merge.metrics["metric"].str.startswith("silhouette"), "after"]
    if len(silhouette) and float(silhouette.iloc[0]) < LOW_SILHOUETTE:
        merge.warnings.append(
            f"The silhouette of the final segments is {float(silhouette.iloc[0]):.3f}, below "
            f"{LOW_SILHOUETTE}: in the combined space, stores sit about as close to other segments "
            f"as to their own."
        )


def _assignment_space(merge, prepared: dict[str, PreparedDataset]) -> tuple[np.ndarray, pd.Index]:
    """The space the final segments live in, and its rows' IDs: the merge's combined space,
    or the one dataset's prepared matrix."""
    if merge is not None:
        return merge.space, merge.assignments.index
    matrix = next(iter(prepared.values())).matrix
    return matrix.to_numpy(), matrix.index


def assignment_space(merge, prepared: dict[str, PreparedDataset]) -> pd.DataFrame:
    """The space the final segments live in, by ID, its columns named as the prepared ones
    (the merge's space stacks each dataset's, in order)."""
    space, index = _assignment_space(merge, prepared)
    columns = [
        c
        for p in (prepared.values() if merge is not None else [next(iter(prepared.values()))])
        for c in p.matrix.columns
    ]
    return pd.DataFrame(space, index=index, columns=columns, copy=False)  # a view: 19 MB at 100k stores


def _after_final(assignments: pd.DataFrame) -> int:
    """Where ``distance_to_segment`` goes: after the merge's columns (or the final segment)."""
    last = "reassigned" if "reassigned" in assignments else "final_cluster"
    return assignments.columns.get_loc(last) + 1


def _add_inferred_flags(assignments: pd.DataFrame, clustered: dict[str, ClusteredDataset]) -> pd.DataFrame:
    """A ``<dataset>_inferred`` column for each dataset whose noise points were reassigned, and
    a ``<dataset>_far`` column for each whose far entities were set aside, then assigned."""
    for name, result in clustered.items():
        for column, flags in ((f"{name}_inferred", result.inferred), (f"{name}_far", result.far)):
            if flags is not None:
                assignments[column] = flags.reindex(assignments.index).fillna(False).astype(bool)
    return assignments
