"""Choose the number of segments k by sweeping a range and scoring every labeling.

For each k the model is fitted on a fixed-seed sample of at most ``selection_sample``
rows (all rows when there are fewer); the chosen k's model then assigns every row.
Criteria: inertia (within-cluster sum of squares; its elbow found by Kneedle), silhouette
(all k from one pass over a sample of at most 10k rows' distances), Calinski-Harabasz,
Davies-Bouldin, the gap statistic (Tibshirani et al. 2001: ``gap_references`` uniform
reference sets in the principal-axes box of a ``gap_sample``-row sample, KMeans on
both, standard error s_k = sd_k * sqrt(1 + 1/B)) and, for GaussianMixture, BIC.
A k is feasible when its smallest segment, scaled to all rows, reaches the minimum
segment size.

The ``stable`` rule chooses for usefulness when structure is weak: the largest feasible k
whose segments are all stable and all distinct. Stable: on a fixed-seed sample of
``stable_sample`` rows, ``stable_resamples`` refits on 80% subsamples (each keeping the best of
``stable_starts`` starts, so that a start's luck does not read as instability), each segment's mean
Jaccard to its best-matching refitted cluster (Hennig 2007's clusterboot) at least 0.75,
Hennig's threshold for a stable cluster (below 0.5 it dissolves); stability as the guide to
k follows Ben-Hur, Elisseeff & Guyon (2002), Lange et al. (2004) and von Luxburg (2010), who
also warns that stability alone can favour too few clusters, hence "largest". Distinct:
each segment differs from its nearest segment (by centroid) by |Cohen's d| >= 0.5 on at
least one prepared feature. These fits run beside the sweep, fewer and smaller than the
final stability report's.

``auto`` applies ``stable`` where the clusterability verdict is weak structure (a continuum,
where the silhouette peaks at the smallest k) and ``silhouette`` where it is clear.

Each criterion prefers one feasible k: the highest silhouette or Calinski-Harabasz,
the lowest Davies-Bouldin or BIC, the elbow (or the largest feasible k below it), the
smallest k with gap(k) >= gap(k+1) - s(k+1). The ``selection`` setting names the
criterion that decides; ``consensus`` takes the k most criteria prefer (ties: the
silhouette's choice if tied, else the smaller k). Ties within a criterion go to the
smaller k. When no k is feasible, every criterion chooses among all k and a warning
says so. ``KSelection.consensus`` lists every criterion's preferred k and the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from clustering.config import ClusterConfig
from clustering.errors import UserInputError
from clustering.model.metrics import sample_rows, separation_scores, silhouette_many, within_sum_of_squares
from clustering.model.models import SegmentModel, cut_tree, refit_labels, ward_tree
from clustering.model.stability import best_jaccard_codes
from clustering.model.threads import in_parallel, thread_limit

RULES = {
    "silhouette": "highest silhouette",
    "calinski_harabasz": "highest Calinski-Harabasz",
    "davies_bouldin": "lowest Davies-Bouldin",
    "elbow": "elbow of inertia (Kneedle), or the largest feasible k below it",
    "gap": "smallest k with gap(k) >= gap(k+1) - s(k+1)",
    "bic": "lowest BIC (GaussianMixture only)",
    "consensus": "the k most criteria prefer (ties: silhouette's choice, else the smaller k)",
    "stable": "largest k whose segments are all stable (bootstrap Jaccard >= 0.75) and distinct (|d| >= 0.5)",
}
AUTO_RULES = {True: "stable", False: "silhouette"}  # auto: by whether the structure is weak
STABLE_JACCARD = 0.75  # Hennig (2007): mean Jaccard >= 0.75 is a stable cluster, < 0.5 a dissolved one
DISTINCT_EFFECT = 0.5  # Cohen's d of a medium effect
# A recommended segment holds at least this share of the rows (or min_segment_size, if larger).
# benchmarks/quality.py --recommendation: on the eleven labeled sets 2%, 3% and 5% recommend the
# same k; the smallest true class there holds 4.2% of its set (fgl), so 3% keeps it eligible.
TRUSTED_SHARE = 0.03


@dataclass
class KSelection:
    """Every k's scores, the k chosen and why."""

    scores: pd.DataFrame
    chosen_k: int
    elbow_k: int | None
    rule: str
    sample_rows: int
    silhouette_rows: int
    consensus: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[str] = field(default_factory=list)
    models: dict[int, SegmentModel] = field(default_factory=dict, repr=False)
    sample: np.ndarray | None = field(default=None, repr=False)  # the rows every k was fitted on


def candidate_ks(config: ClusterConfig, n_rows: int, distinct: int | None = None) -> list[int]:
    """The k values to try: the fixed k, or the range capped at two rows per segment on average
    and at the number of distinct rows (more segments than distinct points cannot exist)."""
    low, high = (config.k, config.k) if config.k is not None else (config.k_min, config.k_max)
    distinct = n_rows if distinct is None else distinct
    top = min(high, n_rows // 2)
    if top < low:
        wanted = f"k = {low}" if config.k is not None else f"k from {low} to {high}"
        raise UserInputError(
            f"{wanted} needs at least {2 * low} rows, but the data has {n_rows}. "
            f"Lower k{'' if config.k is not None else '_min'} or add rows."
        )
    if distinct < 2:
        raise UserInputError(
            "Every row has the same prepared values, so there is nothing to segment. "
            "Check that the feature columns vary (or include other columns)."
        )
    if distinct < low:
        raise UserInputError(
            f"The data has only {distinct} distinct row(s) after preparation, fewer than "
            f"k{' = ' if config.k is not None else '_min = '}{low}. Lower it to {distinct} or less, or add features that vary."
        )
    top = min(top, distinct)
    return list(range(low, top + 1))


def distinct_rows(X: np.ndarray, enough: int) -> int:
    """How many distinct rows ``X`` has, counted up to ``enough + 1`` (cheaply, when there are many)."""
    head = np.unique(X[: 50 * (enough + 1)], axis=0)
    if len(head) > enough:
        return len(head)
    return len(np.unique(X, axis=0))


def fit_models(
    X: np.ndarray, config: ClusterConfig, ks: list[int], random_state: int | None
) -> dict[int, SegmentModel]:
    """One fitted model per k; Ward's tree is built once and cut per k."""
    if config.algorithm != "agglomerative":
        return {
            k: SegmentModel(
                config.algorithm, k, random_state, n_init=config.sweep_n_init, more_starts_on_small_data=False
            ).fit(X)
            for k in ks
        }
    tree = ward_tree(X)
    return {
        k: SegmentModel("agglomerative", k, random_state, config.agglomerative_max_rows).fit_labels(
            X, cut_tree(tree, k)
        )
        for k in ks
    }


def elbow_of(ks: list[int], inertia: list[float]) -> int | None:
    """Elbow of a decreasing, convex inertia curve by Kneedle (Satopaa et al. 2011, offline,
    sensitivity 1), or None when it finds none. The same k as ``kneed.KneeLocator(ks, inertia,
    curve="convex", direction="decreasing").knee`` (tested); written out because kneed imports
    matplotlib, a third of a second of every run's start."""
    if len(ks) < 3:
        return None
    x, y = np.asarray(ks, dtype=float), np.asarray(inertia, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_norm = (x - x.min()) / (x.max() - x.min())
        y_norm = (y - y.min()) / (y.max() - y.min())
    difference = (y_norm.max() - y_norm) - x_norm  # the elbow as a knee of a concave curve
    after = np.append(difference[1:], difference[-1])
    before = np.insert(difference[:-1], 0, difference[0])
    maxima = (difference >= after) & (difference >= before)
    minima = (difference <= after) & (difference <= before)
    if not maxima.any():
        return None
    step = abs(np.diff(x_norm).mean())
    threshold, anchor, active = 0.0, 0, True
    for i in range(int(np.argmax(maxima)), len(difference) - 1):
        if maxima[i]:
            threshold, anchor, active = difference[i] - step, i, True
        if minima[i]:
            threshold, active = 0.0, False
        if active and difference[i + 1] < threshold:
            return int(ks[anchor])
    return None


def gap_statistic(
    X: np.ndarray, ks: list[int], references: int, sample: int, random_state: int | None
) -> pd.DataFrame:
    """Gap(k) and its standard error s(k) for each k (Tibshirani, Walther & Hastie 2001)."""
    rng = np.random.default_rng(random_state)
    data = X[sample_rows(len(X), sample, random_state)]
    centered = data - data.mean(axis=0)
    _, _, axes = np.linalg.svd(centered, full_matrices=False)
    rotated = centered @ axes.T
    low, high = rotated.min(axis=0), rotated.max(axis=0)

    def log_dispersion(points: np.ndarray, k: int) -> float:
        labels = KMeans(k, n_init="auto", random_state=random_state).fit_predict(points)
        return float(np.log(within_sum_of_squares(points, labels)))

    with thread_limit(1):  # many small fits: threads cost more than they give
        observed = np.array([log_dispersion(data, k) for k in ks])
        draws = [rng.uniform(low, high, size=(len(data), len(axes))) @ axes for _ in range(references)]
        reference = np.array([[log_dispersion(draw, k) for k in ks] for draw in draws])
    gap = reference.mean(axis=0) - observed
    error = reference.std(axis=0) * np.sqrt(1 + 1 / references)
    return pd.DataFrame({"k": ks, "gap": gap, "gap_se": error})


def k_stability(
    X: np.ndarray, config: ClusterConfig, ks: list[int], random_state: int | None
) -> pd.DataFrame:
    """Per k: the smallest and the mean segment stability (bootstrap Jaccard) and the least
    distinct segment's effect against its nearest one (see the module docstring); the k run
    in two interleaved halves side by side (the refits are many small fits)."""
    base = X[sample_rows(len(X), config.stable_sample, random_state)]
    rng = np.random.default_rng(random_state)
    size = max(2, int(0.8 * len(base)))
    subsets = [np.sort(rng.choice(len(base), size, replace=False)) for _ in range(config.stable_resamples)]
    halves = {
        f"half {i}": partial(_stability_rows, base, config, ks[i::2], subsets, random_state) for i in (0, 1)
    }
    rows = [row for half in in_parallel(halves).values() for row in half]
    table = pd.DataFrame(rows, columns=["k", "jaccard_min", "jaccard_mean", "least_distinct_d"])
    return table.sort_values("k", ignore_index=True)


def _stability_rows(
    base: np.ndarray,
    config: ClusterConfig,
    ks: list[int],
    subsets: list[np.ndarray],
    random_state: int | None,
) -> list[tuple]:
    """``k_stability``'s rows for some of the k. A k stops being refitted once one of its
    segments cannot reach a mean Jaccard of 0.75 even if every remaining refit matched it
    perfectly: whether it passes is then known, and its figures are the means of the
    refits made."""
    seed = 0 if random_state is None else random_state
    starts, limit = config.stable_starts, config.agglomerative_max_rows
    rows = []
    for k in ks:
        reference = refit_labels(base, config.algorithm, k, random_state, max(config.n_init, starts), limit)
        total = np.zeros(k)
        for b, rows_b in enumerate(subsets):
            refitted = refit_labels(base[rows_b], config.algorithm, k, seed + b + 1, starts, limit)
            total += best_jaccard_codes(reference[rows_b], refitted, k)
            if (total.min() + len(subsets) - b - 1) / len(subsets) < STABLE_JACCARD:
                break
        per_segment = total / (b + 1)
        rows.append((k, per_segment.min(), per_segment.mean(), least_distinct(base, reference, k)))
    return rows


def least_distinct(X: np.ndarray, labels: np.ndarray, k: int) -> float:
    """The smallest, over segments, of the largest |Cohen's d| on any feature between a
    segment and its nearest segment (by centroid distance)."""
    present = [c for c in range(k) if (labels == c).sum() >= 2]
    if len(present) < 2:
        return 0.0
    means = np.array([X[labels == c].mean(axis=0) for c in present])
    variances = np.array([X[labels == c].var(axis=0) for c in present])
    gaps = ((means[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(gaps, np.inf)
    nearest = gaps.argmin(axis=1)
    pooled = np.sqrt((variances + variances[nearest]) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        effect = np.abs(means - means[nearest]) / np.where(pooled > 0, pooled, np.nan)
    return float(np.nanmax(np.nan_to_num(effect, nan=0.0), axis=1).min())


def _stable_choice(pool: pd.DataFrame) -> int | None:
    """The largest k whose segments are all stable and distinct (None: no such k)."""
    if "jaccard_min" not in pool:
        return None
    good = pool[(pool["jaccard_min"] >= STABLE_JACCARD) & (pool["least_distinct_d"] >= DISTINCT_EFFECT)]
    return int(good["k"].max()) if not good.empty else None


def trusted_k(
    scores: pd.DataFrame, chosen: int, floor: int, selection: str, elbow_k: int | None = None
) -> tuple[int, str | None]:
    """The recommended k: the rule's ``chosen`` k when each of its segments is stable (per-k
    bootstrap Jaccard >= 0.75) and holds at least ``floor`` rows; else the rule applied
    among the k that pass (the highest silhouette among them, say), and one sentence saying
    why; when no k passes, the most stable k whose segments hold ``floor`` rows (any k if
    none does)."""
    if "jaccard_min" not in scores or len(scores) < 2:
        return chosen, None
    big = scores["smallest_segment"] >= floor
    passes = big & (scores["jaccard_min"] >= STABLE_JACCARD)
    row = scores.set_index("k").loc[chosen]
    if passes[scores["k"] == chosen].all():
        return chosen, None
    problem = (
        f"its smallest segment would hold {int(row['smallest_segment']):,} rows, fewer than {floor:,}"
        if row["smallest_segment"] < floor
        else f"its least stable segment reproduces at a bootstrap Jaccard of {row['jaccard_min']:.2f}, below 0.75"
    )
    if not passes.any():
        pool = scores[big] if big.any() else scores
        best = int(pool.sort_values(["jaccard_min", "k"], ascending=[False, True])["k"].iloc[0])
        jaccard = float(pool.set_index("k").loc[best, "jaccard_min"])
        return best, (
            f"No k from {int(scores['k'].min())} to {int(scores['k'].max())} gives segments that are all "
            f"stable (bootstrap Jaccard >= 0.75) and of at least {floor:,} rows: k = {best} is recommended "
            f"as the most stable (its least stable segment reproduces at {jaccard:.2f}); treat its "
            "segments as provisional."
        )
    trusted = scores[passes].assign(feasible=True)
    recommended, _, _ = choose_k(trusted, selection, elbow_k)
    return recommended, (
        f"k = {recommended} is recommended, not k = {chosen} (the {RULES[selection]}): {problem}. "
        f"k = {recommended} is the {RULES[selection]} among the k whose segments are all "
        f"stable (bootstrap Jaccard >= 0.75) and each at least {floor:,} rows."
    )


def _gap_choice(pool: pd.DataFrame) -> int | None:
    """Smallest k with gap(k) >= gap(k+1) - s(k+1), among consecutive feasible k."""
    if "gap" not in pool:
        return None
    ks, gap, error = pool["k"].to_numpy(), pool["gap"].to_numpy(), pool["gap_se"].to_numpy()
    for i in range(len(ks) - 1):
        if ks[i + 1] == ks[i] + 1 and gap[i] >= gap[i + 1] - error[i + 1]:
            return int(ks[i])
    return int(ks[np.argmax(gap)])


def preferred_ks(scores: pd.DataFrame, elbow_k: int | None) -> dict[str, int | None]:
    """The k each criterion prefers among feasible k (all k when none is feasible)."""
    pool = scores[scores["feasible"]]
    pool = scores if pool.empty else pool

    def best(column: str, lowest: bool) -> int | None:
        if column not in pool or pool[column].isna().all():
            return None
        values = pool[column].fillna(np.inf if lowest else -np.inf)
        return int(pool.loc[values.idxmin() if lowest else values.idxmax(), "k"])

    below = pool[pool["k"] <= elbow_k] if elbow_k is not None else pool.iloc[:0]
    prefs = {
        "silhouette": best("silhouette", lowest=False),
        "calinski_harabasz": best("calinski_harabasz", lowest=False),
        "davies_bouldin": best("davies_bouldin", lowest=True),
        "elbow": int(below["k"].max()) if not below.empty else None,
        "gap": _gap_choice(pool),
        "bic": best("bic", lowest=True),
        "stable": _stable_choice(pool),
    }
    return {name: k for name, k in prefs.items() if k is not None or name in ("elbow", "gap", "stable")}


def choose_k(
    scores: pd.DataFrame, selection: str, elbow_k: int | None
) -> tuple[int, list[str], pd.DataFrame]:
    """Apply the documented rule; return k, warnings and the consensus table."""
    notes = []
    if not scores["feasible"].any():
        notes.append(
            "No k gives segments of the minimum size; k was chosen among all k and the merge "
            "step's minimum size will absorb the small segments."
        )
    prefs = preferred_ks(scores, elbow_k)
    decided = [k for name, k in prefs.items() if k is not None and name != "stable"]  # the original votes
    if selection == "consensus":
        counts = pd.Series(decided).value_counts()
        tied = sorted(counts[counts == counts.max()].index)
        chosen = prefs["silhouette"] if prefs["silhouette"] in tied else tied[0]
    elif prefs.get(selection) is None:
        notes.append(f"The {selection} criterion gave no k; used the highest silhouette instead.")
        chosen = prefs["silhouette"]
    else:
        chosen = prefs[selection]
    table = pd.DataFrame(
        [(name, k, RULES[name], name == selection) for name, k in prefs.items()],
        columns=["criterion", "preferred_k", "rule", "decides"],
    )
    table["preferred_k"] = table["preferred_k"].astype("Int64")
    if selection == "consensus":
        table.loc[len(table)] = ["consensus", chosen, RULES["consensus"], True]
    return int(chosen), notes, table


def select_k(
    X: np.ndarray, config: ClusterConfig, min_size: int, random_state: int | None = None, weak: bool = False
) -> KSelection:
    """Fit every candidate k on a sample of ``X``, score each, choose one by the configured rule
    (or take the fixed k; ``auto``: stable when ``weak``, the clusterability verdict, else
    silhouette). The chosen k's model is ``models[chosen_k]``. One function because the
    sweep, the gap statistic, the stability check and the silhouette blocks share one
    parallel region."""
    if config.selection == "auto":
        config = config.model_copy(update={"selection": AUTO_RULES[weak]})
    n_rows = len(X)
    size = config.selection_sample
    if config.algorithm == "agglomerative":
        size = min(size, config.agglomerative_max_rows)
    sample = X[sample_rows(n_rows, size, random_state)]
    ks = candidate_ks(
        config, len(sample), distinct_rows(sample, config.k_max if config.k is None else config.k)
    )

    def gap() -> pd.DataFrame | None:
        if not config.gap_references or len(ks) < 2:
            return None
        return gap_statistic(sample, ks, config.gap_references, config.gap_sample, random_state)

    def stability() -> pd.DataFrame | None:  # every k's, for the stable rule and the k scenarios
        if config.k is not None or len(ks) < 2:
            return None
        return k_stability(sample, config, ks, random_state)

    # The gap's and the stability check's small fits beside the sweep's; then the silhouette
    # of every k, in two halves side by side when the cores are free.
    done = in_parallel(
        {"sweep": partial(fit_models, sample, config, ks, random_state), "gap": gap, "stability": stability}
    )
    models = done["sweep"]
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
    if config.algorithm == "gmm":
        scores["bic"] = [models[k].estimator_.bic(sample) for k in ks]
    if done["gap"] is not None:
        scores = scores.merge(done["gap"], on="k")
    if done["stability"] is not None:
        scores = scores.merge(done["stability"], on="k")
    scores["feasible"] = scores["smallest_segment"] >= min_size
    elbow_k = elbow_of(ks, scores["inertia"].tolist())
    chosen, notes, consensus = choose_k(scores, config.selection, elbow_k)
    rule = f"{RULES[config.selection]} among k in {ks[0]}..{ks[-1]} with smallest segment >= {min_size} rows"
    if weak and config.selection == "stable":
        rule += " (the structure is weak: k chosen for usefulness, not by the silhouette)"
    if config.k is None:
        floor = max(min_size, int(np.ceil(TRUSTED_SHARE * n_rows)))
        chosen, why = trusted_k(scores, chosen, floor, config.selection, elbow_k)
        notes += [why] if why else []
    else:
        chosen, notes, rule = config.k, [], f"fixed k = {config.k} (set in the config)"
        consensus["decides"] = False
    scores["chosen"] = scores["k"] == chosen
    return KSelection(
        scores=scores,
        chosen_k=chosen,
        elbow_k=elbow_k,
        rule=rule,
        sample_rows=len(sample),
        silhouette_rows=min(len(sample), config.silhouette_sample),
        consensus=consensus,
        warnings=notes,
        models=models,
        sample=sample,
    )
