"""Write-back of N stores on SQLite and PostgreSQL: time, and what a kill -9 leaves behind.

Usage: python benchmarks/writeback.py [--stores 100000] [--engines sqlite postgresql]
                                      [--kills 10]

For each engine a demo store warehouse (``dim_store`` keyed on ``store_id``) gets two
write-backs of every store (all rows change both times), timed. Then ``--kills`` times a
child process starts a write-back of other labels and is killed with SIGKILL after a random
delay: afterwards ``dim_store`` must hold exactly the old labels or exactly the new ones, and
the history whole runs only. PostgreSQL runs with fsync on, as a real server does. Prints the
floor (benchmarks/floor.py) measured in the same run and each time's ratio to it.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import pandas as pd  # noqa: E402
from floor import measure_floor, ratio  # noqa: E402

CHILD = """
import sys
import pandas as pd
from clustering.config import WriteBackConfig
from clustering.io.database import connect
from clustering.io.writeback import write_back
url, labels = sys.argv[1], sys.argv[2]
ids = pd.read_sql("SELECT store_id FROM dim_store", connect(url))["store_id"]
frame = pd.DataFrame({"store_id": ids, "final_cluster": labels, "segment_name": labels})
print("ready", flush=True)
write_back(connect(url), frame, WriteBackConfig(table="dim_store"), "store_id")
print("done", flush=True)
"""


def assignments(ids: pd.Series, label: str) -> pd.DataFrame:
    return pd.DataFrame({"store_id": ids, "final_cluster": label, "segment_name": label})


def build(url: str, stores: int) -> pd.Series:
    from clustering.demo import store_demo
    from clustering.io.database import connect
    from clustering.io.dbwrite import demo_warehouse

    engine = connect(url, create=True)
    demo_warehouse(engine, "store", store_demo(stores, seed=1))
    return pd.read_sql("SELECT store_id FROM dim_store", engine)["store_id"]


def timed_writes(url: str, ids: pd.Series) -> list[float]:
    from clustering.config import WriteBackConfig
    from clustering.io.database import connect
    from clustering.io.writeback import write_back

    times = []
    for label in ("first", "second"):
        started = time.perf_counter()
        write_back(connect(url), assignments(ids, label), WriteBackConfig(table="dim_store"), "store_id")
        times.append(time.perf_counter() - started)
    return times


def state(url: str) -> tuple[set[str], pd.Series]:
    from clustering.io.database import connect

    engine = connect(url)
    labels = set(pd.read_sql("SELECT cluster_assignment FROM dim_store", engine)["cluster_assignment"])
    history = pd.read_sql("SELECT run_id, count(*) AS n FROM segment_assignments GROUP BY run_id", engine)
    return labels, history.set_index("run_id")["n"]


def kill_trials(url: str, stores: int, trials: int, write_seconds: float) -> tuple[int, int, int]:
    """(old state, new state, mixed) after each kill."""
    old, new, mixed = 0, 0, 0
    rng = random.Random(0)
    for trial in range(trials):
        before, _ = state(url)
        label = f"killed-{trial}"
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, url, label], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        child.stdout.readline()  # "ready": the child is about to write
        time.sleep(rng.uniform(0, write_seconds * 1.2))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        after, history = state(url)
        whole_runs = bool((history == stores).all())
        if after == before and whole_runs:
            old += 1
        elif after == {label} and whole_runs:
            new += 1
        else:
            mixed += 1
    return old, new, mixed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--stores", type=int, default=100_000)
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--kills", type=int, default=10)
    args = parser.parse_args()
    floor = measure_floor()
    print(f"floor (python + pandas + scikit-learn, one KMeans on 100k x 10): {floor:.2f} s")
    for engine in args.engines:
        if engine == "postgresql":
            from tests.postgres import throwaway_postgres

            with throwaway_postgres(fsync=True) as url:
                report(engine, url, args, floor)
        else:
            with tempfile.TemporaryDirectory() as folder:
                report(engine, f"sqlite:///{Path(folder) / 'w.db'}", args, floor)
    print(f"(floor {floor:.2f} s)")


def report(engine: str, url: str, args: argparse.Namespace, floor: float) -> None:
    ids = build(url, args.stores)
    first, second = timed_writes(url, ids)
    print(
        f"{engine}: {args.stores:,} stores written back in {first:.2f} s ({ratio(first, floor)}), "
        f"again in {second:.2f} s ({ratio(second, floor)})"
    )
    old, new, mixed = kill_trials(url, args.stores, args.kills, max(first, second))
    print(f"{engine}: kill -9 x {args.kills}: old state {old}, new state {new}, mixed {mixed}")


if __name__ == "__main__":
    main()
