"""Command line: ``python -m clustering demo|run|assign|runs|compare|approve`` and the DFU
framework's stages ``features|train|label|update``.

User errors print one line starting with 'error:' and exit with code 2; an unexpected
error prints one line that points to the log file (``clustering.errors.log_file``) and
exits with code 1. Each command imports only what it uses, so a command starts fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from clustering.errors import UserInputError, hide_passwords, report_unexpected

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1
WORKER_INPUT_BYTES = 3_000_000  # inputs this large run the engine in worker processes: start them early


DESCRIPTION = (
    "Segment retail stores and demand units (DFUs): demo data, a whole run, tracked runs "
    "(assign, runs, compare, approve), the DFU framework's stages (features, train, label, "
    "update) and the cluster summary API (serve)."
)


def _parser() -> argparse.ArgumentParser:
    """Every command and flag. Long on purpose: one table of the CLI's surface, read top to
    bottom; splitting it per command would scatter the shared flag groups."""
    parser = argparse.ArgumentParser(prog="python -m clustering", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)

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
        "--run",
        metavar="TRACKED_RUN_ID",
        dest="tracked_run",
        help="with --write-back: write this approved tracked run's labels, without refitting",
    )
    run_cmd.add_argument(
        "--dry-run", action="store_true", help="with --write-back: show what would change, write nothing"
    )
    run_cmd.add_argument(
        "--restore",
        metavar="WRITE_BACK_ID",
        help="write an earlier write-back again from the history (segment_assignments), then stop",
    )
    run_cmd.add_argument("--output", help="results file (.xlsx, .csv or .parquet)")
    run_cmd.add_argument("--format", choices=["xlsx", "csv", "parquet"], help="default: from --output")
    run_cmd.add_argument("--seed", type=int, help="override random_state")
    run_cmd.add_argument(
        "--previous",
        help="results workbook of an earlier run: its analyst names move to the matching new segments",
    )
    run_cmd.add_argument("--no-track", action="store_true", help="do not log this run to the tracking store")
    run_cmd.add_argument(
        "--engine",
        choices=["memory", "spark"],
        default="memory",
        help="spark: DFU features and assignment on Spark, the fit on a sample (scale in the config); "
        "--input is then the monthly sales as Parquet and --output a folder",
    )
    run_cmd.add_argument(
        "--spark-master", default="local[*]", help="with --engine spark: the master URL (default local[*])"
    )
    run_cmd.add_argument(
        "--output-dir", help="also write the framework's files (features, assignments, centroids, labels...)"
    )

    stage = argparse.ArgumentParser(add_help=False)
    stage.add_argument("--config", default="dfu", help="YAML file, or a preset name: dfu (default)")
    stage.add_argument("--output-dir", required=True, help="folder of the stage files")
    features = commands.add_parser("features", parents=[stage], help="stage 1: build clustering_features.csv")
    features.add_argument("--input", help="workbook or file with the monthly sales (and attribute) sheets")
    features.add_argument(
        "--database", nargs="?", const="", help="read (and push down) from this SQLAlchemy URL"
    )
    commands.add_parser("train", parents=[stage], help="stage 2: cluster clustering_features.csv")
    commands.add_parser("label", parents=[stage], help="stage 3: name and profile the clusters")
    update = commands.add_parser("update", parents=[stage], help="stage 4: write the labels to the database")
    update.add_argument(
        "--database", nargs="?", const="", help="SQLAlchemy URL (default: $CLUSTERING_DB_URL)"
    )
    update.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")

    serve = commands.add_parser("serve", help="the read-only cluster summary API (FastAPI)")
    serve.add_argument("--database", nargs="?", const="", help="SQLAlchemy URL (default: $CLUSTERING_DB_URL)")
    serve.add_argument("--config", default="dfu", help="YAML file, or a preset name: dfu (default)")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1); any other needs $CLUSTERING_API_TOKEN",
    )
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")

    tracking = argparse.ArgumentParser(add_help=False)
    tracking.add_argument(
        "--tracking-uri",
        help="MLflow tracking store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlruns.db)",
    )
    assign = commands.add_parser(
        "assign", parents=[tracking], help="assign new entities to a tracked run's segments"
    )
    assign.add_argument(
        "--run", required=True, metavar="TRACKED_RUN_ID", dest="tracked_run", help="a tracked run (its ID)"
    )
    assign.add_argument(
        "--input", required=True, help="workbook or file with the entities, laid out as for the run"
    )
    assign.add_argument("--output", required=True, help="assignments file (.xlsx, .csv or .parquet)")
    assign.add_argument(
        "--like",
        help="a like-entity mapping (.csv or .xlsx: the new ID, 'like', optional 'weight'): each new entity "
        "takes the segment its like-entities carry the most weight in",
    )
    assign.add_argument(
        "--rule",
        choices=["nearest", "largest", "cohesive"],
        help="for new entities the mapping does not place: the nearest centre (default), the largest "
        "segment, or the most cohesive one (default: the run's config, placement.rule)",
    )
    assign.add_argument(
        "--same-entities",
        action="store_true",
        help="the input's IDs that the run knows are its entities with updated data: they keep the run's overrides",
    )
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
    commands.add_parser("runs", parents=[tracking], help="list the tracked runs")
    compare = commands.add_parser("compare", parents=[tracking], help="compare two tracked runs")
    compare.add_argument("run_a", metavar="TRACKED_RUN_A")
    compare.add_argument("run_b", metavar="TRACKED_RUN_B")
    compare.add_argument("--output", required=True, help="comparison workbook (.xlsx)")
    approve = commands.add_parser("approve", parents=[tracking], help="approve a tracked run for write-back")
    approve.add_argument("tracked_run", metavar="TRACKED_RUN_ID")
    return parser


def _demo(args: argparse.Namespace) -> int:
    from clustering.demo import dfu_demo, store_demo
    from clustering.io.database import connect, demo_warehouse, masked
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


def _engine(args: argparse.Namespace):
    from clustering.io.database import URL_VARIABLE, connect, resolve_url

    url = resolve_url(args.database or None)
    if not url:
        raise UserInputError(
            f"No database URL: pass --database URL, set ${URL_VARIABLE}, or add [connections.sql] url to .streamlit/secrets.toml."
        )
    return connect(url)


def _print_changes(report) -> None:
    for line in report.lines():
        print(line)
    for row in report.changes.head(20).itertuples(index=False):
        print(f"  {row.rows:>7}  {row[0]} -> {row[1]}")


def _run(args: argparse.Namespace) -> int:
    from clustering.config import load_config

    config = load_config(args.config)
    if args.seed is not None:
        config.random_state = args.seed
    started = time.perf_counter()
    engine = _engine(args) if args.database is not None or args.write_back or args.restore else None
    if args.restore:
        return _restore(args, engine, config)
    if args.tracked_run:
        if not args.write_back:
            raise UserInputError(
                "--run TRACKED_RUN_ID goes with --write-back: it writes that approved run's labels."
            )
        return _write_back_tracked(args, engine)
    if not args.output:
        raise UserInputError("Give --output FILE (.xlsx, .csv or .parquet) for the results.")
    if args.engine == "spark":
        return _run_spark(args, config, started)
    tracked = config.tracking.enabled and not args.no_track
    worker = _start_tracking(config) if tracked else None  # beside the reading and the run
    from clustering.model import threads

    if args.database is None and _input_bytes(args.input) >= WORKER_INPUT_BYTES:
        threads.start_workers("clustering.pipeline.run")  # they start and import beside the read
    try:
        return _run_in_memory(args, config, engine, started, tracked, worker)
    finally:
        if worker is not None:
            worker.cancel()
        threads.stop_workers()  # the engine's, if the run started any


def _input_bytes(path: str | None) -> int:
    """Bytes of the input file, or of the files of an input folder (0 when there is none)."""
    source = Path(path or "")
    if not path or not source.exists():
        return 0
    if source.is_file():
        return source.stat().st_size
    return sum(item.stat().st_size for item in source.iterdir() if item.is_file())


def _run_in_memory(args: argparse.Namespace, config, engine, started: float, tracked: bool, worker) -> int:
    """Read, run, write, print, track (``tracked``: through ``worker`` when one was started)
    and write back."""
    from clustering.io.export import read_previous_run, write_result
    from clustering.io.inputs import database_sheets, load_tables
    from clustering.pipeline import run

    previous = read_previous_run(args.previous, config.id_column) if args.previous else None
    sheets = database_sheets(engine, config) if args.database is not None else load_tables(config, args.input)
    result = run(config, sheets, previous)
    path = write_result(result, args.output, args.format)
    for finding in result.findings:
        print(f"{finding.level}: {finding.text()}", file=sys.stderr)
    sizes = result.assignments["final_cluster"].value_counts().sort_index()
    _print_scenarios(result)
    print(f"{len(result.assignments)} rows -> {len(sizes)} segments in {time.perf_counter() - started:.1f} s")
    print(f"wrote {path}")
    if args.output_dir:
        from clustering.io.outputs import write_all

        print(f"wrote {len(write_all(result, args.output_dir))} framework files to {args.output_dir}")
    tracked_run_id = None
    if tracked:
        sources = {key: frame.attrs.get("source", key) for key, frame in sheets.items()}
        tracked_run_id = _track(
            result, sheets, sources, workbook=path if path.suffix.lower() == ".xlsx" else None, worker=worker
        )
    if args.write_back:
        _write_back_result(args, engine, result, tracked_run_id)
    return 0


def _run_spark(args: argparse.Namespace, config, started: float) -> int:
    """``run --engine spark``: the monthly sales (Parquet) read by Spark, features and
    assignment there, the fit on a sample; writes every DFU's segment as Parquet in
    ``--output``, the sample run's workbook beside it, and prints the summary."""
    from clustering.io.export import write_csv, write_result
    from clustering.spark.scale import segment_on_spark, spark_session

    if not args.input:
        raise UserInputError(
            "--engine spark reads the monthly sales from --input (a Parquet file or folder)."
        )
    output = Path(args.output)
    if output.suffix:
        raise UserInputError(f"--engine spark writes a folder: give --output a folder, not '{output.name}'.")
    from pyspark.sql import SparkSession

    running = SparkSession.getActiveSession()  # a caller's session (a notebook, a test) stays up
    spark = running or spark_session(args.spark_master)
    try:
        spark.read.parquet(str(Path(args.input).resolve())).createOrReplaceTempView("sales_monthly_input")
        scaled = segment_on_spark(spark, "sales_monthly_input", config, str(output.resolve() / "assignments"))
    finally:
        if running is None:
            spark.stop()
    workbook = write_result(scaled.result, output / "sample_results.xlsx", "xlsx")
    for finding in scaled.result.findings:
        print(f"{finding.level}: {finding.text()}", file=sys.stderr)
    write_csv(scaled.summary, output / "segment_profiles.csv")
    shown = [
        c
        for c in ("final_cluster", "segment_name", "dfus", "far", "mean_demand", "cv_demand")
        if c in scaled.summary
    ]
    print(scaled.summary[shown].round(3).to_string(index=False))
    print(
        f"{scaled.total:,} DFUs -> {len(scaled.summary)} segments in {time.perf_counter() - started:.1f} s "
        f"(fitted on {len(scaled.result.assignments):,})"
    )
    print(f"wrote {output / 'assignments'}, {output / 'segment_profiles.csv'} and {workbook}")
    if config.tracking.enabled and not args.no_track:
        from clustering.io.inputs import precomputed_key

        name = next(iter(config.datasets))
        sample = scaled.result.prepared[name].table.frame
        _track(scaled.result, {precomputed_key(name): sample}, {name: str(args.input)}, workbook=workbook)
    return 0


def _restore(args: argparse.Namespace, engine, config) -> int:
    """Write an earlier write-back again from the history."""
    from clustering.io.hosting import current_user
    from clustering.io.writeback import restore

    target = config.database.write_back
    report = restore(
        engine, target, config.id_column, args.restore, dry_run=args.dry_run, written_by=current_user()
    )
    _print_changes(report)
    return 0


def _write_back_result(args: argparse.Namespace, engine, result, tracked_run_id: str | None) -> None:
    """Write this run's labels, recording the tracked run (when it was tracked) and the writer."""
    from clustering.io.hosting import current_user
    from clustering.io.writeback import Provenance, write_back

    config = result.config
    provenance = Provenance(tracked_run_id, written_by=current_user())
    report = write_back(
        engine,
        result.assignments,
        config.database.write_back,
        config.id_column,
        dry_run=args.dry_run,
        provenance=provenance,
    )
    _print_changes(report)


def _print_scenarios(result) -> None:
    """Each sweep's k scenarios (a dataset's, or a nested dataset's group's), compactly, with
    the recommended k and why: the table the workbook's ``k_scenarios`` sheet holds."""
    scenarios = result.k_scenarios
    for (name, group), table in scenarios.groupby(["dataset", "group"], sort=False, dropna=False):
        shown = table[["k", "silhouette", "jaccard_min", "smallest_segment", "names_preview"]].copy()
        shown.insert(0, "", table["recommended"].map({True: "->", False: ""}))
        shown["names_preview"] = shown["names_preview"].str.slice(0, 70)
        where = f"{name}, group {group}" if isinstance(group, str) else name
        print(f"k scenarios of {where} (pick another k with cluster.k):")
        print(shown.round(3).to_string(index=False))
        print(table["recommendation"].iloc[0])


def _start_tracking(config):
    """A tracking process for the config's store, started now so that MLflow loads beside the
    read and the engine (None when MLflow is not installed or the process cannot start)."""
    from clustering import tracking

    if not tracking.available():
        return None
    try:
        return tracking.TrackingProcess(tracking.tracking_uri(config))
    except OSError:  # no process to be had: the run is logged in this one
        return None


def _track(result, sheets, sources, workbook: Path | None = None, worker=None) -> str | None:
    """Log the run (through ``worker``, a started ``TrackingProcess``, when given) and return
    its tracked run ID; a tracking failure is a warning (None), never a failed run."""
    from clustering import tracking

    if not tracking.available():
        print(
            "warning: the run was not tracked: MLflow is not installed (pip install -e '.[tracking]').",
            file=sys.stderr,
        )
        return None
    try:
        log = None if worker is None else worker.log
        tracked = tracking.log_run(result, sheets, sources, front_end="cli", workbook=workbook, log=log)
    except Exception as error:  # any store problem: the results are written, say why tracking failed
        reason = hide_passwords((str(error).strip().splitlines() or [type(error).__name__])[0])[:300]
        print(f"warning: the run was not tracked ({type(error).__name__}: {reason}).", file=sys.stderr)
        return None
    print(
        f"tracked as run {tracked.run_id} in {hide_passwords(tracked.uri)} "
        f"(see: mlflow ui --backend-store-uri {hide_passwords(tracked.uri)})"
    )
    return tracked.run_id


def _write_back_tracked(args: argparse.Namespace, engine) -> int:
    """Write an approved tracked run's labels, without refitting."""
    from clustering import tracking
    from clustering.io.writeback import Provenance, write_back

    uri = tracking.tracking_uri()
    approver = tracking.approver_of(uri, args.tracked_run)
    if approver is None:
        raise UserInputError(
            f"Run {args.tracked_run} is not approved, so it is not written back. Approve it first: "
            f"python -m clustering approve {args.tracked_run}"
        )
    config = tracking.load_config_of(uri, args.tracked_run)
    assignments = tracking.load_assignments(uri, args.tracked_run)
    provenance = Provenance(args.tracked_run, approver, tracking.current_user())
    _print_changes(
        write_back(
            engine,
            assignments,
            config.database.write_back,
            config.id_column,
            dry_run=args.dry_run,
            provenance=provenance,
        )
    )
    return 0


def _uri(args: argparse.Namespace) -> str:
    from clustering import tracking

    return args.tracking_uri or tracking.tracking_uri()


def _assign(args: argparse.Namespace) -> int:
    from clustering import tracking
    from clustering.io.export import write_assignments
    from clustering.io.inputs import load_tables

    uri = _uri(args)
    segmentation = tracking.load_segmentation(uri, args.tracked_run)
    sheets = load_tables(segmentation.config, args.input)
    placement = _placement(args, segmentation.config)
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


def _placement(args: argparse.Namespace, config):
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


def _runs(args: argparse.Namespace) -> int:
    from clustering import tracking

    table = tracking.list_runs(_uri(args))
    if table.empty:
        print("no tracked runs yet")
        return 0
    print(table.to_string(index=False, max_colwidth=40))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from clustering import tracking
    from clustering.explain.compare import compare_assignments
    from clustering.io.export import write_workbook

    uri = _uri(args)
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


def _approve(args: argparse.Namespace) -> int:
    from clustering import tracking

    name = tracking.approve(_uri(args), args.tracked_run)
    print(f"run {args.tracked_run} is now the approved run of '{name}'")
    return 0


def _stage_config(args: argparse.Namespace):
    from clustering.config import load_config

    config = load_config(args.config)
    if len(config.datasets) != 1:
        raise UserInputError(
            f"The stage commands work on one dataset (a DFU config); {args.config} has {len(config.datasets)}. "
            f"Use: python -m clustering run --output-dir DIR."
        )
    return config


def _features(args: argparse.Namespace) -> int:
    from clustering.io.inputs import database_sheets, load_tables
    from clustering.io.outputs import output_folder, write_features
    from clustering.pipeline import check_sheets

    config = _stage_config(args)
    engine = _engine(args) if args.database is not None else None
    sheets = database_sheets(engine, config) if engine is not None else load_tables(config, args.input)
    checked, findings = check_sheets(config, sheets)
    for finding in findings:
        print(f"{finding.level}: {finding.text()}", file=sys.stderr)
    path = write_features(checked, config.id_column, output_folder(args.output_dir))
    print(f"wrote {path} ({sum(len(t.frame) for t in checked.values()):,} entities)")
    return 0


def _stage_tables(config, folder: str):
    """The checked features table, from the features stage's file (attributes already joined)."""
    from clustering.io.outputs import FEATURES, read_stage_file
    from clustering.io.validation import validate_table

    name = next(iter(config.datasets))
    frame = read_stage_file(folder, FEATURES, "features")
    frame.attrs["source"] = f"{folder}/{FEATURES}"
    return {name: validate_table(frame, config.id_column)}


def _train(args: argparse.Namespace) -> int:
    from clustering.io.outputs import output_folder, write_training
    from clustering.pipeline import check_stability, cluster_dataset, combine_segments, prepare_dataset

    config = _stage_config(args)
    tables = _stage_tables(config, args.output_dir)
    seed = config.random_state
    prepared = {n: prepare_dataset(n, t, config.datasets[n], seed) for n, t in tables.items()}
    clustered = {
        n: cluster_dataset(p, config.datasets[n], config.prefix(n), seed) for n, p in prepared.items()
    }
    combined = combine_segments(clustered, prepared, config)
    stability = check_stability(prepared, clustered, config)
    for note in [w for c in clustered.values() for w in c.warnings] + combined.notes:
        print(f"warning: {note}", file=sys.stderr)
    paths = write_training(
        config, tables, prepared, clustered, combined, stability, output_folder(args.output_dir)
    )
    clusters = combined.assignments["final_cluster"].nunique()
    print(
        f"{len(combined.assignments):,} entities -> {clusters} clusters; wrote {', '.join(p.name for p in paths)}"
    )
    return 0


def _label(args: argparse.Namespace) -> int:
    from clustering.io.outputs import ASSIGNMENTS, read_stage_file, write_labels
    from clustering.pipeline import explain_segments

    config = _stage_config(args)
    tables = _stage_tables(config, args.output_dir)
    assignments = read_stage_file(args.output_dir, ASSIGNMENTS, "train")
    final = assignments.set_index(config.id_column)["cluster"].astype(str)
    final.index = final.index.astype(str)
    explanation = explain_segments(final, tables, config)
    for note in explanation.notes + explanation.warnings:
        print(f"warning: {note}", file=sys.stderr)
    paths = write_labels(explanation, Path(args.output_dir))
    print(f"{final.nunique()} clusters named; wrote {', '.join(p.name for p in paths)}")
    return 0


def _update(args: argparse.Namespace) -> int:
    from clustering.io.hosting import current_user
    from clustering.io.outputs import ASSIGNMENTS, read_stage_file
    from clustering.io.writeback import Provenance, write_back

    config = _stage_config(args)
    assignments = read_stage_file(args.output_dir, ASSIGNMENTS, "train")
    if assignments["label"].isna().all():
        raise UserInputError(
            f"{args.output_dir}/{ASSIGNMENTS} has no labels yet: run the 'label' stage first."
        )
    assignments = assignments.rename(columns={"cluster": "final_cluster", "label": "segment_name"})
    _print_changes(
        write_back(
            _engine(args),
            assignments,
            config.database.write_back,
            config.id_column,
            dry_run=args.dry_run,
            provenance=Provenance(written_by=current_user()),
        )
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    from clustering.config import load_config
    from clustering.io.database import URL_VARIABLE, masked, resolve_url
    from clustering.io.hosting import is_loopback

    try:
        import uvicorn

        from clustering.api import TOKEN_VARIABLE, create_app
    except ImportError:
        raise UserInputError("The API needs FastAPI and uvicorn: pip install -e '.[api]'.") from None
    url = resolve_url(args.database or None)
    if not url:
        raise UserInputError(f"No database URL: pass --database URL or set ${URL_VARIABLE}.")
    token = os.environ.get(TOKEN_VARIABLE) or None
    if token is None and not is_loopback(args.host):
        raise UserInputError(
            f"Refusing to serve {args.host} without a token: set ${TOKEN_VARIABLE} (callers send "
            "'Authorization: Bearer <token>'), or serve 127.0.0.1."
        )
    app = create_app(url, load_config(args.config), token)
    logging.basicConfig(format="%(asctime)s %(name)s %(message)s", level=logging.WARNING)
    logging.getLogger("clustering.api").setLevel(logging.INFO)
    print(f"serving {masked(url)} on http://{args.host}:{args.port} (docs: /docs)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _why(args: argparse.Namespace) -> int:
    from clustering.formats import first_upper, percent
    from clustering.io.export import write_assignments
    from clustering.io.inputs import load_tables

    if args.tracked_run:
        from clustering import tracking

        segmentation = tracking.load_segmentation(_uri(args), args.tracked_run)
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


def _report(args: argparse.Namespace) -> int:
    from clustering.io.report import write_report

    if not Path(args.workbook).is_file():
        raise UserInputError(f"{args.workbook}: no such file. Give the results workbook of a run (.xlsx).")
    path = write_report(args.workbook, args.output)
    print(f"wrote {path}")
    return 0


COMMANDS = {
    "demo": _demo,
    "run": _run,
    "assign": _assign,
    "why": _why,
    "runs": _runs,
    "compare": _compare,
    "approve": _approve,
    "features": _features,
    "train": _train,
    "label": _label,
    "update": _update,
    "report": _report,
    "serve": _serve,
}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UserInputError as error:
        print("error: " + hide_passwords(" | ".join(str(error).splitlines())), file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as error:  # a defect: one line and a log file, never a traceback
        print("error: " + report_unexpected(error, f"running '{args.command}'"), file=sys.stderr)
        return EXIT_INTERNAL_ERROR
