"""Dendrograms: a hierarchical fit's tree on its own sample, cut at k, and the tree of the
segments' centres."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clustering.explain.dendrogram import LEAVES, fit_tree, segment_tree
from clustering.model.models import SegmentModel


def blobs(rows_each: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(centre, 0.5, (rows_each, 3)) for centre in (0, 4, 9)])


def test_the_fits_tree_is_cut_into_its_k_segments_and_each_leaf_named_by_them():
    matrix = blobs(300)
    labels = pd.Series(
        [f"I{c + 1}" for c in SegmentModel("agglomerative", 3, 0, 500, 1, False).fit(matrix).labels_]
    )
    tree = fit_tree(matrix, labels, 3, 500, 0)
    assert (tree.rows, tree.total) == (500, 900)  # the fit's own sample of 500
    assert len(tree.leaf_segments) == LEAVES and sum(tree.leaf_sizes) == 500
    above = [ys for ys in tree.dcoord if max(ys) > tree.cut]
    assert len(above) == 2  # two merges above the cut: three segments below it
    below = [
        tree.link_segment(xs, ys)
        for xs, ys in zip(tree.icoord, tree.dcoord, strict=True)
        if max(ys) <= tree.cut
    ]
    assert below and all(segment in {"I1", "I2", "I3"} for segment in below)
    assert set(tree.leaf_segments) == {"I1", "I2", "I3"}


def test_the_segments_tree_joins_the_nearest_centres_first():
    centres = pd.DataFrame({"x": [0.0, 0.3, 5.0, 9.0], "y": [0.0, 0.1, 5.0, 9.0]}, index=["A", "B", "C", "D"])
    tree = segment_tree(centres, pd.Series({"A": 10, "B": 20, "C": 30, "D": 40}))
    assert sorted(tree.leaf_segments) == ["A", "B", "C", "D"] and tree.cut is None
    lowest = min(range(len(tree.dcoord)), key=lambda i: max(tree.dcoord[i]))
    first, last = (round((x - 5) / 10) for x in (min(tree.icoord[lowest]), max(tree.icoord[lowest])))
    assert {tree.leaf_segments[first], tree.leaf_segments[last]} == {"A", "B"}
    assert dict(zip(tree.leaf_segments, tree.leaf_sizes, strict=True)) == {"A": 10, "B": 20, "C": 30, "D": 40}
