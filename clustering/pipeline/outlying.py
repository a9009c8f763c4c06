"""Entities far from every other (clustering.model.outliers), in a dataset's run: found
before the structure test and the choice of k, left out of both, then assigned to their
nearest segment and flagged, or given a segment of their own (``cluster.far_entities``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clustering.config import ClusterConfig
from clustering.model.models import SegmentModel
from clustering.model.outliers import FarEntities, far_entities
from clustering.results import ClusteredDataset, PreparedDataset


def find_far_entities(
    prepared: PreparedDataset, cluster: ClusterConfig, random_state: int | None
) -> FarEntities:
    """The entities far from every other, among those the preparation kept in the fit (none
    when the config includes them, or for HDBSCAN, whose noise policy handles them)."""
    kept = ~prepared.outliers
    found = FarEntities(np.zeros(len(kept), dtype=bool))
    if cluster.far_entities == "include" or cluster.algorithm == "hdbscan" or cluster.k is not None:
        return found
    X = prepared.matrix.to_numpy()
    within = far_entities(X[kept], list(prepared.matrix.columns), random_state)
    positions = np.flatnonzero(kept)
    found.mask[positions[within.mask]] = True
    found.columns = {int(positions[row]): names for row, names in within.columns.items()}
    return found


def report_far_entities(
    result: ClusteredDataset, prepared: PreparedDataset, far: FarEntities, policy: str, prefix: str
) -> None:
    """Flag the far entities, say which and why, and (``own_segment``) give them their segment."""
    ids = prepared.matrix.index
    result.far = pd.Series(far.mask, index=ids)
    listed = "; ".join(
        f"{ids[row]} ({', '.join(dict.fromkeys(c.split('=')[0] for c in columns))})"
        for row, columns in list(far.columns.items())[:10]
    )
    more = f" and {far.count - 10:,} more" if far.count > 10 else ""
    what = f"{far.count:,} entit{'y' if far.count == 1 else 'ies'} far from every other"
    if policy == "own_segment" and isinstance(result.model, SegmentModel):
        code = result.model.add_segment(prepared.matrix.to_numpy()[far.mask].mean(axis=0))
        result.labels[far.mask] = f"{prefix}{code + 1}"
        result.k, result.centers = len(result.model.cluster_centers_), result.model.cluster_centers_
        result.notes.append(
            f"{what} form segment {prefix}{code + 1} of their own (far_entities: own_segment), after the "
            f"structure test and the choice of k left them out: {listed}{more}."
        )
        return
    result.notes.append(
        f"{what} were left out of the structure test and the choice of k, then assigned to their "
        f"nearest segment (flagged in '{prepared.name}_far'): {listed}{more}. Extreme on the columns "
        "named. To keep them as a segment of their own, set cluster.far_entities: own_segment."
    )
