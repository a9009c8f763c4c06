"""Compare two segmentations of the same entities: last quarter's clusters against this
quarter's, or two what-if scenarios.

On the entities both runs assigned: ARI and NMI between the labelings, the transition table
(segments of A by segments of B), and which entities moved. Segment IDs of two runs need not
mean the same thing, so B's segments are first matched to A's by maximum overlap
(Hungarian matching, as names follow their stores across reruns); an entity "moved" when
its B segment is not the one matched to its A segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from clustering.explain.labels import align_segments
from clustering.model.metrics import agreement


@dataclass
class Comparison:
    """Two runs side by side."""

    names: tuple[str, str]
    summary: pd.DataFrame
    sizes: pd.DataFrame
    metrics: pd.DataFrame
    transitions: pd.DataFrame
    moved: pd.DataFrame
    ari: float
    nmi: float

    def sheets(self) -> dict[str, pd.DataFrame]:
        """The comparison as workbook sheets."""
        return {
            "summary": self.summary,
            "sizes": self.sizes,
            "metrics": self.metrics,
            "transitions": self.transitions.reset_index(),
            "moved": self.moved,
        }


def compare_assignments(
    a: pd.DataFrame,
    b: pd.DataFrame,
    id_column: str,
    names: tuple[str, str] = ("A", "B"),
    metrics: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    entities: str = "entities",
) -> Comparison:
    """Compare two runs' ``assignments`` tables (ID, final_cluster, segment_name): agreement
    (ARI, NMI), sizes, the contingency table and who moved. One function because every part
    is read off the same aligned pair of labelings."""
    first, second = names
    left = a.set_index(id_column)
    right = b.set_index(id_column)
    left.index, right.index = left.index.astype(str), right.index.astype(str)
    shared = left.index.intersection(right.index)
    seg_a = left.loc[shared, "final_cluster"].astype(str)
    seg_b = right.loc[shared, "final_cluster"].astype(str)
    ari, nmi = agreement(seg_a.to_numpy(), seg_b.to_numpy()) if len(shared) else (float("nan"), float("nan"))
    matched = align_segments(seg_a, seg_b).set_index("segment")["previous"]  # B segment -> A segment
    moved_mask = seg_b.map(matched).fillna("(new)") != seg_a
    moved = pd.DataFrame(
        {
            id_column: shared[moved_mask.to_numpy()],
            f"segment {first}": seg_a[moved_mask].to_numpy(),
            f"name {first}": _names(left, shared[moved_mask.to_numpy()]),
            f"segment {second}": seg_b[moved_mask].to_numpy(),
            f"name {second}": _names(right, shared[moved_mask.to_numpy()]),
        }
    )
    summary = pd.DataFrame(
        [
            (f"{entities} in both runs", len(shared)),
            (f"only in {first}", len(left.index.difference(right.index))),
            (f"only in {second}", len(right.index.difference(left.index))),
            (f"segments in {first}", left["final_cluster"].nunique()),
            (f"segments in {second}", right["final_cluster"].nunique()),
            ("ARI between the runs", ari),
            ("NMI between the runs", nmi),
            (f"{entities} that moved", int(moved_mask.sum())),
            ("share that moved", float(moved_mask.mean()) if len(shared) else float("nan")),
        ],
        columns=["measure", "value"],
        dtype=object,  # counts stay whole numbers, ARI and shares keep their decimals
    )
    sizes = _sizes_side_by_side(left, right, matched, names)
    return Comparison(
        names,
        summary,
        sizes,
        _side_by_side(metrics, names),
        pd.crosstab(seg_a.rename(f"segment {first}"), seg_b.rename(f"segment {second}")),
        moved,
        ari,
        nmi,
    )


def _sizes_side_by_side(
    left: pd.DataFrame, right: pd.DataFrame, matched: pd.Series, names: tuple[str, str]
) -> pd.DataFrame:
    """One row per segment of A (largest first) beside the segment of B matched to it, then
    B's segments matched to none: each run's own codes and names in its own columns."""
    first, second = names
    size_a, size_b = (
        left["final_cluster"].astype(str).value_counts(),
        right["final_cluster"].astype(str).value_counts(),
    )
    name_a, name_b = _segment_names(left), _segment_names(right)
    partner = {a: b for b, a in matched.items()}  # A segment -> B segment
    rows = [
        (a, name_a.get(a), int(n), partner.get(a), name_b.get(partner.get(a)), size_b.get(partner.get(a)))
        for a, n in size_a.items()
    ]
    rows += [
        (None, None, None, b, name_b.get(b), int(n)) for b, n in size_b.items() if b not in partner.values()
    ]
    columns = [
        f"segment {first}",
        f"name {first}",
        f"size {first}",
        f"segment {second}",
        f"name {second}",
        f"size {second}",
    ]
    table = pd.DataFrame(rows, columns=columns)
    table[[f"size {first}", f"size {second}"]] = table[[f"size {first}", f"size {second}"]].astype("Int64")
    return table


def _segment_names(table: pd.DataFrame) -> dict[str, object]:
    if "segment_name" not in table:
        return {}
    return table.groupby(table["final_cluster"].astype(str))["segment_name"].first().to_dict()


def _names(table: pd.DataFrame, ids: pd.Index) -> list[object]:
    if "segment_name" not in table:
        return [None] * len(ids)
    return table.loc[ids, "segment_name"].tolist()


def _side_by_side(metrics: tuple[pd.DataFrame, pd.DataFrame] | None, names: tuple[str, str]) -> pd.DataFrame:
    """Both runs' metrics (scope, metric, value) in two columns."""
    if metrics is None:
        return pd.DataFrame(columns=["scope", "metric", *names])
    frames = [
        m.set_index(["scope", "metric"])["after"].rename(name) for m, name in zip(metrics, names, strict=True)
    ]
    return pd.concat(frames, axis=1).reset_index()
