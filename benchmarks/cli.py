"""The command line, whole process: demo stores in, results out, as an analyst runs it.

Usage: ``python benchmarks/cli.py [--sizes 10000 100000] [--repeats 3] [--writers]``

For each size, the store demo (seed 1) is written once as a workbook and as a folder of
Parquet files; then ``python -m clustering run`` (the default preset) runs as a fresh
process, xlsx in -> xlsx out and Parquet folder in -> Parquet out, with tracking on (the
default: a fresh SQLite store in the temporary folder) and off (``--no-track``). It prints the
median seconds and peak memory (ru_maxrss of the child) of each, beside two floors measured
in the same run (``benchmarks/floor.py``): the fixed floor, and the workbook's floor (a
process that imports pandas and scikit-learn, reads both sheets with calamine and fits one
KMeans per sheet), with each time's ratio to the workbook's floor.

``--stages`` also times the stages of the largest size's xlsx run in one process (imports,
read, engine, workbook, tracking), each as a ratio to that floor, then the engine's declared
stages (``pipeline.stages``) one after the other in one process, and counts the KMeans fits
and how many repeat an identical fit (same rows, k, starts and seed).

``--writers`` also times the results workbook of the largest size written by this project's
writer (rust_xlsxwriter) against pandas with xlsxwriter (``constant_memory``) and openpyxl.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from floor import measure_floor, measure_input_floor  # noqa: E402

from clustering.demo import store_demo  # noqa: E402
from clustering.io.export import write_tables, write_workbook  # noqa: E402

STAGES_CODE = """
import sys, time
started = last = time.perf_counter()
def lap(name):
    global last
    now = time.perf_counter()
    print(f"{name}\t{now - last:.3f}", flush=True)
    last = now
from pathlib import Path
from clustering.model import threads
threads.start_workers("clustering.pipeline.run")  # as the CLI does for an input this large
from clustering.config import load_config
from clustering.io.export import result_sheets, write_workbook
from clustering.io.inputs import load_tables
from clustering.pipeline import run
lap("imports (engine)")
config = load_config("store")
sheets = load_tables(config, "stores.xlsx"); lap("read the workbook")
result = run(config, sheets); lap("engine (pipeline.run, k scenarios included)")
write_workbook(result_sheets(result), "result.xlsx"); lap("write the workbook")
from clustering import tracking
tracking.store.prepare(tracking.tracking_uri(config)); lap("MLflow imported, packages mapped, store opened")
tracking.log_run(result, sheets, workbook=Path("result.xlsx")); lap("the run logged")
threads.stop_workers()
print(f"total\t{time.perf_counter() - started:.3f}")
"""


DECLARED_CODE = """
import collections, hashlib, sys, time
import numpy as np
from sklearn.cluster import KMeans
from clustering.config import load_config
from clustering.io.inputs import load_tables
from clustering.model import threads
from clustering.pipeline.stages import call, nodes, stage
threads.PROCESS_CELLS = 10**15  # one process: each stage's own seconds
fits = collections.Counter()
fit = KMeans.fit
def counted(self, X, y=None, sample_weight=None):
    data = np.ascontiguousarray(X)
    fits[(hashlib.sha1(data.view(np.uint8)).hexdigest(), self.n_clusters, self.n_init, repr(self.random_state))] += 1
    return fit(self, X, y, sample_weight)
KMeans.fit = counted
config = load_config("store")
sheets = load_tables(config, "stores.xlsx")
inputs, values = {"sheets": sheets, "previous": None, "destination": None}, {}
for name, dataset in nodes(config):
    started = time.perf_counter()
    values[(name, dataset)] = call(stage(name), config, dataset, values, inputs)
    print(f"{name if dataset is None else name + ' ' + dataset}\t{time.perf_counter() - started:.3f}", flush=True)
print(f"KMeans fits: {sum(fits.values())}, of which repeats of an identical fit: {sum(fits.values()) - len(fits)}")
"""


def whole_process(arguments: list[str], folder: Path) -> tuple[float, float]:
    """Seconds and peak MB (the child's own ru_maxrss) of one ``python -m clustering`` process."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "clustering", *arguments],
        cwd=folder,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(folder)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(
            f"python -m clustering {' '.join(arguments)} failed with exit code {child.returncode}"
        )
    return seconds, usage.ru_maxrss / 1024


def stage_times(folder: Path, code: str = STAGES_CODE) -> pd.DataFrame:
    """Seconds of each stage of an xlsx run, in one fresh process in ``folder`` (``code``: the
    steps of the CLI, or the declared stages one after the other)."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(folder)},
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split("\t") for line in done.stdout.splitlines() if "\t" in line]
    for line in done.stdout.splitlines():
        if "\t" not in line:
            print(line)
    return pd.DataFrame({"stage": [r[0] for r in rows], "seconds": [float(r[1]) for r in rows]})


def time_writers(sheets: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The results workbook written three ways, seconds each."""
    rows = []
    for name, write in {
        "rust_xlsxwriter (this project)": lambda target: write_workbook(sheets, target),
        "pandas + xlsxwriter constant_memory": lambda target: _pandas_write(
            sheets, target, "xlsxwriter", {"options": {"constant_memory": True}}
        ),
        "pandas + openpyxl": lambda target: _pandas_write(sheets, target, "openpyxl", {}),
    }.items():
        started = time.perf_counter()
        write(io.BytesIO())
        rows.append({"writer": name, "seconds": round(time.perf_counter() - started, 2)})
    return pd.DataFrame(rows)


def _pandas_write(sheets: dict[str, pd.DataFrame], target: io.BytesIO, engine: str, kwargs: dict) -> None:
    with pd.ExcelWriter(target, engine=engine, engine_kwargs=kwargs) as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--writers", action="store_true", help="also compare workbook writers")
    parser.add_argument("--stages", action="store_true", help="also time the stages of the largest run")
    args = parser.parse_args()
    floor = measure_floor()
    print(f"fixed floor (benchmarks/floor.py): {floor:.2f} s", flush=True)
    rows, folder = [], None
    for size in args.sizes:
        folder = Path(tempfile.mkdtemp(prefix="bench-cli-"))
        sheets = store_demo(size, seed=1)
        tables = {name: sheets[name] for name in ("internal", "external")}
        write_workbook(tables, folder / "stores.xlsx")
        write_tables(tables, folder / "stores")
        input_floor = measure_input_floor(str(folder / "stores.xlsx"))
        print(
            f"{size:,} stores: workbook floor (import, read both sheets, one KMeans each) {input_floor:.2f} s"
        )
        rows += time_cases(folder, size, args.repeats, input_floor)
    print(f"\nwhole process, median of {args.repeats}; ratio: to the workbook floor of the same size")
    print(pd.DataFrame(rows).to_string(index=False))
    if args.stages:
        stages = stage_times(folder)
        stages["/ floor"] = (stages["seconds"] / input_floor).round(2)
        print(
            f"\nstages of one xlsx run of {max(args.sizes):,} stores, one process, tracking to the store of the runs above"
        )
        print(stages.to_string(index=False))
        declared = stage_times(folder, DECLARED_CODE)
        declared["/ floor"] = (declared["seconds"] / input_floor).round(2)
        print("\nthe engine's declared stages one after the other, one process (CPU seconds of each)")
        print(declared.to_string(index=False))
    if args.writers:
        print_writers(max(args.sizes))


def time_cases(folder: Path, size: int, repeats: int, input_floor: float) -> list[dict]:
    """The four whole-process cases of one size: xlsx or Parquet, tracking on or off."""
    cases = {
        "xlsx -> xlsx": ["--input", "stores.xlsx", "--output", "result.xlsx"],
        "parquet -> parquet": ["--input", "stores", "--output", "result.parquet"],
    }
    rows = []
    for case, arguments in cases.items():
        for tracked in (False, True):
            runs = [
                whole_process(["run", *arguments, *([] if tracked else ["--no-track"])], folder)
                for _ in range(repeats)
            ]
            seconds = statistics.median(r[0] for r in runs)
            rows.append(
                {
                    "stores": size,
                    "case": case,
                    "tracking": "on" if tracked else "off",
                    "seconds": round(seconds, 2),
                    "ratio": round(seconds / input_floor, 2),
                    "peak MB": round(max(r[1] for r in runs)),
                }
            )
            print(rows[-1], flush=True)
    return rows


def print_writers(size: int) -> None:
    """The results workbook of ``size`` stores, written three ways."""
    from clustering.config import load_config
    from clustering.io.export import result_sheets
    from clustering.pipeline import run

    config = load_config("store")
    sheets = store_demo(size, seed=1)
    result = run(config, {name: sheets[name] for name in ("internal", "external")})
    print(f"\nresults workbook of {size:,} stores")
    print(time_writers(result_sheets(result)).to_string(index=False))


if __name__ == "__main__":
    main()
