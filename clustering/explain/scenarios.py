"""The k scenarios ("what if we had 5 segments?"): for every k of the sweep, its quality, its
stability, its smallest segment, the features that separate its segments most and a
preview of their names, with the recommended k and the reason in one sentence.

Computed on the sweep's own sample and fits (nothing is refitted): effect sizes are Cohen's
d of each segment against the rest on the prepared columns, the separating features those
with the largest eta² (between-segment share of the variance), and the names those of
``labels.feature_labels`` (in words, with the data dictionary's labels).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clustering.config import ColumnInfo
from clustering.explain.labels import feature_labels
from clustering.explain.profiling import LEVEL_SEPARATOR
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


def run_scenarios(result: object) -> pd.DataFrame:
    """Every dataset's k scenarios of a finished run (a ``results.RunResult``), one table, with
    the recommendation of each sweep; a nested dataset has one sweep per group (``group``)."""
    frames = [
        k_scenarios(selection, list(result.prepared[name].matrix.columns), result.config.columns).assign(
            dataset=name, group=group, recommendation=recommendation(selection)
        )
        for name, c in result.clustered.items()
        for group, selection in c.selections().items()
    ]
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame(columns=["dataset", "group", *COLUMNS, "recommendation"])
    table = pd.concat(frames, ignore_index=True)
    return table[["dataset", "group", *COLUMNS, "recommendation"]]
