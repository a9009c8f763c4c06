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


INPUT_FLOOR_CODE = """
import sys
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler
for frame in pd.read_excel(sys.argv[1], sheet_name=None, engine="calamine").values():
    numbers = frame.select_dtypes("number").fillna(0).to_numpy()
    KMeans(5, n_init=1, random_state=0).fit(StandardScaler().fit_transform(numbers))
"""


def measure_floor(repeats: int = 3) -> float:
    """Seconds of the floor's process (median of ``repeats``)."""
    return _median_process([sys.executable, "-c", FLOOR_CODE], repeats)


def measure_input_floor(workbook: str, repeats: int = 3) -> float:
    """Seconds of the floor of a run that reads ``workbook``: a fresh Python process that
    imports pandas and scikit-learn, reads every sheet with calamine and fits one KMeans
    (k = 5, one start) on each sheet's standardized numbers (median of ``repeats``)."""
    return _median_process([sys.executable, "-c", INPUT_FLOOR_CODE, workbook], repeats)


def _median_process(command: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def ratio(seconds: float, floor: float) -> str:
    """``seconds`` as a multiple of the floor, for the notes."""
    return f"{seconds / floor:.2f}x floor"


if __name__ == "__main__":
    print(f"floor: {measure_floor():.2f} s")
