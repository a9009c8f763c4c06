"""Split one final segment further: its members clustered again on their own, in the space
the final segments were assigned in, by the same rules as a dataset (k chosen by the
dataset's rule unless fixed, its own clusterability verdict and bootstrap stability), the
rest untouched. Codes extend the segment's: ``I3-E2`` -> ``I3-E2.1``, ``I3-E2.2``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clustering.config import RunConfig
from clustering.errors import UserInputError
from clustering.pipeline.cluster import cluster_dataset
from clustering.pipeline.stability import assess_stability
from clustering.results import ClusteredDataset, PreparedDataset


@dataclass
class SplitSegment:
    """A split segment: its sub-segments' fit and their stability."""

    segment: str
    clustered: ClusteredDataset
    stability: pd.DataFrame

    def summary(self, entities: str) -> str:
        """The split in one sentence: how many sub-segments, how k was chosen, the verdict."""
        verdict = self.clustered.clusterability.verdict if self.clustered.clusterability else "no verdict"
        sizes = self.clustered.labels.value_counts().sort_index()
        parts = ", ".join(f"{code} ({size:,} {entities})" for code, size in sizes.items())
        how = self.clustered.selection.rule if self.clustered.selection is not None else "k fixed by you"
        return f"{self.segment} split into {self.clustered.k}: {parts}. k: {how}. Within it: {verdict}."


def split_segments(
    assignments: pd.DataFrame,
    space_of: Callable[[], pd.DataFrame],
    prepared: dict[str, PreparedDataset],
    config: RunConfig,
) -> tuple[pd.DataFrame, dict[str, SplitSegment]]:
    """The assignments with each segment of ``config.splits`` replaced by its sub-segments
    (its members clustered again in the assignment space, by ID, which ``space_of`` builds
    only when there is a split), and each split's fit and stability."""
    if not config.splits:
        return assignments, {}
    space = space_of()
    assignments = assignments.copy()
    final = assignments["final_cluster"].astype("string")
    done = {}
    for segment, split in config.splits.items():
        members = final.index[final == segment]
        if len(members) == 0:
            raise UserInputError(
                f"splits: segment '{segment}' is not a segment of this run (its segments: "
                f"{', '.join(sorted(final.dropna().unique()))}). Remove it from 'splits' or name one of those."
            )
        name, base = next(iter(prepared.items()))
        part = PreparedDataset(
            name,
            base.table,
            base.preprocessor,
            space.loc[members].fillna(0.0),  # a missing dataset's columns: that dataset's mean
            np.zeros(len(members), dtype=bool),
        )
        dataset = config.datasets[name].model_copy(deep=True, update={"group_by": None})
        dataset.cluster.k = split.k
        dataset.cluster.k_max = min(dataset.cluster.k_max, max(2, len(members) // 2))
        dataset.cluster.k_min = min(dataset.cluster.k_min, dataset.cluster.k_max)
        _check_size(segment, len(members), config)
        clustered = cluster_dataset(part, dataset, f"{segment}.", config.random_state)
        local = config.model_copy(update={"datasets": {**config.datasets, name: dataset}})
        stability = assess_stability(part, clustered, local) if config.stability.enabled else pd.DataFrame()
        assignments.loc[members, "final_cluster"] = clustered.labels.reindex(members).to_numpy()
        done[segment] = SplitSegment(segment, clustered, stability)
    return assignments, done


MIN_SPLIT_ROWS = 10


def _check_size(segment: str, size: int, config: RunConfig) -> None:
    entity, plural = config.entities()
    if size < MIN_SPLIT_ROWS:
        raise UserInputError(
            f"splits: segment '{segment}' has {size} {plural if size != 1 else entity}: too few to split "
            f"(at least {MIN_SPLIT_ROWS}). Remove it from 'splits'."
        )
