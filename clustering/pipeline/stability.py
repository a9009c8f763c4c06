"""Stage 5: the bootstrap stability of each dataset's segments, and its findings."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from clustering.config import (
    DatasetConfig,
    RunConfig,
    StabilityConfig,
)
from clustering.io.validation import (
    Finding,
)
from clustering.model.density import fit_density
from clustering.model.models import GroupedModel, group_values, refit_labels
from clustering.model.stability import segment_stability
from clustering.model.threads import in_parallel

if TYPE_CHECKING:  # the database layer (SQLAlchemy, sqlglot) loads only for a database run
    pass
from clustering.results import ClusteredDataset, PreparedDataset


def refit_function(config: DatasetConfig, k: int) -> Callable[[np.ndarray, int], np.ndarray]:
    """(rows, seed) -> labels: the dataset's clustering rerun, for the stability check."""
    cluster = config.cluster
    if cluster.algorithm == "hdbscan":
        return lambda rows, seed: fit_density(rows, cluster.hdbscan, seed).labels
    return lambda rows, seed: refit_labels(
        rows, cluster.algorithm, k, seed, cluster.stable_starts, cluster.agglomerative_max_rows
    )


def nested_refit(config: DatasetConfig, model: GroupedModel) -> Callable[[np.ndarray, int], np.ndarray]:
    """(rows, seed) -> labels for a nested segmentation: rows carry their group's position as
    the last column; each group is refitted with its own k (a one-segment group stays one),
    codes numbered across groups as the model numbers them."""
    ks = {g: (m.n_clusters if m is not None else 1) for g, m in model.models.items()}

    def refit(rows: np.ndarray, seed: int) -> np.ndarray:
        codes = np.zeros(len(rows), dtype=np.int64)
        position = rows[:, -1].astype(int)
        for index, group in enumerate(model.models):
            mine = position == index
            k = min(ks[group], int(mine.sum()))
            offset = model.offsets[group]
            codes[mine] = offset + (refit_function(config, k)(rows[mine, :-1], seed) if k > 1 else 0)
        return codes

    return refit


def assess_stability(
    prepared: PreparedDataset, clustered: ClusteredDataset, config: RunConfig
) -> pd.DataFrame:
    """Per segment of one dataset: bootstrap Jaccard (mean, min), stable flag, and the mean ARI;
    entities the fit left out (outliers, far entities set aside) are left out here too."""
    inliers = ~prepared.outliers
    set_aside = config.datasets[prepared.name].cluster.far_entities == "set_aside"
    if clustered.far is not None and set_aside:
        inliers &= ~clustered.far.reindex(prepared.matrix.index).fillna(False).to_numpy(dtype=bool)
    X = prepared.matrix.to_numpy()[inliers]
    labels = clustered.labels.to_numpy(dtype=object)[inliers]
    refit = refit_function(config.datasets[prepared.name], clustered.k)
    if isinstance(clustered.model, GroupedModel):  # the group rides along as a last column
        groups = group_values(prepared.table.frame[clustered.model.column])[inliers]
        order = {g: i for i, g in enumerate(clustered.model.models)}
        X = np.column_stack([X, [order[g] for g in groups]])
        refit = nested_refit(config.datasets[prepared.name], clustered.model)
    result = segment_stability(X, labels, refit, config.stability, config.random_state)
    table = result.segments.rename(columns={"code": "segment"})
    table.insert(0, "dataset", prepared.name)
    table["size"] = table["segment"].map(clustered.labels.value_counts()).fillna(0).astype(int)
    table = table.assign(ari_mean=result.ari_mean, ari_std=result.ari_std, rows=result.rows)
    return table.assign(failed_refits=result.failed)


def stability_findings(stability: pd.DataFrame, config: StabilityConfig) -> list[Finding]:
    """Findings for unstable segments, and for datasets whose refits failed (each counted as a
    Jaccard of 0)."""
    if stability.empty or "failed_refits" not in stability:
        return []
    findings = [
        Finding(
            "warning",
            f"stability of {row.dataset}",
            f"Segment {row.segment} is unstable: its mean bootstrap Jaccard is {row.jaccard_mean:.2f} "
            f"(below {config.threshold}), so it does not reliably come back when the data is resampled. "
            f"Consider fewer segments, or treat it as provisional.",
        )
        for row in stability[~stability["stable"]].itertuples()
    ]
    failed = stability.groupby("dataset", sort=False)["failed_refits"].first()
    findings += [
        Finding(
            "warning",
            f"stability of {dataset}",
            f"{int(n)} of {config.resamples} refits on subsamples found no segments; each counts as a "
            f"Jaccard of 0 for every segment, so the segments are less stable than they look.",
        )
        for dataset, n in failed.items()
        if n
    ]
    return findings


def check_stability(
    prepared: dict[str, PreparedDataset], clustered: dict[str, ClusteredDataset], config: RunConfig
) -> pd.DataFrame:
    """Bootstrap stability of every dataset's segments (empty when turned off)."""
    if not config.stability.enabled:
        return pd.DataFrame()
    tables = in_parallel({n: partial(assess_stability, prepared[n], clustered[n], config) for n in clustered})
    return pd.concat(tables.values(), ignore_index=True)
