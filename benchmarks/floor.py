"""The floor: one fixed piece of work measured in the same run as a benchmark, so that its
figures can be quoted as ratios (our machines differ about two-fold in speed; ratios don't).

The floor is a fresh Python process that imports pandas and scikit-learn, makes a fixed
100,000 x 10 table from a seed and fits one KMeans (k = 5, one start) on it: what any run
of this project pays at least. ``measure_floor`` takes the median of a few such processes.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

FLOOR_CODE = """
import numpy as np, pandas as pd
from sklearn.cluster import KMeans
data = pd.DataFrame(np.random.default_rng(0).normal(size=(100_000, 10)))
KMeans(5, n_init=1, random_state=0).fit(data.to_numpy())
"""


def measure_floor(repeats: int = 3) -> float:
    """Seconds of the floor's process (median of ``repeats``)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", FLOOR_CODE], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def ratio(seconds: float, floor: float) -> str:
    """``seconds`` as a multiple of the floor, for the notes."""
    return f"{seconds / floor:.2f}x floor"


if __name__ == "__main__":
    print(f"floor: {measure_floor():.2f} s")
