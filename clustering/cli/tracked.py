"""The tracked runs: ``assign`` new entities to a tracked run's segments, list the ``runs``,
``compare`` two, ``approve`` one for write-back."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from clustering.cli.common import tracking_options, tracking_uri_of


def register(commands) -> None:
    """The commands of the tracked runs."""
    tracking = tracking_options()
    assigning = commands.add_parser(
        "assign", parents=[tracking], help="assign new entities to a tracked run's segments"
    )
    assigning.add_argument(
        "--run", required=True, metavar="TRACKED_RUN_ID", dest="tracked_run", help="a tracked run (its ID)"
    )
    assigning.add_argument(
        "--input", required=True, help="workbook or file with the entities, laid out as for the run"
    )
    assigning.add_argument("--output", required=True, help="assignments file (.xlsx, .csv or .parquet)")
    assigning.add_argument(
        "--like",
        help="a like-entity mapping (.csv or .xlsx: the new ID, 'like', optional 'weight'): each new entity "
        "takes the segment its like-entities carry the most weight in",
    )
    assigning.add_argument(
        "--rule",
        choices=["nearest", "largest", "cohesive"],
        help="for new entities the mapping does not place: the nearest centre (default), the largest "
        "segment, or the most cohesive one (default: the run's config, placement.rule)",
    )
    assigning.add_argument(
        "--same-entities",
        action="store_true",
        help="the input's IDs that the run knows are its entities with updated data: they keep the run's overrides",
    )
    assigning.set_defaults(handler=assign)
    commands.add_parser("runs", parents=[tracking], help="list the tracked runs").set_defaults(handler=runs)
    comparing = commands.add_parser("compare", parents=[tracking], help="compare two tracked runs")
    comparing.add_argument("run_a", metavar="TRACKED_RUN_A")
    comparing.add_argument("run_b", metavar="TRACKED_RUN_B")
    comparing.add_argument("--output", required=True, help="comparison workbook (.xlsx)")
    approving = commands.add_parser(
        "approve", parents=[tracking], help="approve a tracked run for write-back"
    )
    approving.add_argument("tracked_run", metavar="TRACKED_RUN_ID")
    comparing.set_defaults(handler=compare)
    approving.set_defaults(handler=approve)


def assign(args: argparse.Namespace) -> int:
    from clustering import tracking
    from clustering.io.export import write_assignments
    from clustering.io.inputs import load_tables

    uri = tracking_uri_of(args)
    segmentation = tracking.load_segmentation(uri, args.tracked_run)
    sheets = load_tables(segmentation.config, args.input)
    placement = placement_of(args, segmentation.config)
    assignments, findings = segmentation.assign(sheets, same_entities=args.same_entities, placement=placement)
    for finding in findings:
        print(f"{finding.level}: {finding.text()}", file=sys.stderr)
    path = write_assignments(assignments, args.output)
    far = int(assignments["far_from_segments"].sum())
    placed = assignments["placed_by"].value_counts()
    print(
        f"{len(assignments)} entities -> {assignments['final_cluster'].nunique()} segments of run "
        f"{args.tracked_run}; {far} far from every segment; placed by "
        + ", ".join(f"{how}: {count}" for how, count in placed.items())
    )
    print(f"wrote {path}")
    return 0


def placement_of(args: argparse.Namespace, config):
    """The run's placement rules, with the mapping and the rule the command line gives."""
    from clustering.io.sources import read_table
    from clustering.placement import like_mapping

    placement = config.placement.model_copy()
    if args.like:
        mapping = like_mapping(read_table(args.like), config.id_column, Path(args.like).name)
        placement = placement.model_copy(update={"like": mapping})
    if args.rule:
        placement = placement.model_copy(update={"rule": args.rule})
    return placement


def runs(args: argparse.Namespace) -> int:
    from clustering import tracking

    table = tracking.list_runs(tracking_uri_of(args))
    if table.empty:
        print("no tracked runs yet")
        return 0
    print(table.to_string(index=False, max_colwidth=40))
    return 0


def compare(args: argparse.Namespace) -> int:
    from clustering import tracking
    from clustering.explain.compare import compare_assignments
    from clustering.io.export import write_workbook

    uri = tracking_uri_of(args)
    config = tracking.load_config_of(uri, args.run_a)
    comparison = compare_assignments(
        tracking.load_assignments(uri, args.run_a),
        tracking.load_assignments(uri, args.run_b),
        config.id_column,
        (args.run_a[:8], args.run_b[:8]),
        (tracking.load_metrics(uri, args.run_a), tracking.load_metrics(uri, args.run_b)),
    )
    write_workbook(comparison.sheets(), Path(args.output))
    print(comparison.summary.to_string(index=False))
    print(f"wrote {args.output}")
    return 0


def approve(args: argparse.Namespace) -> int:
    from clustering import tracking

    name = tracking.approve(tracking_uri_of(args), args.tracked_run)
    print(f"run {args.tracked_run} is now the approved run of '{name}'")
    return 0
