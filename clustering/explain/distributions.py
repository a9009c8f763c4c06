"""How each feature is spread within each segment, in the feature's real units.

A box plot of a feature with one 700M store flattens every other box; these views keep the
drawn range to where nearly all entities are, count the few beyond it in the end bins and
say so, and offer a log axis for skewed columns. The quantile table is the workbook's
``distributions`` sheet and the report's "middle half" ranges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

QUANTILES = {"p5": 0.05, "p25": 0.25, "median": 0.5, "p75": 0.75, "p95": 0.95}
FENCE = 3.0  # drawn up to 3 interquartile ranges beyond the quartiles; farther values are outliers
OUTLIER_SHARE = 0.01  # and at most 1% on each side: more beyond a fence are a group, drawn
SKEWED = 1.5  # a positive column with a skewness beyond this reads better on a log axis
ALL = "all"


def segment_quantiles(final: pd.Series, features: pd.DataFrame) -> pd.DataFrame:
    """One row per numeric feature and segment (and ``all``): how many entities have a
    value, the mean, the minimum, the 5th, 25th, 50th, 75th and 95th percentiles and the
    maximum, in the feature's own units."""
    numeric = features.select_dtypes("number").reindex(final.index)
    if numeric.empty:
        return pd.DataFrame(columns=["feature", "segment", "entities", "mean", "min", *QUANTILES, "max"])
    segments = final.astype(str).rename("segment")
    parts = [_described(numeric.groupby(segments)), _described(numeric.groupby(np.repeat(ALL, len(numeric))))]
    table = pd.concat(parts, ignore_index=True)
    order = {name: i for i, name in enumerate(numeric.columns)}
    table = table.sort_values(
        ["feature", "segment"], key=lambda c: c.map(order) if c.name == "feature" else c
    )
    return table.reset_index(drop=True)


SHEET_STATISTICS = ("p5", "p25", "median", "p75", "p95")


def distributions_sheet(quantiles: pd.DataFrame, names: pd.DataFrame, entities: str) -> pd.DataFrame:
    """The workbook's ``distributions`` sheet: one row per segment (named, then its code, and
    a last row for all entities), five percentiles per feature, each column formatted as its
    feature (``attrs['format_as']``: a share as %, money by magnitude)."""
    if quantiles.empty:
        return pd.DataFrame(columns=["segment", "code"])
    wide = quantiles.pivot(index="segment", columns="feature", values=list(SHEET_STATISTICS))
    features = list(dict.fromkeys(quantiles["feature"]))
    columns = {f"{feature} {stat}": (stat, feature) for feature in features for stat in SHEET_STATISTICS}
    table = pd.DataFrame({column: wide[key] for column, key in columns.items()}, index=wide.index)
    label = names.set_index("segment")["label"].astype(str)
    codes = [c for c in label.index if c in table.index] + [ALL]
    table = table.reindex(codes)
    table.insert(0, "code", codes)
    table.insert(0, "segment", [label.get(c, f"all {entities}") for c in codes])
    table = table.reset_index(drop=True)
    table.attrs["format_as"] = {column: feature for column, (_, feature) in columns.items()}
    return table


def _described(groups: pd.core.groupby.DataFrameGroupBy) -> pd.DataFrame:
    stats = {
        "entities": groups.count(),
        "mean": groups.mean(),
        "min": groups.min(),
        **{name: groups.quantile(q) for name, q in QUANTILES.items()},
        "max": groups.max(),
    }
    long = {name: frame.stack().rename(name) for name, frame in stats.items()}
    table = pd.concat(long.values(), axis=1).reset_index()
    table.columns = ["segment", "feature", *long]
    table["entities"] = table["entities"].astype(int)
    return table[["feature", "segment", *long]]


def reads_better_on_a_log_axis(values: pd.Series) -> bool:
    """Whether a column is positive and skewed enough that a log axis shows its spread."""
    present = pd.to_numeric(values, errors="coerce").dropna()
    return bool(len(present) > 2 and (present > 0).all() and present.skew() > SKEWED)


@dataclass(frozen=True)
class Histogram:
    """Shares of each segment's entities per bin, the bins shared by every segment."""

    feature: str
    edges: np.ndarray  # bin edges in the feature's units (geometric on a log axis)
    shares: pd.DataFrame  # segment x bin: the share of the segment's entities in the bin
    counts: pd.DataFrame  # segment x bin: how many entities
    log: bool
    below: int  # entities below the drawn range, counted in the first bin
    above: int  # entities above it, counted in the last bin
    lowest: float
    highest: float
    missing: int  # entities without a value, not drawn

    def outliers_note(self, entities: str, shown: callable = lambda v: f"{v:,.4g}") -> str:
        """The entities beyond the drawn range, in words ('' when there are none)."""
        parts = []
        if self.below:
            parts.append(
                f"{self.below:,} {entities} below {shown(self.edges[0])} (down to {shown(self.lowest)}) "
                f"are counted in the first bar"
            )
        if self.above:
            parts.append(
                f"{self.above:,} {entities} above {shown(self.edges[-1])} (up to {shown(self.highest)}) "
                f"are counted in the last bar"
            )
        if self.missing:
            parts.append(f"{self.missing:,} {entities} without a value are not drawn")
        return "; ".join(parts) + ("." if parts else "")


def histogram(values: pd.Series, segments: pd.Series, bins: int = 30, log: bool | None = None) -> Histogram:
    """Bins shared by every segment over the feature's range up to its outliers (beyond 3
    interquartile ranges from the quartiles, on the axis' scale), with the outliers counted
    in the end bins (one extreme store does not squeeze the rest into one bar); geometric bins on a log axis, which ``log=None`` picks for a
    positive, skewed column. Every entity is counted once: no sampling at 100k."""
    numbers = pd.to_numeric(values, errors="coerce").reindex(segments.index)
    present = numbers.notna().to_numpy()
    data, labels = numbers.to_numpy(dtype=float)[present], segments.astype(str).to_numpy()[present]
    log = reads_better_on_a_log_axis(numbers) if log is None else log and bool((data > 0).all())
    low, high = _drawn_range(data, log)
    edges = np.geomspace(low, high, bins + 1) if log else np.linspace(low, high, bins + 1)
    clipped = np.clip(data, low, high)
    order = sorted(pd.unique(segments.astype(str)))
    counts = pd.DataFrame(
        [np.histogram(clipped[labels == s], bins=edges)[0] for s in order], index=order, dtype=int
    )
    sizes = counts.sum(axis=1).replace(0, 1)
    return Histogram(
        feature=str(values.name),
        edges=edges,
        shares=counts.div(sizes, axis=0),
        counts=counts,
        log=log,
        below=int((data < low).sum()),
        above=int((data > high).sum()),
        lowest=float(data.min()) if data.size else float("nan"),
        highest=float(data.max()) if data.size else float("nan"),
        missing=int((~present).sum()),
    )


def _drawn_range(data: np.ndarray, log: bool) -> tuple[float, float]:
    """From the lowest to the highest value that is not an outlier: beyond Tukey's far fences
    (on the log of the values for a log axis) and among the 1% most extreme of its side (a
    group of small DFUs beyond a fence is drawn, the one 700M store is not); widened for a
    column of one value."""
    if not data.size:
        return (1.0, 10.0) if log else (0.0, 1.0)
    scaled = np.log(data) if log else data
    q1, q3, p_low, p_high = np.quantile(scaled, [0.25, 0.75, OUTLIER_SHARE, 1 - OUTLIER_SHARE])
    below, above = min(q1 - FENCE * (q3 - q1), p_low), max(q3 + FENCE * (q3 - q1), p_high)
    inside = scaled[(scaled >= below) & (scaled <= above)]
    low, high = float(inside.min()), float(inside.max())
    if high <= low:
        return (low - 0.5, high + 0.5) if not log else (float(np.exp(low)) / 2, float(np.exp(low)) * 2)
    return (float(np.exp(low)), float(np.exp(high))) if log else (low, high)
