"""What each statistic means, in a sentence, wherever it appears: as the help of a table's
column, beside a metric's value, in the report's appendix. One place, so every page explains
a silhouette or a Jaccard the same way and on the same scale (``model.stability``)."""

from __future__ import annotations

import re

import pandas as pd

from clustering.formats import count, number, percent
from clustering.model.stability import PATTERN, STABLE

MEANINGS: list[tuple[re.Pattern[str], str, str]] = [
    (
        re.compile(r"silhouette"),
        "silhouette",
        "From -1 to 1: how much closer each row sits to its own segment than to the next one "
        "(above 0.25: some structure; above 0.5: clearly separated). Computed on a sample.",
    ),
    (
        re.compile(r"calinski"),
        "Calinski-Harabasz index",
        "Spread between segments against the spread within them: higher is better; compare it "
        "across k on the same data only.",
    ),
    (
        re.compile(r"davies"),
        "Davies-Bouldin index",
        "How much each segment overlaps its most similar one: lower is better, 0 is no overlap.",
    ),
    (
        re.compile(r"inertia"),
        "inertia",
        "The sum of squared distances of the rows to their segment's centre: it always falls as "
        "k grows; the elbow is where it stops falling fast.",
    ),
    (
        re.compile(r"^gap"),
        "gap statistic",
        "How much tighter the segments hold the data than an even cloud of the same extent: "
        "higher is better; the ± is one standard error.",
    ),
    (
        re.compile(r"^bic"),
        "BIC",
        "Bayesian information criterion of the Gaussian mixture: fit against complexity, lower is better.",
    ),
    (
        re.compile(r"jaccard|stability"),
        "stability (Jaccard)",
        f"The share of a segment's rows that stay together when it is refitted on resamples: "
        f"{STABLE:.2f} or more is a stable segment, {PATTERN:.2f} to {STABLE:.2f} a pattern, "
        f"below {PATTERN:.2f} unstable.",
    ),
    (
        re.compile(r"(^|\W|_)ari($|\W|_)|adjusted rand"),
        "ARI",
        "Adjusted Rand index: how far two segmentations agree on which rows belong together; "
        "1 is identical, 0 no better than chance.",
    ),
    (
        re.compile(r"(^|\W|_)nmi($|\W|_)|mutual information"),
        "NMI",
        "Normalized mutual information: how much knowing one segmentation tells about the other, "
        "from 0 (nothing) to 1 (everything).",
    ),
    (
        re.compile(r"effect_size|(^|_)d$|distinct_d|cohen|sets it apart"),
        "effect size (Cohen's d)",
        "How far a segment's mean lies from the others' in standard deviations: 0.5 is a medium "
        "difference, 0.8 a large one.",
    ),
    (
        re.compile(r"p_value|(^|_)p$"),
        "p-value",
        "The chance of a result at least this strong if there were no real difference: below "
        "0.05 it is usually read as real; shown as p < 0.001 below that.",
    ),
    (
        re.compile(r"^dip"),
        "dip test",
        "Hartigan's dip: how far a distribution is from a single peak; a p-value below 0.025 "
        "means more than one peak, so separate groups.",
    ),
]
SHARE_METRIC = re.compile(r"^share\b|\bshare$")


def meaning(name: str) -> str | None:
    """The sentence that explains a statistic named ``name`` (a column or a metric), or None."""
    lowered = str(name).lower()
    for pattern, _, sentence in MEANINGS:
        if pattern.search(lowered):
            return sentence
    return None


def statistic_name(name: str) -> str:
    """A metric's name in words: 'calinski_harabasz' -> 'Calinski-Harabasz index',
    'silhouette (sample of 1980)' kept as it is, others without underscores."""
    lowered = str(name).lower()
    if "_" not in lowered:
        return str(name)
    for pattern, words, _ in MEANINGS:
        if pattern.search(lowered):
            return words
    return lowered.replace("_", " ")


def metric_text(name: str, value: object) -> str:
    """A metric's value for people: a share as a percentage, a whole number that is no
    statistic (segments, rows, moves) as a count, the rest with decimals by magnitude."""
    numeric = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if pd.isna(numeric):
        return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    if SHARE_METRIC.search(str(name).lower()):
        return percent(float(numeric))
    if float(numeric).is_integer() and meaning(name) is None:
        return count(float(numeric))
    return number(float(numeric))


def readable_metrics(metrics: pd.DataFrame, values: list[str], change: bool = False) -> pd.DataFrame:
    """A metrics table (a ``metric`` column and value columns) as people read it: names in
    words, each value formatted for its metric (with ``change``, after minus before, signed),
    and what the metric means beside it."""
    shown = metrics[[c for c in ("scope",) if c in metrics]].copy()
    shown["metric"] = metrics["metric"].map(statistic_name)
    for column in values:
        shown[column] = [metric_text(m, v) for m, v in zip(metrics["metric"], metrics[column], strict=True)]
    if change:
        after = pd.to_numeric(metrics["after"], errors="coerce")
        difference = after - pd.to_numeric(metrics["before"], errors="coerce")
        texts = [metric_text(m, d) for m, d in zip(metrics["metric"], difference, strict=True)]
        shown["change"] = [
            t if not t or t.startswith("-") or d == 0 else "+" + t
            for t, d in zip(texts, difference, strict=True)
        ]
    shown["what it means"] = metrics["metric"].map(lambda m: meaning(m) or "")
    return shown
