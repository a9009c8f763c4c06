"""The command line, whole process: demo stores in, results out, as an analyst runs it.

Usage: ``python benchmarks/cli.py [--sizes 10000 100000] [--repeats 3] [--writers]``

For each size, the store demo (seed 1) is written once as a workbook and as a folder of
Parquet files; then ``python -m clustering run`` (the default preset) runs as a fresh
process, xlsx in -> xlsx out and Parquet folder in -> Parquet out, with tracking on (the
default: a fresh SQLite store in the temporary folder) and off (``--no-track``). It prints the
median seconds and peak memory (ru_maxrss of the child) of each.

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

from clustering.demo import store_demo  # noqa: E402
from clustering.io.export import write_tables, write_workbook  # noqa: E402


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
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        folder = Path(tempfile.mkdtemp(prefix="bench-cli-"))
        sheets = store_demo(size, seed=1)
        tables = {name: sheets[name] for name in ("internal", "external")}
        write_workbook(tables, folder / "stores.xlsx")
        write_tables(tables, folder / "stores")
        cases = {
            "xlsx -> xlsx": ["--input", "stores.xlsx", "--output", "result.xlsx"],
            "parquet -> parquet": ["--input", "stores", "--output", "result.parquet"],
        }
        for case, arguments in cases.items():
            for tracked in (False, True):
                runs = [
                    whole_process(["run", *arguments, *([] if tracked else ["--no-track"])], folder)
                    for _ in range(args.repeats)
                ]
                rows.append(
                    {
                        "stores": size,
                        "case": case,
                        "tracking": "on" if tracked else "off",
                        "seconds": round(statistics.median(r[0] for r in runs), 2),
                        "peak MB": round(max(r[1] for r in runs)),
                    }
                )
                print(rows[-1], flush=True)
    print(f"\nwhole process, median of {args.repeats}")
    print(pd.DataFrame(rows).to_string(index=False))
    if args.writers:
        from clustering.config import load_config
        from clustering.io.export import result_sheets
        from clustering.pipeline import run

        size = max(args.sizes)
        config = load_config("store")
        sheets = store_demo(size, seed=1)
        result = run(config, {name: sheets[name] for name in ("internal", "external")})
        print(f"\nresults workbook of {size:,} stores")
        print(time_writers(result_sheets(result)).to_string(index=False))


if __name__ == "__main__":
    main()
