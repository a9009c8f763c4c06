"""Time and memory of each engine stage, and the speed-up over the straightforward path.

Usage: python benchmarks/engine.py [--sizes 10000 100000] [--repeats 3] [--naive-rows 20000]

Stages run on generated demo stores (reading files is excluded), one after the other, with
the threads the engine sets (fits under 2 million cells on one thread): after a warm-up,
``--repeats`` timed runs give the median of each stage; one more run under tracemalloc gives
its peak memory (tracemalloc slows Python code, so that run is not timed). Then the whole
``pipeline.run`` (which runs the two datasets, and explain with stability, side by side) is
timed the same way. At --naive-rows stores, the cluster stage is compared with the
straightforward path: KMeans(n_init=10) and scikit-learn's silhouette_score on all points
for every k.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from collections.abc import Callable
from contextlib import contextmanager

import numpy as np
from floor import measure_floor
from sklearn.cluster import KMeans
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

from clustering.config import load_config
from clustering.demo import store_demo
from clustering.pipeline import (
    assess_stability,
    cluster_dataset,
    combine_segments,
    explain_segments,
    prepare_dataset,
    run,
    validate_tables,
)


@contextmanager
def stage(name: str, results: dict[str, list[float]], memory: bool):
    if memory:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    yield
    elapsed = time.perf_counter() - started
    peak = (tracemalloc.get_traced_memory()[1] - before) / 2**20 if memory else float("nan")
    results.setdefault(name, []).append(peak if memory else elapsed)


def run_stages(tables: dict, memory: bool) -> dict[str, list[float]]:
    """Run validate -> prepare -> cluster -> merge -> explain -> stability, recording each stage."""
    config = load_config("store")
    seed = config.random_state
    out: dict[str, list[float]] = {}
    with stage("validate", out, memory):
        checked, _ = validate_tables(tables, config)
    prepared, clustered = {}, {}
    for name, table in checked.items():
        with stage(f"prepare {name}", out, memory):
            prepared[name] = prepare_dataset(name, table, config.datasets[name], seed)
        with stage(f"cluster {name} (k sweep + fit)", out, memory):
            clustered[name] = cluster_dataset(
                prepared[name], config.datasets[name], config.prefix(name), seed
            )
    with stage("merge", out, memory):
        assignments = combine_segments(clustered, prepared, config).assignments
    with stage("explain (profiles, tests, rules, labels)", out, memory):
        explain_segments(assignments["final_cluster"], checked, config)
    for name in clustered:
        with stage(f"stability {name} (20 refits)", out, memory):
            assess_stability(prepared[name], clustered[name], config)
    return out


def report(n_stores: int, repeats: int, floor: float) -> None:
    tables = {k: v for k, v in store_demo(n_stores, seed=1).items() if k != "truth"}
    run_stages(tables, memory=False)  # warm-up: imports, thread pools, numba
    times: dict[str, list[float]] = {}
    for _ in range(repeats):
        for name, value in run_stages(tables, memory=False).items():
            times.setdefault(name, []).extend(value)
    tracemalloc.start()
    peaks = run_stages(tables, memory=True)
    tracemalloc.stop()
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"\n{n_stores:,} stores (medians of {repeats} runs)")
    print(f"{'stage':<44}{'seconds':>9}{'x floor':>9}{'peak MB':>10}")
    for name, value in median.items():
        print(f"{name:<44}{value:>9.2f}{value / floor:>9.2f}{peaks[name][0]:>10.1f}")
    core = sum(v for n, v in median.items() if not n.startswith(("explain", "stability")))
    every = sum(median.values())
    print(f"{'stages in turn: validate to merge':<44}{core:>9.2f}{core / floor:>9.2f}")
    print(f"{'stages in turn: with explain and stability':<44}{every:>9.2f}{every / floor:>9.2f}")
    config = load_config("store")
    whole = [timed(lambda: run(config, tables)) for _ in range(repeats)]
    together = statistics.median(whole)
    print(f"{'pipeline.run (side by side), everything':<44}{together:>9.2f}{together / floor:>9.2f}")


def timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def naive_comparison(n_stores: int) -> None:
    config = load_config("store")
    tables = {k: v for k, v in store_demo(n_stores, seed=1).items() if k != "truth"}
    checked, _ = validate_tables(tables, config)
    prepared = prepare_dataset("internal", checked["internal"], config.datasets["internal"], 0)
    X = prepared.matrix.to_numpy()
    cluster = config.datasets["internal"].cluster

    def naive() -> None:
        for k in range(cluster.k_min, cluster.k_max + 1):
            labels = KMeans(k, n_init=10, random_state=0).fit_predict(X)
            silhouette_score(X, labels)
            calinski_harabasz_score(X, labels)
            davies_bouldin_score(X, labels)

    ours = timed(lambda: cluster_dataset(prepared, config.datasets["internal"], "I", 0))
    straightforward = timed(naive)
    print(f"\nk sweep {cluster.k_min}..{cluster.k_max} at {n_stores:,} stores ({X.shape[1]} features)")
    print(f"straightforward (KMeans n_init=10, full silhouette per k): {straightforward:8.2f} s")
    print(f"engine (sampled sweep, one-pass silhouette, best of 20 starts): {ours:8.2f} s")
    print(f"ratio: {straightforward / ours:.1f}x (both measured in this run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-rows", type=int, default=20_000)
    args = parser.parse_args()
    np.seterr(all="ignore")
    floor = measure_floor()
    print(f"floor (benchmarks/floor.py): {floor:.2f} s", flush=True)
    for size in args.sizes:
        report(size, args.repeats, floor)
    if args.naive_rows:
        naive_comparison(args.naive_rows)


if __name__ == "__main__":
    main()
