"""Command line: ``python -m clustering demo store|...`` and ``python -m clustering run``.

User errors print one line starting with 'error:' and exit with code 2; an unexpected
error prints one line that points to the log file (``clustering.errors.log_file``) and
exits with code 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from clustering.config import load_config
from clustering.demo import dfu_demo, store_demo
from clustering.errors import UserInputError, report_unexpected
from clustering.io.database import URL_VARIABLE, connect, demo_warehouse, masked, resolve_url
from clustering.io.export import read_previous_run, write_result, write_workbook
from clustering.io.writeback import restore, write_back
from clustering.pipeline import database_sheets, load_tables, run

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clustering", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="write demo data with planted truth")
    kinds = demo.add_subparsers(dest="kind", required=True)
    store = kinds.add_parser("store", help="stores: sheets internal, external, truth")
    store.add_argument("--stores", type=int, default=2000, help="number of stores (default 2000)")
    store.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    store.add_argument("--output", help="workbook to write (.xlsx)")
    store.add_argument("--database", help="also (or instead) write a demo warehouse to this SQLAlchemy URL")
    dfu = kinds.add_parser("dfu", help="DFUs: sheets sales_monthly, dim_dfu, dim_item, truth")
    dfu.add_argument("--dfus", type=int, default=5000, help="number of DFUs (default 5000)")
    dfu.add_argument("--months", type=int, default=36, help="months of history (default 36)")
    dfu.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    dfu.add_argument("--output", help="workbook to write (.xlsx)")
    dfu.add_argument("--database", help="also (or instead) write a demo warehouse to this SQLAlchemy URL")

    run_cmd = commands.add_parser("run", help="segment the input and write the results")
    run_cmd.add_argument("--config", default="store", help="YAML file, or a preset name: store (default)")
    run_cmd.add_argument("--input", help="workbook or file holding the datasets' sheets")
    run_cmd.add_argument(
        "--database",
        nargs="?",
        const="",
        help="read the tables from this SQLAlchemy URL (without a value: $CLUSTERING_DB_URL or secrets.toml)",
    )
    run_cmd.add_argument("--write-back", action="store_true", help="write the segments back to the database")
    run_cmd.add_argument(
        "--dry-run", action="store_true", help="with --write-back: show what would change, write nothing"
    )
    run_cmd.add_argument(
        "--restore", metavar="RUN_ID", help="write an earlier run back from the history, then stop"
    )
    run_cmd.add_argument("--output", required=True, help="results file (.xlsx, .csv or .parquet)")
    run_cmd.add_argument("--format", choices=["xlsx", "csv", "parquet"], help="default: from --output")
    run_cmd.add_argument("--seed", type=int, help="override random_state")
    run_cmd.add_argument(
        "--previous",
        help="results workbook of an earlier run: its analyst names move to the matching new segments",
    )
    return parser


def _demo(args: argparse.Namespace) -> int:
    if not args.output and not args.database:
        raise UserInputError("Give --output FILE.xlsx, --database URL, or both.")
    if args.output and Path(args.output).suffix.lower() != ".xlsx":
        raise UserInputError(
            f"{args.output}: the demo writes an Excel workbook; give a path ending in .xlsx."
        )
    if args.kind == "store":
        sheets, what = store_demo(args.stores, args.seed), f"{args.stores} stores, seed {args.seed}"
    else:
        sheets, what = (
            dfu_demo(args.dfus, args.months, args.seed),
            f"{args.dfus} DFUs x {args.months} months, seed {args.seed}",
        )
    if args.output:
        write_workbook(sheets, Path(args.output))
        print(f"wrote {args.output} ({what})")
    if args.database:
        names = demo_warehouse(connect(args.database), args.kind, sheets)
        print(f"wrote tables {', '.join(names)} to {masked(args.database)} ({what})")
    return 0


def _engine(args: argparse.Namespace):
    url = resolve_url(args.database or None)
    if not url:
        raise UserInputError(
            f"No database URL: pass --database URL, set ${URL_VARIABLE}, or add [connections.sql] url to .streamlit/secrets.toml."
        )
    return connect(url)


def _print_changes(report) -> None:
    verb = "would change" if not report.written else "changed"
    changed = int(report.changes["rows"].sum()) if not report.changes.empty else 0
    print(f"run {report.run_id}: {report.rows} rows, {changed} {verb}")
    for row in report.changes.head(20).itertuples(index=False):
        print(f"  {row.rows:>7}  {row[0]} -> {row[1]}")


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.seed is not None:
        config.random_state = args.seed
    started = time.perf_counter()
    engine = _engine(args) if args.database is not None or args.write_back or args.restore else None
    if args.restore:
        _print_changes(
            restore(engine, config.database.write_back, config.id_column, args.restore, dry_run=args.dry_run)
        )
        return 0
    previous = read_previous_run(args.previous, config.id_column) if args.previous else None
    sheets = database_sheets(engine, config) if args.database is not None else load_tables(config, args.input)
    result = run(config, sheets, previous)
    path = write_result(result, args.output, args.format)
    for finding in result.findings:
        print(f"{finding.level}: {finding.text()}", file=sys.stderr)
    sizes = result.assignments["final_cluster"].value_counts().sort_index()
    print(f"{len(result.assignments)} rows -> {len(sizes)} segments in {time.perf_counter() - started:.1f} s")
    print(f"wrote {path}")
    if args.write_back:
        _print_changes(
            write_back(
                engine, result.assignments, config.database.write_back, config.id_column, dry_run=args.dry_run
            )
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    args = _parser().parse_args(argv)
    try:
        return _demo(args) if args.command == "demo" else _run(args)
    except UserInputError as error:
        print("error: " + " | ".join(str(error).splitlines()), file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as error:  # a defect: one line and a log file, never a traceback
        print("error: " + report_unexpected(error, f"running '{args.command}'"), file=sys.stderr)
        return EXIT_INTERNAL_ERROR
