"""How stable is each segment? Refit on subsamples and see whether it comes back.

On a fixed-seed base sample of at most ``max_rows`` rows, the same clustering (same
algorithm, same k) is refitted ``resamples`` times, each on a random ``fraction`` of the
base with its own seed. Per segment of the reference labeling, each refit scores the
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


def best_jaccard(reference: np.ndarray, refit: np.ndarray) -> pd.Series:
    """For each reference cluster, the Jaccard similarity to its best-matching refit cluster."""
    table = pd.crosstab(reference, refit)
    overlap = table.to_numpy(dtype=np.float64)
    union = table.sum(axis=1).to_numpy()[:, None] + table.sum(axis=0).to_numpy()[None, :] - overlap
    return pd.Series((overlap / union).max(axis=1), index=table.index)


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
    reference, points = labels[base], X[base]
    rng = np.random.default_rng(random_state)
    size = max(2, int(config.fraction * len(base)))
    jaccards, aris = [], []
    seed = 0 if random_state is None else random_state
    failed, failure = 0, ""
    segments_seen = pd.Index(np.unique(reference))
    for b in range(config.resamples):
        rows = np.sort(rng.choice(len(base), size, replace=False))
        try:
            refitted = refit(points[rows], seed + b + 1)
        except REFIT_FAILURES as error:  # no structure found on this subsample: evidence, not a crash
            failed, failure = failed + 1, failure or str(error).splitlines()[0]
            jaccards.append(pd.Series(0.0, index=segments_seen))
            aris.append(0.0)
            continue
        jaccards.append(best_jaccard(reference[rows], refitted).reindex(segments_seen, fill_value=0.0))
        aris.append(adjusted_rand_score(reference[rows], refitted))
    table = pd.concat(jaccards, axis=1)
    segments = pd.DataFrame(
        {
            "jaccard_mean": table.mean(axis=1),
            "jaccard_min": table.min(axis=1),
        }
    )
    segments["stable"] = segments["jaccard_mean"] >= config.threshold
    segments.index.name = "code"
    return Stability(
        segments.reset_index(), float(np.mean(aris)), float(np.std(aris)), len(base), failed, failure
    )
