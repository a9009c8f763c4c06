"""What a finished run says: ``why`` one store or DFU sits in its segment, and a ``report``
to send (HTML or PowerPoint) from a results workbook."""

from __future__ import annotations

import argparse
from pathlib import Path

from clustering.cli.common import tracking_options, tracking_uri_of
from clustering.errors import UserInputError


def register(commands) -> None:
    """The ``why`` and ``report`` commands."""
    tracking = tracking_options()
    why = commands.add_parser(
        "why", parents=[tracking], help="why one store or DFU sits in its segment, and the runner-up"
    )
    why.add_argument("--id", required=True, dest="entity", help="the store's or DFU's ID")
    why.add_argument(
        "--input", required=True, help="the run's input (workbook or file), laid out as for the run"
    )
    run_of = why.add_mutually_exclusive_group(required=True)
    run_of.add_argument("--run", metavar="TRACKED_RUN_ID", dest="tracked_run", help="a tracked run (its ID)")
    run_of.add_argument("--workbook", metavar="RESULT.xlsx", help="a results workbook of the run")
    why.add_argument("--output", help="also write the table of reasons (.csv or .xlsx)")
    report = commands.add_parser(
        "report", help="a report to send, from a results workbook: HTML or PowerPoint"
    )
    report.add_argument(
        "workbook", metavar="RESULT.xlsx", help="a results workbook (run --output, or the Export page)"
    )
    report.add_argument(
        "--output", required=True, help="report.html (a page that prints to PDF) or report.pptx"
    )
    why.set_defaults(handler=why_here)
    report.set_defaults(handler=report_of)


def why_here(args: argparse.Namespace) -> int:
    from clustering.formats import first_upper, percent
    from clustering.io.export import write_assignments
    from clustering.io.inputs import load_tables

    if args.tracked_run:
        from clustering import tracking

        segmentation = tracking.load_segmentation(tracking_uri_of(args), args.tracked_run)
        config, names = segmentation.config, segmentation.names
        placed = segmentation.why(load_tables(config, args.input), args.entity)
    else:
        from clustering.io.export import read_run_config
        from clustering.pipeline.describe import why_in_workbook

        if not Path(args.workbook).is_file():
            raise UserInputError(
                f"{args.workbook}: no such file. Give the results workbook of a run (.xlsx)."
            )
        sheets = load_tables(read_run_config(args.workbook), args.input)
        placed, config, names = why_in_workbook(args.workbook, sheets, args.entity)
    entity, _ = config.entities()
    print(placed.sentence(names, first_upper(entity)))
    reasons = placed.readable(entity)
    shown = reasons.assign(**{"share of the pull": reasons["share of the pull"].map(lambda v: percent(v, 0))})
    print(shown.to_string(index=False))
    if args.output:
        print(f"wrote {write_assignments(reasons, args.output, sheet='why')}")
    return 0


def report_of(args: argparse.Namespace) -> int:
    from clustering.io.report import write_report

    if not Path(args.workbook).is_file():
        raise UserInputError(f"{args.workbook}: no such file. Give the results workbook of a run (.xlsx).")
    path = write_report(args.workbook, args.output)
    print(f"wrote {path}")
    return 0
