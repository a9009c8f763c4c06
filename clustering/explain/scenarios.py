"""The k scenarios ("what if we had 5 segments?"): for every k of the sweep, its quality, its
stability, its smallest segment, the features that separate its segments most and a
preview of their names, with the recommended k and the reason in one sentence.

Computed on the sweep's own sample and fits (nothing is refitted): effect sizes are Cohen's
d of each segment against the rest on the prepared columns, the separating features those
with the largest eta² (between-segment share of the variance), and the names those of
``labels.feature_labels`` (in words, with the data dictionary's labels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from clustering.config import ColumnInfo
from clustering.explain.labels import feature_labels
from clustering.explain.profiling import LEVEL_SEPARATOR
from clustering.formats import percent
from clustering.model.kselection import KSelection

PREVIEW_NAMES = 4
SEPARATING = 3
COLUMNS = [
    "k",
    "recommended",
    "silhouette",
    "jaccard_min",
    "jaccard_mean",
    "smallest_segment",
    "separating_features",
    "names_preview",
]


def k_scenarios(
    selection: KSelection, feature_names: list[str], columns: dict[str, ColumnInfo] | None = None
) -> pd.DataFrame:
    """One row per k of the sweep (see the module docstring); empty for a fixed k."""
    if selection.sample is None or len(selection.scores) < 2:
        return pd.DataFrame(columns=COLUMNS)
    names = [name.replace("=", LEVEL_SEPARATOR, 1) for name in feature_names]
    rows = []
    for score in selection.scores.itertuples():
        labels = selection.models[score.k].labels_
        effects, eta = _effects(selection.sample, labels, names)
        preview = feature_labels(pd.Series(labels), effects, columns or {})
        shown = " | ".join(preview.head(PREVIEW_NAMES)) + (" | …" if len(preview) > PREVIEW_NAMES else "")
        rows.append(
            {
                "k": score.k,
                "recommended": score.k == selection.chosen_k,
                "silhouette": score.silhouette,
                "jaccard_min": getattr(score, "jaccard_min", np.nan),
                "jaccard_mean": getattr(score, "jaccard_mean", np.nan),
                "smallest_segment": score.smallest_segment,
                "separating_features": ", ".join(eta.nlargest(SEPARATING).index),
                "names_preview": shown,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


@dataclass(frozen=True)
class ScenarioPair:
    """Two k of a sweep side by side, on the sweep's sample: each one's segments (name, share
    of the sample), its stability, how the sample's rows flow from one to the other, and what
    moves in words."""

    ks: tuple[int, int]
    segments: dict[int, pd.DataFrame]  # k -> segment, name, share
    stability: dict[int, float]  # k -> the least stable segment's Jaccard (NaN: not measured)
    flows: pd.DataFrame  # rows: the first k's names; columns: the second's; cells: sample rows
    moves: list[str]


def compare_scenarios(
    selection: KSelection,
    ks: tuple[int, int],
    feature_names: list[str],
    columns: dict[str, ColumnInfo] | None = None,
) -> ScenarioPair:
    """Two k of the sweep side by side (``ScenarioPair``), from the sweep's own fits: nothing
    is refitted, so switching between scenarios costs nothing and loses neither."""
    names = [name.replace("=", LEVEL_SEPARATOR, 1) for name in feature_names]
    labels, segments = {}, {}
    for k in ks:
        labels[k] = selection.models[k].labels_
        effects, _ = _effects(selection.sample, labels[k], names)
        named = feature_labels(pd.Series(labels[k]), effects, columns or {})
        counts = pd.Series(labels[k]).value_counts().sort_index()
        segments[k] = pd.DataFrame(
            {
                "segment": counts.index,
                "name": named.reindex(counts.index).to_numpy(),
                "share": counts / len(labels[k]),
            }
        ).sort_values("share", ascending=False, ignore_index=True)
    first, second = ks
    flows = pd.crosstab(
        pd.Series(labels[first]).map(_naming(segments[first])).rename(f"k = {first}"),
        pd.Series(labels[second]).map(_naming(segments[second])).rename(f"k = {second}"),
    )
    by_k = selection.scores.set_index("k")
    stability = {k: float(by_k.loc[k, "jaccard_min"]) if "jaccard_min" in by_k else float("nan") for k in ks}
    return ScenarioPair(ks, segments, stability, flows, _moves(flows))


def _naming(segments: pd.DataFrame) -> dict[int, str]:
    return dict(zip(segments["segment"], segments["name"], strict=True))


def _moves(flows: pd.DataFrame) -> list[str]:
    """What moves between two scenarios, in words: which segment of one splits into which of
    the other (each part's share of it), and which stay whole."""
    sentences = []
    for source, row in flows.iterrows():
        parts = row[row > 0.1 * row.sum()].sort_values(ascending=False)
        if len(parts) > 1:
            shares = ", ".join(f"'{target}' ({percent(n / row.sum(), 0)})" for target, n in parts.items())
            sentences.append(f"'{source}' splits into {shares}.")
    for target, column in flows.items():
        parts = column[column > 0.1 * column.sum()]
        if len(parts) > 1:
            joined = " and ".join(f"'{source}'" for source in parts.index)
            sentences.append(f"{joined} join in '{target}'.")
    if not sentences:
        sentences.append("The segments are the same in both: every segment stays whole.")
    return sentences


def recommendation(selection: KSelection) -> str:
    """The recommended k and why, in one sentence."""
    return f"Recommended: k = {selection.chosen_k}, the {selection.rule}."


def _effects(X: np.ndarray, labels: np.ndarray, names: list[str]) -> tuple[pd.DataFrame, pd.Series]:
    """Cohen's d of each segment against the rest per column (a profiles-shaped table), and
    each column's eta²."""
    total = X.var(axis=0)
    rows, between = [], np.zeros(X.shape[1])
    for segment in np.unique(labels):
        inside = labels == segment
        mean, rest = X[inside].mean(axis=0), X[~inside].mean(axis=0)
        pooled = np.sqrt((X[inside].var(axis=0) + X[~inside].var(axis=0)) / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            effect = np.where(pooled > 0, (mean - rest) / pooled, 0.0)
        between += inside.mean() * (mean - X.mean(axis=0)) ** 2
        rows += [(int(segment), name, float(d)) for name, d in zip(names, effect, strict=True)]
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = pd.Series(np.where(total > 0, between / total, 0.0), index=names)
    return pd.DataFrame(rows, columns=["segment", "feature", "effect_size"]), eta


TABLE_COLUMNS = ["dataset", "group", *COLUMNS, "recommendation"]


def dataset_scenarios(
    dataset: str, clustered: object, feature_names: list[str], columns: dict[str, ColumnInfo]
) -> pd.DataFrame:
    """One dataset's k scenarios (``clustered``: its ``results.ClusteredDataset``), with the
    recommendation of each sweep; a nested dataset has one sweep per group (``group``)."""
    frames = [
        k_scenarios(selection, feature_names, columns).assign(
            dataset=dataset, group=group, recommendation=recommendation(selection)
        )
        for group, selection in clustered.selections().items()
    ]
    return scenario_table(frames)


def scenario_table(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Scenario tables one under the other, in the columns of the results sheet."""
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[TABLE_COLUMNS]
