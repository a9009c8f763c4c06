"""Is there cluster structure at all? Hartigan's dip test, as Adolfsson, Ackerman & Brownstein
(2019, "To cluster, or not to cluster", Pattern Recognition 88) recommend.

Two dip tests of unimodality (the ``diptest`` package; p-values from Hartigan's tables) on
the prepared data, the space the segments are found in:

- **dip on the first principal component** (of a fixed-seed sample of at most 50,000 rows):
  groups separated along the main axis of variation make it multimodal;
- **dip on pairwise distances** (all pairs of a fixed-seed sample of at most 379 rows, the
  most whose 71,631 pairs stay within the range of the tabulated p-values):
  separated groups make distances within groups and between groups two modes, in any
  direction.

The verdict is "clear" when either test rejects unimodality at 5% after a Bonferroni
correction for two tests (p < 0.025), else "weak": the data is one continuous cloud, and
segments are a useful partition of a continuum, not natural groups. Uniform data and a
single Gaussian blob, round or elongated, are "weak"; well-separated blobs are "clear".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist
from sklearn.decomposition import PCA

from clustering.model.metrics import sample_rows

ALPHA = 0.05
PC_SAMPLE = 50_000
DISTANCE_SAMPLE = 379  # 71,631 pairs: within the 72,000 values the p-value tables cover
CLEAR = "clear cluster structure"
WEAK = "weak structure: segments are a useful partition of a continuum, not natural groups"


@dataclass
class Clusterability:
    """The tests (test, statistic, p_value, rows) and the plain verdict."""

    tests: pd.DataFrame
    clear: bool

    @property
    def verdict(self) -> str:
        return CLEAR if self.clear else WEAK

    def summary(self) -> str:
        """One sentence: the verdict and the evidence."""
        parts = [f"{r.test} {p_text(r.p_value)}" for r in self.tests.itertuples()]
        return f"{self.verdict.capitalize()} (Hartigan's dip test: {'; '.join(parts)})."


def p_text(p: float) -> str:
    """A p-value as a reader expects it: ``p < 0.001`` below that, else ``p = 0.0123``."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3g}"


def _dip(values: np.ndarray) -> tuple[float, float]:
    import diptest

    if len(values) < 4 or np.ptp(values) == 0:
        return 0.0, 1.0
    statistic, p_value = diptest.diptest(np.asarray(values, dtype=np.float64))
    return float(statistic), float(p_value)


def assess_clusterability(X: np.ndarray, random_state: int | None = 0) -> Clusterability:
    """Dip tests on the first principal component and on pairwise distances (module docstring)."""
    X = np.asarray(X, dtype=np.float64)
    rows = X[sample_rows(len(X), PC_SAMPLE, random_state)]
    if X.shape[1] > 1 and len(rows) > 2:
        component = PCA(1, random_state=random_state).fit_transform(rows)[:, 0]
    else:
        component = rows[:, 0] if X.shape[1] else np.zeros(len(rows))
    pairs = X[sample_rows(len(X), DISTANCE_SAMPLE, random_state)]
    distances = pdist(pairs) if len(pairs) > 1 else np.zeros(0)
    records = [
        ("dip on the first principal component", *_dip(component), len(rows)),
        ("dip on pairwise distances", *_dip(distances), len(pairs)),
    ]
    tests = pd.DataFrame(records, columns=["test", "statistic", "p_value", "rows"])
    clear = bool((tests["p_value"] < ALPHA / len(tests)).any())
    return Clusterability(tests, clear)
