"""DFU features for 300k DFUs x 36 months in DuckDB: pushed down vs pulled into pandas.

Usage: python benchmarks/database.py [--dfus 300000] [--months 36]

Each path runs in its own Python process; its resident memory is sampled during the step
(peak, and growth over the process before the step):
- push-down: one grouped SQLAlchemy Core query scans the sales once inside DuckDB; one row
  per DFU (its months of the window) comes back through DuckDB's columnar fetch and numpy
  finishes the features;
- pull: the whole sales table comes back as a DataFrame (DuckDB's fastest fetch) and the
  in-memory builder computes the features.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from floor import measure_floor, ratio


def build(path: Path, dfus: int, months: int) -> None:
    import duckdb
    from features import sales_table

    sales = sales_table(dfus, months)
    connection = duckdb.connect(str(path))
    connection.register("incoming", sales)
    connection.execute("CREATE TABLE fact_sales_monthly AS SELECT * FROM incoming")
    connection.close()


def measure(path: Path, mode: str, months: int) -> dict:
    import duckdb
    import sqlalchemy as sa

    from clustering.config import DemandFeatureConfig
    from clustering.io.pushdown import pushdown_features
    from clustering.prep.features import demand_features

    config = DemandFeatureConfig(window_months=months)
    sampler = PeakRss()
    baseline = sampler.current()
    sampler.start()
    started = time.perf_counter()
    if mode == "pushdown":
        engine = sa.create_engine(f"duckdb:///{path}")
        features, _ = pushdown_features(engine, "fact_sales_monthly", config)
    else:
        connection = duckdb.connect(str(path), read_only=True)
        sales = connection.execute("SELECT * FROM fact_sales_monthly").df()
        features, _ = demand_features({"sales_monthly": sales}, config)
    elapsed = time.perf_counter() - started
    peak = sampler.stop()
    return {
        "mode": mode,
        "seconds": elapsed,
        "rows": len(features),
        "peak_mb": peak,
        "extra_mb": peak - baseline,
    }


class PeakRss(threading.Thread):
    """Samples this process's resident memory (MB) every 5 ms and keeps the highest value.
    (ru_maxrss would also count the parent's peak, inherited across fork and exec.)"""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0.0
        self.running = True
        self.page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20

    def current(self) -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self.page_mb

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.current())
            time.sleep(0.005)

    def stop(self) -> float:
        self.running = False
        self.join()
        return max(self.peak, self.current())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--dfus", type=int, default=300_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--measure", choices=["pushdown", "pull"])
    parser.add_argument("--path")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.path), args.measure, args.months)))
        return
    floor = measure_floor()
    print(f"floor (benchmarks/floor.py): {floor:.2f} s", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-db-"))
    path = folder / "sales.duckdb"
    build(path, args.dfus, args.months)
    print(f"{args.dfus:,} DFUs x {args.months} months in DuckDB ({path.stat().st_size / 2**20:.0f} MB file)")
    for mode in ("pushdown", "pull"):
        out = subprocess.run(
            [sys.executable, __file__, "--measure", mode, "--path", str(path), "--months", str(args.months)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{mode:<9} {result['seconds']:7.2f} s ({ratio(result['seconds'], floor)})   peak RSS {result['peak_mb']:7.0f} MB   (+{result['extra_mb']:.0f} MB during the step)"
        )


if __name__ == "__main__":
    main()
