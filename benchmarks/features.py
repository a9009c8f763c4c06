"""Speed and memory of the DFU demand features (numpy, vectorized) on generated sales.

Usage: python benchmarks/features.py [--dfus 300000] [--months 36]

Memory is the peak of Python allocations during the feature step (tracemalloc; numpy
reports its buffers to it), beyond the sales table that already sits in memory.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import pandas as pd
from floor import measure_floor, ratio

from clustering.config import DemandFeatureConfig
from clustering.prep.features import demand_grid, grid_features


def sales_table(n_dfus: int, months: int, seed: int = 0) -> pd.DataFrame:
    """Long monthly sales: every DFU x month, 2% of the rows missing."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"DFU{i:07d}" for i in range(n_dfus)], dtype=object)
    calendar = pd.period_range("2023-01", periods=months, freq="M").to_timestamp()
    level = rng.lognormal(4, 1, n_dfus)
    units = np.round(level[:, None] * rng.lognormal(0, 0.3, (n_dfus, months)))
    keep = rng.random((n_dfus, months)) > 0.02
    row, col = np.nonzero(keep)
    return pd.DataFrame({"dfu_id": ids[row], "month": calendar[col], "units": units[row, col]})


def measure(sales: pd.DataFrame, config: DemandFeatureConfig) -> tuple[float, float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    grid = demand_grid(sales, config)
    features = grid_features(grid)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return elapsed, peak, len(features)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--dfus", type=int, default=300_000)
    parser.add_argument("--months", type=int, default=36)
    args = parser.parse_args()
    floor = measure_floor()
    print(f"floor (benchmarks/floor.py): {floor:.2f} s", flush=True)
    sales = sales_table(args.dfus, args.months)
    config = DemandFeatureConfig(window_months=args.months)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        grid_features(demand_grid(sales, config))
        timings.append(time.perf_counter() - started)
    _, peak, rows = measure(sales, config)
    print(f"{args.dfus:,} DFUs x {args.months} months ({len(sales):,} sales rows) -> {rows:,} feature rows")
    median = float(np.median(timings))
    print(f"time: median {median:.2f} s of 3 runs (min {min(timings):.2f} s), {ratio(median, floor)}")
    print(f"peak extra memory: {peak:.0f} MB")


if __name__ == "__main__":
    main()
