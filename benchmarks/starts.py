"""KMeans starts on a sample, the best refined on every row, against every start on every row.

Usage: ``python benchmarks/starts.py``

``SegmentModel`` takes the ``n_init`` starts of a KMeans fit on a fixed-seed sample of
``START_SAMPLE_ROWS`` rows when the data has more, and refines the best start's centroids by
one Lloyd run on every row. This prints, for demo stores of several sizes, seeds, datasets
and k, the inertia and seconds of both ways (the full way by raising the threshold above the
row count), and how many rows get the same segment.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from floor import measure_floor

from clustering import pipeline
from clustering.config import load_config
from clustering.demo import store_demo
from clustering.model import models

CASES = [  # stores, demo seed, dataset, k
    (100_000, 2, "internal", 5),
    (100_000, 3, "external", 4),
    (50_000, 4, "internal", 6),
    (50_000, 5, "external", 8),
    (100_000, 6, "internal", 9),
    (30_000, 7, "internal", 12),
]


def prepared_rows(stores: int, seed: int, dataset: str):
    config = load_config("store")
    sheets = store_demo(stores, seed=seed)
    checked, _ = pipeline.check_sheets(config, {name: sheets[name] for name in ("internal", "external")})
    prepared = pipeline.prepare_dataset(dataset, checked[dataset], config.datasets[dataset], 42)
    return prepared.matrix.to_numpy()[~prepared.outliers]


def fit(X, k: int, start_rows: int):
    models.START_SAMPLE_ROWS = start_rows
    started = time.perf_counter()
    model = models.SegmentModel("kmeans", k, 42, n_init=20).fit(X)
    return model, time.perf_counter() - started


def main() -> None:
    floor = measure_floor()
    print(f"floor (benchmarks/floor.py): {floor:.2f} s; times below also as a multiple of it", flush=True)
    sample_rows = models.START_SAMPLE_ROWS
    rows = []
    for stores, seed, dataset, k in CASES:
        X = prepared_rows(stores, seed, dataset)
        full, full_seconds = fit(X, k, len(X) + 1)
        sampled, sampled_seconds = fit(X, k, sample_rows)
        rows.append(
            {
                "rows": len(X),
                "dataset": dataset,
                "k": k,
                "all-row starts inertia": round(full.estimator_.inertia_, 1),
                "s": round(full_seconds, 2),
                "x floor": round(full_seconds / floor, 2),
                f"{sample_rows:,}-row starts inertia": round(sampled.estimator_.inertia_, 1),
                "s ": round(sampled_seconds, 2),
                "x floor ": round(sampled_seconds / floor, 2),
                "relative": f"{sampled.estimator_.inertia_ / full.estimator_.inertia_ - 1:+.1e}",
                "same segment": f"{(full.labels_ == sampled.labels_).mean():.2%}",
            }
        )
        print(rows[-1], flush=True)
    models.START_SAMPLE_ROWS = sample_rows
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
