"""Entities far from every other (a handful of very large stores, a DFU with a data error):
found before k is chosen, so that they neither make the structure look clear nor become a
segment of their own by accident.

An entity is far when both hold, in the prepared space:

- it is extreme on at least one column: more than ``FAR_Z`` robust standard deviations from the
  column's median (median absolute deviation x 1.4826, or the interquartile range / 1.349
  where that is zero; a column with neither, such as a rare indicator, is not judged);
- it is isolated: fewer than ``COMPANY`` other entities lie within twice Tukey's far-out fence
  (Q3 + 3 IQR) of the distances from entities to their nearest neighbour (on a fixed-seed
  sample of at most ``NEIGHBOUR_SAMPLE`` rows, so the check stays linear in the rows); a small
  group of extreme entities keeps each other company and stays a possible segment.

The default preparation clips each column at its 1st and 99th percentiles, which already
tames a handful of extreme values in a large table; what stays far is what matters.

More than ``MAX_SHARE`` of the rows (and more than ``HANDFUL``) so found is not a handful: then
none is set aside (they may well be a segment). Thresholds measured in ``benchmarks/quality.py --recommendation``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.neighbors import NearestNeighbors

from clustering.model.metrics import sample_rows

FAR_Z = 10.0
MAX_SHARE = 0.05
HANDFUL = 5  # in a small table a handful is more than 5% of its rows
COMPANY = 3  # fewer other entities than this within the fence: isolated (more: a small group)
NEIGHBOUR_SAMPLE = 20_000
MIN_ROWS = 20  # fewer rows: nothing is judged far


@dataclass
class FarEntities:
    """Which rows are far, and for each far row the columns it is extreme on."""

    mask: np.ndarray
    columns: dict[int, list[str]] = field(default_factory=dict)  # row position -> column names

    @property
    def count(self) -> int:
        return int(self.mask.sum())


def robust_z(X: np.ndarray) -> np.ndarray:
    """|x - median| in robust standard deviations, per column (NaN where a column has no spread)."""
    median = np.median(X, axis=0)
    spread = 1.4826 * np.median(np.abs(X - median), axis=0)
    q1, q3 = np.percentile(X, [25, 75], axis=0)
    spread = np.where(spread > 0, spread, (q3 - q1) / 1.349)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(X - median) / np.where(spread > 0, spread, np.nan)


def far_entities(X: np.ndarray, names: list[str], random_state: int | None = None) -> FarEntities:
    """The rows of ``X`` far from every other (see the module docstring)."""
    none = FarEntities(np.zeros(len(X), dtype=bool))
    if len(X) < MIN_ROWS:
        return none
    z = np.nan_to_num(robust_z(X), nan=0.0)
    candidates = np.flatnonzero((z > FAR_Z).any(axis=1))
    if not candidates.size or candidates.size > len(X) // 2:
        return none
    reference = np.union1d(sample_rows(len(X), NEIGHBOUR_SAMPLE, random_state), candidates)
    neighbours = NearestNeighbors(n_neighbors=2).fit(X[reference])
    typical = neighbours.kneighbors(X[np.setdiff1d(reference, candidates)])[0][:, 1]  # nearest other row
    q1, q3 = np.percentile(typical, [25, 75])
    fence = q3 + 3 * (q3 - q1)
    around = neighbours.radius_neighbors(X[candidates], radius=2 * fence, return_distance=False)
    far = candidates[np.array([len(rows) - 1 < COMPANY for rows in around])]
    if not far.size or far.size > max(MAX_SHARE * len(X), HANDFUL):
        return none
    mask = none.mask.copy()
    mask[far] = True
    columns = {int(row): [names[j] for j in np.flatnonzero(z[row] > FAR_Z)] for row in far}
    return FarEntities(mask, columns)
