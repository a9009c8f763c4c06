"""``demo store|dfu``: demo data with planted truth, as a workbook, Parquet files or a warehouse."""

from __future__ import annotations

import argparse
from pathlib import Path

from clustering.errors import UserInputError


def register(commands) -> None:
    """The ``demo`` command and its two kinds."""
    demo = commands.add_parser("demo", help="write demo data with planted truth")
    kinds = demo.add_subparsers(dest="kind", required=True)
    store = kinds.add_parser("store", help="stores: sheets internal, external, truth")
    store.add_argument("--stores", type=int, default=2000, help="number of stores (default 2000)")
    store.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    store.add_argument(
        "--output", help="workbook to write (.xlsx), or a folder for one Parquet file per table"
    )
    store.add_argument("--database", help="also (or instead) write a demo warehouse to this SQLAlchemy URL")
    dfu = kinds.add_parser("dfu", help="DFUs: sheets sales_monthly, dim_dfu, dim_item, truth")
    dfu.add_argument("--dfus", type=int, default=5000, help="number of DFUs (default 5000)")
    dfu.add_argument("--months", type=int, default=36, help="months of history (default 36)")
    dfu.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    dfu.add_argument("--output", help="workbook to write (.xlsx), or a folder for one Parquet file per table")
    dfu.add_argument("--database", help="also (or instead) write a demo warehouse to this SQLAlchemy URL")

    demo.set_defaults(handler=demo_data)


def demo_data(args: argparse.Namespace) -> int:
    from clustering.demo import dfu_demo, store_demo
    from clustering.io.database import connect, masked
    from clustering.io.dbwrite import demo_warehouse
    from clustering.io.export import check_fits_excel, write_tables, write_workbook

    if not args.output and not args.database:
        raise UserInputError("Give --output FILE.xlsx (or a folder), --database URL, or both.")
    workbook = bool(args.output) and Path(args.output).suffix.lower() == ".xlsx"
    if args.output and not workbook and Path(args.output).suffix:
        raise UserInputError(
            f"{args.output}: the demo writes an Excel workbook (a path ending in .xlsx) or one Parquet "
            f"file per table (a folder)."
        )
    if args.kind == "store":
        sheets, what = store_demo(args.stores, args.seed), f"{args.stores} stores, seed {args.seed}"
    else:
        sheets, what = (
            dfu_demo(args.dfus, args.months, args.seed),
            f"{args.dfus} DFUs x {args.months} months, seed {args.seed}",
        )
    if workbook:
        try:
            check_fits_excel(sheets, args.output)
        except UserInputError as error:
            raise UserInputError(f"{error} For the demo: give a folder as --output.") from None
        write_workbook(sheets, Path(args.output))
        print(f"wrote {args.output} ({what})")
    elif args.output:
        paths = write_tables(sheets, args.output)
        print(f"wrote {', '.join(p.name for p in paths)} to {args.output} ({what})")
    if args.database:
        names = demo_warehouse(connect(args.database, create=True), args.kind, sheets)
        print(f"wrote tables {', '.join(names)} to {masked(args.database)} ({what})")
    return 0
