"""DFUs beyond one machine: the Spark engine (``run --engine spark``) at 1M, 3M and 10M DFUs.

Usage: ``python benchmarks/spark.py [--dfus 1000000 3000000 10000000] [--months 24] [--compare]``

For each size, monthly sales of that many DFUs (``--months`` months each, generated from a
seed in blocks of 250,000 DFUs straight to Parquet, never whole in memory) are segmented by
a fresh Python process on Spark ``local[2]`` with the DFU preset and ``scale.sample_rows``
200,000: features on Spark, the fit on the sample, every DFU assigned on Spark and written
as Parquet, the summary. It prints the seconds of each stage, the peak resident memory of
the Python driver and of Spark's JVM (sampled every 20 ms), and the floor
(``benchmarks/floor.py``) measured in the same run, with each time as a ratio to it.

``--compare`` then runs the in-memory path on the same sample in another process (features
by pandas from the same Parquet, the fit on the sample Spark drew, every DFU assigned in
memory) and prints the share of DFUs that get Spark's label.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

BLOCK = 250_000


def write_sales(folder: Path, dfus: int, months: int, seed: int = 0) -> None:
    """Monthly sales of ``dfus`` DFUs as Parquet files of ``BLOCK`` DFUs each: a level per
    DFU (lognormal), a seasonal profile for a third, intermittent zeros for a fifth."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    calendar = pd.date_range("2024-12-01", periods=months, freq="-1MS")[::-1].to_numpy()
    season = 1 + 0.6 * np.sin(2 * np.pi * np.arange(months) / 12)
    for start in range(0, dfus, BLOCK):
        rng = np.random.default_rng([seed, start])
        n = min(BLOCK, dfus - start)
        level = rng.lognormal(2.0, 1.0, n)
        profile = np.where(rng.random(n) < 1 / 3, 1.0, 0.0)[:, None] * (season - 1) + 1
        units = rng.poisson(level[:, None] * profile).astype(np.float64)
        intermittent = rng.random(n) < 0.2
        units[intermittent] *= rng.random((int(intermittent.sum()), months)) < 0.4
        ids = np.char.add("DFU", np.char.zfill(np.arange(start, start + n).astype(str), 9))
        table = pa.table(
            {
                "dfu_id": pa.array(np.repeat(ids, months).astype(object), pa.string()),
                "month": pa.array(np.tile(calendar, n)),
                "units": pa.array(units.ravel()),
            }
        )
        pq.write_table(table, folder / f"part-{start // BLOCK:05d}.parquet")


MEASURE = """
import json, os, sys, threading, time
sys.path.insert(0, {root!r})
from clustering.config import load_config
from clustering.spark.scale import (assign_frame, feature_frame, fit_sample, sample_frame,
    segment_summary, spark_session)

def rss(pid):
    try:
        with open(f"/proc/{{pid}}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0

peaks = {{"python": 0.0, "jvm": 0.0}}
running = True
def sample():
    me = os.getpid()
    while running:
        peaks["python"] = max(peaks["python"], rss(me))
        children = [int(p) for p in os.listdir("/proc") if p.isdigit()]
        jvm = 0.0
        for pid in children:
            try:
                with open(f"/proc/{{pid}}/stat") as stat:
                    parent = int(stat.read().split(") ")[1].split()[1])
                with open(f"/proc/{{pid}}/comm") as comm:
                    name = comm.read().strip()
            except OSError:
                continue
            if parent == me and name == "java":
                jvm = max(jvm, rss(pid))
        peaks["jvm"] = max(peaks["jvm"], jvm)
        time.sleep(0.02)
watcher = threading.Thread(target=sample, daemon=True)
watcher.start()

times = {{}}
start = time.perf_counter()
spark = spark_session("local[2]")
spark.read.parquet({sales!r}).createOrReplaceTempView("sales")
times["spark started"] = time.perf_counter() - start
config = load_config("dfu")
config.datasets["dfu"].features.window_months = {months}
config.datasets["dfu"].features.min_months = min(12, {months})
options = config.datasets["dfu"].features
t = time.perf_counter()
features = feature_frame(spark, "sales", options).cache()
total = features.count()
times["features"] = time.perf_counter() - t
t = time.perf_counter()
sample = sample_frame(features, "dfu_id", config.scale.sample_rows, config.random_state, [])
times["sample to the driver"] = time.perf_counter() - t
if {keep_sample!r}:
    sample.to_parquet({keep_sample!r}, index=False)
t = time.perf_counter()
result, segmentation = fit_sample(sample, config, total)
times["fit on the sample"] = time.perf_counter() - t
t = time.perf_counter()
assign_frame(features, segmentation).write.mode("overwrite").parquet({output!r})
times["assign every DFU, write Parquet"] = time.perf_counter() - t
t = time.perf_counter()
summary = segment_summary(spark.read.parquet({output!r}), features, "dfu_id", ["mean_demand"])
times["summary"] = time.perf_counter() - t
times["total"] = time.perf_counter() - start
spark.stop()
running = False
watcher.join()
print(json.dumps({{"dfus": total, "segments": len(summary), "times": times, "peak_mb": peaks}}))
"""


COMPARE = """
import json, sys
sys.path.insert(0, {root!r})
import numpy as np
import pandas as pd
from clustering.config import load_config
from clustering.io.inputs import precomputed_key
from clustering.prep.features import demand_features
from clustering.spark.scale import fit_sample
config = load_config("dfu")
config.datasets["dfu"].features.window_months = {months}
config.datasets["dfu"].features.min_months = min(12, {months})
options = config.datasets["dfu"].features.model_copy(update={{"attributes": []}})
features = demand_features({{"sales_monthly": pd.read_parquet({sales!r})}}, options)[0].set_index("dfu_id")
spark_sample = pd.read_parquet({sample!r}).set_index("dfu_id")
sample = features.loc[spark_sample.index, spark_sample.columns]
gap = float(((sample - spark_sample).abs() / np.maximum(1.0, spark_sample.abs())).fillna(0).max().max())
result, segmentation = fit_sample(sample.reset_index(), config, len(features))
assigned, _ = segmentation.assign({{precomputed_key("dfu"): features}})
ours = assigned.set_index(config.id_column)["final_cluster"].astype(str)
theirs = pd.read_parquet({assignments!r}).set_index("dfu_id")["final_cluster"]
print(json.dumps({{"dfus": len(theirs), "same_ids": bool(ours.index.sort_values().equals(theirs.index.sort_values())),
    "same_label": float((ours.reindex(theirs.index) == theirs).mean()), "sample_feature_gap": gap}}))
"""


def measure(sales: Path, output: Path, months: int, keep_sample: Path | None = None) -> dict:
    """One fresh process segments the sales on Spark; its stage seconds and peaks (and,
    given ``keep_sample``, the sample it fitted on, written there)."""
    code = MEASURE.format(
        root=str(ROOT),
        sales=str(sales),
        output=str(output),
        months=months,
        keep_sample=str(keep_sample or ""),
    )
    return _json_of(code)


def compare_in_memory(sales: Path, assignments: Path, sample: Path, months: int) -> dict:
    """The in-memory path on the same sample (features by pandas, the fit, every DFU assigned
    in one process): the share of DFUs with Spark's label, and the largest relative gap
    between the two engines' features of the sample."""
    code = COMPARE.format(
        root=str(ROOT), sales=str(sales), assignments=str(assignments), sample=str(sample), months=months
    )
    return _json_of(code)


def _json_of(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dfus", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also run the in-memory path on the same sample and compare labels",
    )
    args = parser.parse_args()
    from floor import measure_floor

    floor = measure_floor()
    print(f"floor (benchmarks/floor.py): {floor:.2f} s")
    rows = []
    for dfus in args.dfus:
        with tempfile.TemporaryDirectory(prefix="spark-bench-") as folder:
            started = time.perf_counter()
            write_sales(Path(folder) / "sales", dfus, args.months)
            generated = time.perf_counter() - started
            sample = Path(folder) / "sample.parquet" if args.compare else None
            measured = measure(Path(folder) / "sales", Path(folder) / "assignments", args.months, sample)
            if args.compare:
                compared = compare_in_memory(
                    Path(folder) / "sales", Path(folder) / "assignments", sample, args.months
                )
                print(f"in-memory path on the same sample: {compared}", flush=True)
        stages = measured["times"]
        print(f"\n{dfus:,} DFUs x {args.months} months (sales generated in {generated:.0f} s):")
        for stage, seconds in stages.items():
            print(f"  {stage:<34} {seconds:8.1f} s  {seconds / floor:6.1f}x floor")
        peaks = measured["peak_mb"]
        print(f"  peak memory: Python driver {peaks['python']:,.0f} MB, Spark JVM {peaks['jvm']:,.0f} MB")
        rows.append({"dfus": dfus, **{k: v for k, v in stages.items()}, **peaks})
    table = pd.DataFrame(rows)
    table["total / floor"] = table["total"] / floor
    table["seconds per million DFUs"] = table["total"] / (table["dfus"] / 1e6)
    print("\n" + table.round(1).to_string(index=False))


if __name__ == "__main__":
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    main()
