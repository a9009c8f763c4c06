"""The DFU run at scale: seconds of each stage and the process's peak memory.

Usage: ``python benchmarks/dfu.py [--dfus 1000000] [--months 36]``

The demo's sales (``python -m clustering demo dfu --output FOLDER``: one Parquet file per
table) are generated once into a temporary folder; a fresh Python process then reads them
and runs the default DFU preset stage by stage (features, prepare, cluster, explain,
stability) while a thread samples its resident memory every 5 ms; it prints each stage's
seconds and peak.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from floor import measure_floor, ratio  # noqa: E402


def measure(folder: Path) -> dict[str, float]:
    from database import PeakRss

    class Samples(PeakRss):
        """Every sample kept with its time, so that each stage's own peak can be read."""

        def __init__(self) -> None:
            super().__init__()
            self.samples: list[tuple[float, float]] = []

        def run(self) -> None:
            while self.running:
                self.samples.append((time.perf_counter(), self.current()))
                time.sleep(0.005)

    from clustering.config import load_config
    from clustering.io.inputs import load_tables
    from clustering.pipeline import (
        check_sheets,
        check_stability,
        cluster_dataset,
        combine_segments,
        explain_segments,
        prepare_dataset,
    )

    sampler = Samples()
    sampler.start()
    config = load_config("dfu")
    seconds: dict[str, float] = {}

    peaks: dict[str, float] = {}

    def timed(name: str, step):
        started = time.perf_counter()
        value = step()
        seconds[name] = time.perf_counter() - started
        during = [mb for at, mb in sampler.samples if at >= started] + [sampler.current()]
        peaks[f"{name} peak MB"] = max(during)
        return value

    sheets = timed("read parquet", lambda: load_tables(config, folder / "sales_monthly.parquet"))
    checked, _ = timed("features + validate", lambda: check_sheets(config, sheets))
    sheets.clear()  # the features replace the sales rows
    dataset = config.datasets["dfu"]
    prepared = timed("prepare", lambda: prepare_dataset("dfu", checked["dfu"], dataset, config.random_state))
    clustered = timed(
        "cluster", lambda: cluster_dataset(prepared, dataset, config.prefix("dfu"), config.random_state)
    )
    combined = timed("assign", lambda: combine_segments({"dfu": clustered}, {"dfu": prepared}, config))
    final = combined.assignments["final_cluster"]
    timed("explain", lambda: explain_segments(final, checked, config))
    timed("stability", lambda: check_stability({"dfu": prepared}, {"dfu": clustered}, config))
    seconds["total"] = sum(seconds.values())
    sampler.stop()
    return {**seconds, "peak MB": max(peaks.values()), **peaks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--dfus", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure))))
        return
    floor = measure_floor()
    print(f"floor (benchmarks/floor.py): {floor:.2f} s", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-dfu-"))
    command = [sys.executable, "-m", "clustering", "demo", "dfu", "--dfus", str(args.dfus)]
    subprocess.run([*command, "--months", str(args.months), "--output", str(folder)], check=True, cwd=ROOT)
    output = subprocess.run(
        [sys.executable, __file__, "--measure", str(folder)], check=True, capture_output=True, text=True
    ).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    print(f"\n{args.dfus:,} DFUs x {args.months} months, the dfu preset, one process")
    for name, value in figures.items():
        if name.endswith("MB"):
            print(f"{name:<24}{value:10.1f} MB")
        else:
            print(f"{name:<24}{value:10.1f} s  {ratio(value, floor)}")


if __name__ == "__main__":
    main()
