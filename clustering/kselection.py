"""Choose the number of segments k by sweeping a range and scoring every labeling.

For each k the model is fitted on a fixed-seed sample of at most ``selection_sample``
rows (all rows when there are fewer); the chosen k's model then assigns every row. Scores: inertia (within-cluster sum of squares, with the elbow found by kneed),
silhouette (all k from one pass over a sample of at most 10k rows' distances),
Calinski-Harabasz and Davies-Bouldin. A k is feasible when its smallest segment,
scaled to all rows, reaches the minimum segment size.

The rule (``selection`` in the config): among feasible k, take the best score of the
chosen criterion (highest silhouette or Calinski-Harabasz, lowest Davies-Bouldin, or
the elbow of inertia, else the largest feasible k below it); ties go to the smaller k.
When no k is feasible, the same criterion picks among all k and a warning says so.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from kneed import KneeLocator

from clustering.config import ClusterConfig
from clustering.errors import UserInputError
from clustering.metrics import separation_scores, silhouette_many, within_sum_of_squares
from clustering.models import SegmentModel, cut_tree, ward_tree

RULES = {
    "silhouette": "highest silhouette",
    "calinski_harabasz": "highest Calinski-Harabasz",
    "davies_bouldin": "lowest Davies-Bouldin",
    "elbow": "elbow of inertia (kneed)",
}


@dataclass
class KSelection:
    """Every k's scores, the k chosen and why."""

    scores: pd.DataFrame
    chosen_k: int
    elbow_k: int | None
    rule: str
    sample_rows: int
    silhouette_rows: int
    warnings: list[str] = field(default_factory=list)
    models: dict[int, SegmentModel] = field(default_factory=dict, repr=False)


def sample_rows(n_rows: int, size: int, random_state: int | None) -> np.ndarray:
    """Sorted positions of a fixed-seed sample of at most ``size`` rows."""
    if n_rows <= size:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(random_state).choice(n_rows, size, replace=False))


def candidate_ks(config: ClusterConfig, n_rows: int) -> list[int]:
    """The k values to try: the fixed k, or the range capped at two rows per segment on average."""
    low, high = (config.k, config.k) if config.k is not None else (config.k_min, config.k_max)
    top = min(high, n_rows // 2)
    if top < low:
        wanted = f"k = {low}" if config.k is not None else f"k from {low} to {high}"
        raise UserInputError(
            f"{wanted} needs at least {2 * low} rows, but the data has {n_rows}. "
            f"Lower k{'' if config.k is not None else '_min'} or add rows."
        )
    return list(range(low, top + 1))


def fit_models(
    X: np.ndarray, config: ClusterConfig, ks: list[int], random_state: int | None
) -> dict[int, SegmentModel]:
    """One fitted model per k; Ward's tree is built once and cut per k."""
    if config.algorithm != "agglomerative":
        return {k: SegmentModel(config.algorithm, k, random_state).fit(X) for k in ks}
    tree = ward_tree(X)
    return {
        k: SegmentModel("agglomerative", k, random_state, config.agglomerative_max_rows).fit_labels(
            X, cut_tree(tree, k)
        )
        for k in ks
    }


def elbow_of(ks: list[int], inertia: list[float]) -> int | None:
    """Elbow of a decreasing, convex inertia curve, or None when kneed finds none."""
    if len(ks) < 3:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        knee = KneeLocator(ks, inertia, curve="convex", direction="decreasing").knee
    return int(knee) if knee is not None else None


def choose_k(scores: pd.DataFrame, selection: str, elbow_k: int | None) -> tuple[int, list[str]]:
    """Apply the documented rule to the score table; return k and any warnings."""
    notes = []
    pool = scores[scores["feasible"]]
    if pool.empty:
        pool = scores
        notes.append(
            "No k gives segments of the minimum size; k was chosen among all k and the merge "
            "step's minimum size will absorb the small segments."
        )
    if selection == "elbow":
        if elbow_k is None:
            notes.append("No elbow found in inertia; used the highest silhouette instead.")
            return choose_k(scores, "silhouette", None)[0], notes
        below = pool[pool["k"] <= elbow_k]
        return int(below["k"].max() if not below.empty else pool["k"].min()), notes
    column = pool[selection].fillna(np.inf if selection == "davies_bouldin" else -np.inf)
    best = column.idxmin() if selection == "davies_bouldin" else column.idxmax()
    return int(pool.loc[best, "k"]), notes


def select_k(
    X: np.ndarray, config: ClusterConfig, min_size: int, random_state: int | None = None
) -> KSelection:
    """Fit every candidate k on a sample of ``X``, score each, choose one by the configured rule
    (or take the fixed k). The chosen k's model is ``models[chosen_k]``."""
    n_rows = len(X)
    size = config.selection_sample
    if config.algorithm == "agglomerative":
        size = min(size, config.agglomerative_max_rows)
    sample = X[sample_rows(n_rows, size, random_state)]
    ks = candidate_ks(config, len(sample))
    models = fit_models(sample, config, ks, random_state)
    labels = [models[k].labels_ for k in ks]
    silhouettes = silhouette_many(sample, labels, config.silhouette_sample, random_state)
    scale = n_rows / len(sample)
    rows = []
    for k, lab, sil in zip(ks, labels, silhouettes, strict=True):
        ch, db = separation_scores(sample, lab)
        smallest = int(np.bincount(lab).min() * scale)
        rows.append((k, len(np.unique(lab)), within_sum_of_squares(sample, lab), sil, ch, db, smallest))
    columns = [
        "k",
        "segments",
        "inertia",
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
        "smallest_segment",
    ]
    scores = pd.DataFrame(rows, columns=columns)
    scores["feasible"] = scores["smallest_segment"] >= min_size
    elbow_k = elbow_of(ks, scores["inertia"].tolist())
    if config.k is not None:
        chosen, notes, rule = config.k, [], f"fixed k = {config.k} (set in the config)"
    else:
        chosen, notes = choose_k(scores, config.selection, elbow_k)
        rule = (
            f"{RULES[config.selection]} among k in {ks[0]}..{ks[-1]} with smallest segment >= {min_size} rows"
        )
    scores["chosen"] = scores["k"] == chosen
    return KSelection(
        scores=scores,
        chosen_k=chosen,
        elbow_k=elbow_k,
        rule=rule,
        sample_rows=len(sample),
        silhouette_rows=min(len(sample), config.silhouette_sample),
        warnings=notes,
        models=models,
    )
