"""Dendrograms: the tree of a hierarchical (Ward) fit with its cut at k, and the tree of any
run's segment centres (which segments are near each other).

Ward's tree needs memory quadratic in rows: it is built on the fit's own fixed-seed sample
(``model.models``), then truncated to its last ``LEAVES`` merges so it stays readable; each
leaf is a group of entities, named by the segment most of them are in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import dendrogram, to_tree

from clustering.model.metrics import sample_rows
from clustering.model.models import ward_tree

LEAVES = 30  # a readable depth: the last 30 merges


@dataclass(frozen=True)
class Tree:
    """A dendrogram as drawn: each link's x and y corners (scipy's), the leaves left to right
    with their segment and size, the height of the cut into k segments (None: no cut)."""

    icoord: list[list[float]]
    dcoord: list[list[float]]
    leaf_segments: list[str]
    leaf_sizes: list[int]
    cut: float | None
    rows: int  # entities the tree was built on
    total: int  # entities in the data

    def link_segment(self, icoord: list[float], dcoord: list[float]) -> str | None:
        """The segment of a link below the cut (all its leaves are in it), else None."""
        if self.cut is not None and max(dcoord) > self.cut:
            return None
        first = round((min(icoord) - 5) / 10)  # scipy puts leaf i at x = 5 + 10 i
        last = round((max(icoord) - 5) / 10)
        segments = set(self.leaf_segments[first : last + 1])
        return segments.pop() if len(segments) == 1 else None


def fit_tree(matrix: np.ndarray, labels: pd.Series, k: int, max_rows: int, random_state: int | None) -> Tree:
    """The Ward tree of a hierarchical fit, on the same fixed-seed sample the fit used (all
    rows when they are few), cut at ``k``; leaves named by their entities' segments."""
    rows = sample_rows(len(matrix), max_rows, random_state)
    linkage = ward_tree(matrix[rows])
    segments = labels.astype(str).to_numpy()[rows]
    cut = _cut_height(linkage, k)
    return _drawn(linkage, segments, cut, len(matrix))


def segment_tree(centres: pd.DataFrame, sizes: pd.Series) -> Tree:
    """The Ward tree of the segments' centres: which segments are near each other and in
    what order they would merge. One leaf per segment; no cut."""
    if len(centres) < 2:
        return Tree(
            [], [], [str(s) for s in centres.index], [int(sizes.get(s, 0)) for s in centres.index], None, 0, 0
        )
    linkage = ward_tree(centres.fillna(0.0).to_numpy())
    segments = np.asarray([str(s) for s in centres.index])
    tree = _drawn(linkage, segments, None, int(sizes.sum()))
    leaf_sizes = [int(sizes.get(s, 0)) for s in tree.leaf_segments]
    return Tree(
        tree.icoord, tree.dcoord, tree.leaf_segments, leaf_sizes, None, len(centres), int(sizes.sum())
    )


def _cut_height(linkage: np.ndarray, k: int) -> float | None:
    """Halfway between the merges that leave k and k - 1 clusters."""
    merges = len(linkage)
    if k < 2 or k > merges:
        return None
    return float((linkage[merges - k, 2] + linkage[merges - k + 1, 2]) / 2)


def _drawn(linkage: np.ndarray, segments: np.ndarray, cut: float | None, total: int) -> Tree:
    """Scipy's drawing of the tree's last LEAVES merges, each leaf named by its members' most
    common segment."""
    drawn = dendrogram(linkage, truncate_mode="lastp", p=LEAVES, no_plot=True)
    _, nodes = to_tree(linkage, rd=True)
    leaf_segments, leaf_sizes = [], []
    for leaf in drawn["leaves"]:
        members = nodes[leaf].pre_order()
        values, counts = np.unique(segments[members], return_counts=True)
        leaf_segments.append(str(values[counts.argmax()]))
        leaf_sizes.append(len(members))
    return Tree(drawn["icoord"], drawn["dcoord"], leaf_segments, leaf_sizes, cut, len(segments), total)
