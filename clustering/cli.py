"""Command line: ``python -m clustering demo store|...`` and ``python -m clustering run``.

User errors print one line starting with 'error:' and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from clustering.config import load_config
from clustering.demo import dfu_demo, store_demo
from clustering.errors import UserInputError
from clustering.export import read_previous_run, write_result, write_workbook
from clustering.pipeline import load_tables, run

EXIT_USER_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clustering", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="write demo data with planted truth")
    kinds = demo.add_subparsers(dest="kind", required=True)
    store = kinds.add_parser("store", help="stores: sheets internal, external, truth")
    store.add_argument("--stores", type=int, default=2000, help="number of stores (default 2000)")
    store.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    store.add_argument("--output", required=True, help="workbook to write (.xlsx)")
    dfu = kinds.add_parser("dfu", help="DFUs: sheets sales_monthly, dim_dfu, dim_item, truth")
    dfu.add_argument("--dfus", type=int, default=5000, help="number of DFUs (default 5000)")
    dfu.add_argument("--months", type=int, default=36, help="months of history (default 36)")
    dfu.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    dfu.add_argument("--output", required=True, help="workbook to write (.xlsx)")

    run_cmd = commands.add_parser("run", help="segment the input and write the results")
    run_cmd.add_argument("--config", default="store", help="YAML file, or a preset name: store (default)")
    run_cmd.add_argument("--input", help="workbook or file holding the datasets' sheets")
    run_cmd.add_argument("--output", required=True, help="results file (.xlsx, .csv or .parquet)")
    run_cmd.add_argument("--format", choices=["xlsx", "csv", "parquet"], help="default: from --output")
    run_cmd.add_argument("--seed", type=int, help="override random_state")
    run_cmd.add_argument(
        "--previous",
        help="results workbook of an earlier run: its analyst names move to the matching new segments",
    )
    return parser


def _demo(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.suffix.lower() != ".xlsx":
        raise UserInputError(f"{output}: the demo writes an Excel workbook; give a path ending in .xlsx.")
    if args.kind == "store":
        write_workbook(store_demo(args.stores, args.seed), output)
        print(f"wrote {output} ({args.stores} stores, seed {args.seed})")
    else:
        write_workbook(dfu_demo(args.dfus, args.months, args.seed), output)
        print(f"wrote {output} ({args.dfus} DFUs x {args.months} months, seed {args.seed})")
    return 0


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.seed is not None:
        config.random_state = args.seed
    started = time.perf_counter()
    previous = read_previous_run(args.previous, config.id_column) if args.previous else None
    result = run(config, load_tables(config, args.input), previous)
    path = write_result(result, args.output, args.format)
    for finding in result.findings:
        print(f"{finding.level}: {finding.text()}", file=sys.stderr)
    sizes = result.assignments["final_cluster"].value_counts().sort_index()
    print(f"{len(result.assignments)} rows -> {len(sizes)} segments in {time.perf_counter() - started:.1f} s")
    print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    args = _parser().parse_args(argv)
    try:
        return _demo(args) if args.command == "demo" else _run(args)
    except UserInputError as error:
        print("error: " + " | ".join(str(error).splitlines()), file=sys.stderr)
        return EXIT_USER_ERROR
