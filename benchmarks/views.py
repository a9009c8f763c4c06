"""The views and moves of issue 32 at scale: each one's engine call on 100,000 demo stores
(and the demand curves on 100,000 DFUs), as a multiple of the floor measured in the same run.

Usage: python benchmarks/views.py [--stores 100000] [--dfus 100000] [--repeats 3]

One quick-profile run of the stores gives the result every view reads; each view is then
timed (median of --repeats): a feature's histogram over every store, the percentiles of every
feature by segment, why one store sits where it does, the tree of the segments' centres, the
Ward tree of a hierarchical fit on its 5,000-row sample, and a split of the largest segment;
then the DFU demand grid and curves.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from floor import measure_floor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clustering.config import SegmentSplit, load_config
from clustering.demo import dfu_demo, store_demo
from clustering.explain.dendrogram import fit_tree, segment_tree
from clustering.explain.distributions import histogram, segment_quantiles
from clustering.explain.profiling import original_features
from clustering.pipeline import check_sheets, run
from clustering.pipeline.combine import assignment_space
from clustering.pipeline.describe import segment_demand, why_entity
from clustering.pipeline.split import split_segments
from tests.profiles import quick


def timed(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--stores", type=int, default=100_000)
    parser.add_argument("--dfus", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    floor = measure_floor()
    print(f"floor (benchmarks/floor.py): {floor:.2f} s", flush=True)

    sheets = store_demo(args.stores, seed=7)
    config = quick(load_config("store"))
    config.stability.enabled = False
    result = run(config, sheets)
    checked, _ = check_sheets(config, sheets)
    final = result.assignments.set_index("store_id")["final_cluster"].astype(str)
    features = original_features({name: t.features for name, t in checked.items()})
    space = assignment_space(result.merge, result.prepared)
    internal = result.prepared["internal"].matrix
    largest = final.value_counts().index[0]
    split = config.model_copy(deep=True, update={"splits": {largest: SegmentSplit(k=2)}})
    views = {
        f"histogram of revenue, {args.stores:,} stores": lambda: histogram(features["revenue"], final),
        "percentiles of every feature by segment": lambda: segment_quantiles(final, features),
        "why one store is here": lambda: why_entity(final.index[123], space, final, checked, config),
        "tree of the segments' centres": lambda: segment_tree(
            space.groupby(final).mean(), final.value_counts()
        ),
        "Ward tree of a hierarchical fit (5,000-row sample)": lambda: fit_tree(
            internal.to_numpy(), result.clustered["internal"].labels, 5, 5_000, 7
        ),
        f"split of the largest segment ({int((final == largest).sum()):,} stores)": lambda: split_segments(
            result.assignments.set_index("store_id"), lambda: space, result.prepared, split
        ),
    }
    print(f"{'view':<58}{'seconds':>9}{'x floor':>9}")
    for name, action in views.items():
        seconds = timed(action, args.repeats)
        print(f"{name:<58}{seconds:>9.2f}{seconds / floor:>9.2f}", flush=True)

    demand = dfu_demo(args.dfus, 36, 7)
    dfu = quick(load_config("dfu"))
    truth = demand["truth"].set_index("dfu_id")["true_pattern"]
    seconds = timed(lambda: segment_demand(dfu, demand, pd.Series(truth)), args.repeats)
    name = f"demand curves of {args.dfus:,} DFUs x 36 months"
    print(f"{name:<58}{seconds:>9.2f}{seconds / floor:>9.2f}")


if __name__ == "__main__":
    main()
