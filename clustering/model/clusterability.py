"""Is there cluster structure at all? Hartigan's dip test, as Adolfsson, Ackerman & Brownstein
(2019, "To cluster, or not to cluster", Pattern Recognition 88) recommend, and the gap
statistic's check of one group against two (Tibshirani, Walther & Hastie 2001).

Three tests on the prepared data, the space the segments are found in. Two dip tests of
unimodality (the ``diptest`` package; p-values from Hartigan's tables):

- **dip on the first principal component** (of a fixed-seed sample of at most 50,000 rows):
  groups separated along the main axis of variation make it multimodal;
- **dip on pairwise distances** (all pairs of a fixed-seed sample of at most 379 rows, the
  most whose 71,631 pairs stay within the range of the tabulated p-values):
  separated groups make distances within groups and between groups two modes, in any
  direction.

And the **gap statistic, one group against two** (of a fixed-seed sample of at most 1,000
rows, 10 uniform reference sets in the box of its principal axes): two groups beat one when
the 1-SE rule prefers them, gap(1) < gap(2) - s(2), *and* by an effect of at least
``GAP_EFFECT``: gap(2) - gap(1) >= 0.1, two centres reducing the log within-dispersion by at
least 0.1 more than they do in the reference continuum. The standard error alone shrinks
with the rows, and a continuum's small departures from the box then pass: a 5-D normal
with every correlation 0.6 (after the run's preparation, which trims its tails) reached
0.068, a uniform square 0.043 (``benchmarks/quality.py``, the controls table: 8 shapes,
300 to 5,000 rows, 2 to 13 columns, 10 draws each), while wine's cultivars give 0.165,
penguins' species 0.41 and the planted demos 0.135 to 0.25. In many dimensions groups that k-means
recovers (wine's three cultivars, ARI 0.9) leave neither the main axis nor the distances
bimodal; the gap sees them, because two centres explain more of the spread than they do in
any box-shaped continuum. Measured in ``benchmarks/quality.py`` (``verdict_table``).

The verdict is "clear" when a dip test rejects unimodality at 5% after a Bonferroni
correction for the two (p < 0.025), or the gap prefers two groups; else "weak": the data
is one continuous cloud, and segments are a useful partition of a continuum, not natural
groups. Uniform data, a single Gaussian blob (round or elongated) and skewed or
heavy-tailed clouds are "weak"; well-separated blobs are "clear".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist
from sklearn.decomposition import PCA

from clustering.formats import p_text
from clustering.model.kselection import gap_statistic
from clustering.model.metrics import sample_rows

ALPHA = 0.05
PC_SAMPLE = 50_000
DISTANCE_SAMPLE = 379  # 71,631 pairs: within the 72,000 values the p-value tables cover
GAP_SAMPLE = 1_000
GAP_REFERENCES = 10
GAP_TEST = "gap statistic, one group against two"
GAP_EFFECT = 0.1  # least gap(2) - gap(1) for two groups (module docstring; benchmarks/quality.py)
CLEAR = "clear cluster structure"
WEAK = "weak structure: segments are a useful partition of a continuum, not natural groups"


@dataclass
class Clusterability:
    """The tests (test, statistic, p_value, rows, groups: whether it finds groups) and the
    plain verdict. The gap's row has no p-value: its statistic is gap(2) - gap(1), at least
    ``GAP_EFFECT`` (and beyond one standard error) when two groups beat one."""

    tests: pd.DataFrame
    clear: bool

    @property
    def verdict(self) -> str:
        return CLEAR if self.clear else WEAK

    def plain(self, entities: str = "rows") -> str:
        """The verdict in a sentence an analyst can repeat, and why the tests disagree when they do."""
        if not self.clear:
            return (
                f"The {entities} form one continuous spread: no test finds separate groups, so the segments "
                "are a convenient split of a continuum, useful for planning but not natural kinds."
            )
        finding = self.tests["groups"].astype(bool)
        sentence = f"The {entities} fall into natural groups: separate groups show in the data."
        if not finding.all():
            sentence += (
                " Not every test sees them: the dip tests look for gaps along the main direction and among "
                "the distances, the gap statistic compares the spread with an even cloud, and groups that "
                "overlap a little show in one and not the other."
            )
        return sentence

    def summary(self) -> str:
        """One sentence: the verdict and the evidence."""
        dips = [f"{r.test} {p_text(r.p_value)}" for r in self.tests.itertuples() if r.test != GAP_TEST]
        gap = self.tests.loc[self.tests["test"] == GAP_TEST, "groups"]
        words = f"Hartigan's dip test: {'; '.join(dips)}"
        if len(gap):
            words += f"; the gap statistic prefers {'two groups to one' if gap.iloc[0] else 'one group'}"
        return f"{self.verdict.capitalize()} ({words})."


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
    dips = [
        ("dip on the first principal component", *_dip(component), len(rows)),
        ("dip on pairwise distances", *_dip(distances), len(pairs)),
    ]
    records = [(*dip, dip[2] < ALPHA / len(dips)) for dip in dips]
    records.append(_gap_one_against_two(X, random_state))
    tests = pd.DataFrame(records, columns=["test", "statistic", "p_value", "rows", "groups"])
    return Clusterability(tests, bool(tests["groups"].any()))


def _gap_one_against_two(X: np.ndarray, random_state: int | None) -> tuple:
    """The gap's row: gap(2) - gap(1), no p-value, the rows used, and whether two groups beat
    one (the 1-SE rule's k above 1, by at least ``GAP_EFFECT``)."""
    rows = min(len(X), GAP_SAMPLE)
    if len(X) < 4 or X.shape[1] == 0 or np.ptp(X, axis=0).max() == 0:
        return (GAP_TEST, 0.0, np.nan, rows, False)
    gap = gap_statistic(X, [1, 2], GAP_REFERENCES, GAP_SAMPLE, random_state)
    effect = float(gap["gap"].iloc[1] - gap["gap"].iloc[0])
    if not np.isfinite(effect):  # two distinct points or fewer: nothing to compare
        return (GAP_TEST, 0.0, np.nan, rows, False)
    beyond_error = effect > float(gap["gap_se"].iloc[1])
    return (GAP_TEST, effect, np.nan, rows, beyond_error and effect >= GAP_EFFECT)
