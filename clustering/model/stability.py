"""How stable is each segment? Refit on subsamples and see whether it comes back.

On a fixed-seed base sample of at most ``max_rows`` rows, the same clustering (same
algorithm, same k) is refitted ``resamples`` times, each on a random ``fraction`` of the
base with its own seed (a KMeans refit keeps the best of a few starts, ``stable_starts``: with
one, a start's luck reads as instability). Per segment of the reference labeling, each refit scores the
Jaccard similarity to its best-matching refitted cluster on the shared rows
(Hennig's clusterboot); the mean over refits is the segment's stability, and a segment
below ``threshold`` (default 0.6) is flagged unstable. The mean ARI between the
reference and the refits summarises the whole labeling. A refit that fails (HDBSCAN
finding only noise on a subsample, say) scores a Jaccard of 0 for every segment and an
ARI of 0: it is evidence of instability, and the result counts such refits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from clustering.config import StabilityConfig
from clustering.errors import UserInputError
from clustering.model.metrics import sample_rows

Refit = Callable[[np.ndarray, int], np.ndarray]
# One scale for every page, sheet and report (Hennig 2007, clusterboot): a mean bootstrap
# Jaccard of 0.75 or more is a stable segment, 0.6 to 0.75 a pattern worth a look, below
# 0.6 unstable (below 0.5 the segment dissolves when the data is resampled).
STABLE, PATTERN = 0.75, 0.6
REFIT_FAILURES = (UserInputError, ValueError, ArithmeticError, np.linalg.LinAlgError)


@dataclass
class Stability:
    """Per-segment bootstrap Jaccard and the labeling's mean ARI across refits."""

    segments: pd.DataFrame
    ari_mean: float
    ari_std: float
    rows: int
    failed: int = 0
    failure: str = ""


def stability_word(jaccard: float) -> str:
    """'stable', 'a pattern' or 'unstable' on the one scale (STABLE, PATTERN)."""
    if jaccard >= STABLE:
        return "stable"
    return "a pattern" if jaccard >= PATTERN else "unstable"


def best_jaccard(reference: np.ndarray, refit: np.ndarray) -> pd.Series:
    """For each reference cluster, the Jaccard similarity to its best-matching refit cluster."""
    names, codes = np.unique(reference, return_inverse=True)
    return pd.Series(best_jaccard_codes(codes, refit, len(names)), index=names)


def best_jaccard_codes(reference: np.ndarray, refit: np.ndarray, n_reference: int) -> np.ndarray:
    """``best_jaccard`` on integer codes 0..n_reference-1: one bincount, no label sorting
    (the refits run 20 times per dataset)."""
    _, refit_codes = np.unique(refit, return_inverse=True)
    n_refit = int(refit_codes.max()) + 1 if len(refit_codes) else 0
    overlap = np.bincount(reference * n_refit + refit_codes, minlength=n_reference * n_refit)
    overlap = overlap.reshape(n_reference, n_refit).astype(np.float64)
    union = overlap.sum(axis=1)[:, None] + overlap.sum(axis=0)[None, :] - overlap
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(union > 0, overlap / union, 0.0)
    return ratio.max(axis=1) if n_refit else np.zeros(n_reference)


def segment_stability(
    X: np.ndarray,
    labels: np.ndarray,
    refit: Refit,
    config: StabilityConfig,
    random_state: int | None = None,
) -> Stability:
    """Bootstrap stability of ``labels`` (one label per row of ``X``) under ``refit``,
    a function (rows, seed) -> labels that reruns the clustering."""
    base = sample_rows(len(X), config.max_rows, random_state)
    segments_seen, reference = np.unique(labels[base], return_inverse=True)
    points = X[base]
    rng = np.random.default_rng(random_state)
    size = max(2, int(config.fraction * len(base)))
    jaccards, aris = [], []
    seed = 0 if random_state is None else random_state
    failed, failure = 0, ""
    for b in range(config.resamples):
        rows = np.sort(rng.choice(len(base), size, replace=False))
        try:
            refitted = refit(points[rows], seed + b + 1)
        except REFIT_FAILURES as error:  # no structure found on this subsample: evidence, not a crash
            failed, failure = failed + 1, failure or str(error).splitlines()[0]
            jaccards.append(np.zeros(len(segments_seen)))
            aris.append(0.0)
            continue
        # a segment absent from this subsample scores 0 (its bincount row is empty)
        jaccards.append(best_jaccard_codes(reference[rows], refitted, len(segments_seen)))
        aris.append(adjusted_rand_score(reference[rows], refitted))
    table = np.column_stack(jaccards)
    segments = pd.DataFrame(
        {"jaccard_mean": table.mean(axis=1), "jaccard_min": table.min(axis=1)},
        index=pd.Index(segments_seen),
    )
    segments["stable"] = segments["jaccard_mean"] >= config.threshold
    segments.index.name = "code"
    return Stability(
        segments.reset_index(), float(np.mean(aris)), float(np.std(aris)), len(base), failed, failure
    )
