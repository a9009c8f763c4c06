"""The cluster summary API under load: 16 concurrent clients on loopback, latency and errors.

Usage: python benchmarks/api.py [--dfus 20000] [--clients 16] [--requests 200] [--seconds 35]
[--database sqlite|postgresql]

A demo DFU warehouse (SQLite file, or a throwaway PostgreSQL server with ``--database
postgresql``) gets labels written back; ``python -m clustering serve`` starts on a free
loopback port with a bearer token, and each client thread sends ``--requests`` requests and
goes on for ``--seconds`` (so the run crosses the summary's 10 s expiry several times):
the cluster summary, pages of one cluster at random offsets, pages of every DFU, and a bad
parameter (must be 400) and an unknown cluster (must be 404). Prints p50/p95/p99 latency per
kind, requests per second, and every answer that was not the expected status (errors), with
the floor (benchmarks/floor.py) measured in the same run.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from floor import measure_floor, ratio  # noqa: E402

TOKEN = "benchmark-token"
CLUSTERS = ["high_volume_steady", "intermittent_low_volume", "seasonal_medium_volume"]


def warehouse(url: str, dfus: int) -> None:
    from clustering.config import load_config
    from clustering.demo import dfu_demo
    from clustering.io.database import connect
    from clustering.io.dbwrite import demo_warehouse
    from clustering.io.writeback import write_back

    engine = connect(url, create=True)
    sheets = dfu_demo(dfus, 24, seed=1)
    demo_warehouse(engine, "dfu", sheets)
    ids = sheets["dim_dfu"]["dfu_id"]
    labels = np.array(CLUSTERS)[np.arange(len(ids)) % len(CLUSTERS)]
    frame = pd.DataFrame({"dfu_id": ids, "final_cluster": labels, "segment_name": labels})
    write_back(engine, frame, load_config("dfu").database.write_back, "dfu_id")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request_plan(rng: random.Random, total: int, dfus: int) -> list[tuple[str, dict, int]]:
    """(kind, params, expected status) per request."""
    plan = []
    for _ in range(total):
        roll = rng.random()
        if roll < 0.2:
            plan.append(("summary", {}, 200))
        elif roll < 0.6:
            offset = rng.randrange(0, dfus // len(CLUSTERS))
            plan.append(("cluster page", {"cluster_assignment": rng.choice(CLUSTERS), "offset": offset}, 200))
        elif roll < 0.9:
            plan.append(("page", {"offset": rng.randrange(0, dfus), "limit": 100}, 200))
        elif roll < 0.95:
            plan.append(("bad offset", {"offset": 2**64}, 400))
        else:
            plan.append(("unknown cluster", {"cluster_assignment": "nope"}, 404))
    return plan


def client(base: str, plan: list, results: dict, errors: list, lock: threading.Lock, until: float) -> None:
    """Send the plan's requests, over again until ``until`` (a run that crosses the summary's
    expiry more than once)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as session:
        for i in itertools.count():
            if i >= len(plan) and time.perf_counter() >= until:
                return
            kind, params, expected = plan[i % len(plan)]
            path = "/domains/dfu/clusters" if kind == "summary" else "/domains/dfu"
            started = time.perf_counter()
            response = session.get(path, params=params)
            elapsed = time.perf_counter() - started
            with lock:
                results[kind].append(elapsed)
                if response.status_code != expected or "Traceback" in response.text:
                    errors.append(f"{kind}: {response.status_code} {response.text[:100]}")


def load(base: str, clients: int, requests: int, dfus: int, seconds: float) -> tuple[dict, list, float]:
    results: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    plans = [request_plan(random.Random(i), requests, dfus) for i in range(clients)]
    started = time.perf_counter()
    until = started + seconds
    threads = [threading.Thread(target=client, args=(base, p, results, errors, lock, until)) for p in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors, time.perf_counter() - started


def serve(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "CLUSTERING_API_TOKEN": TOKEN}
    command = [sys.executable, "-m", "clustering", "serve", "--database", url, "--port", str(port)]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the API did not start")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(url: str, args: argparse.Namespace, floor: float) -> None:
    warehouse(url, args.dfus)
    port = free_port()
    server = serve(url, port)
    try:
        base = f"http://127.0.0.1:{port}"
        results, errors, wall = load(base, args.clients, args.requests, args.dfus, args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=20)
    every = [t for times in results.values() for t in times]
    print(
        f"{args.database}, {args.dfus:,} DFUs: {len(every):,} requests from {args.clients} clients in {wall:.1f} s "
        f"({len(every) / wall:.0f}/s; {ratio(wall, floor)}), errors: {len(errors)}"
    )
    print(f"{'kind':<16} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for kind, times in sorted(results.items()):
        print(
            f"{kind:<16} {len(times):>6} {statistics.median(times) * 1000:>8.1f} "
            f"{percentile(times, 0.95) * 1000:>8.1f} {percentile(times, 0.99) * 1000:>8.1f}"
        )
    print(f"{'all':<16} {len(every):>6} {statistics.median(every) * 1000:>8.1f} "
          f"{percentile(every, 0.95) * 1000:>8.1f} {percentile(every, 0.99) * 1000:>8.1f}")  # fmt: skip
    for error in errors[:10]:
        print("  error:", error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--dfus", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=200, help="at least this many per client")
    parser.add_argument(
        "--seconds",
        type=float,
        default=35.0,
        help="and for at least this long (the summary expires every 10 s)",
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    floor = measure_floor()
    print(f"floor (python + pandas + scikit-learn, one KMeans on 100k x 10): {floor:.2f} s")
    if args.database == "postgresql":
        from tests.postgres import throwaway_postgres

        with throwaway_postgres() as url:
            run(url, args, floor)
    else:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{Path(folder) / 'w.db'}", args, floor)


if __name__ == "__main__":
    main()
