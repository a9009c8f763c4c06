"""``run``: segment the input and write the results (in memory, or on Spark), track the run,
write it back; or write back an approved tracked run, or restore an earlier write-back."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from clustering.cli.common import database_engine, print_changes, print_scenarios
from clustering.errors import UserInputError, hide_passwords

WORKER_INPUT_BYTES = 3_000_000  # inputs this large run the engine in worker processes: start them early


def register(commands) -> None:
    """The ``run`` command and its flags."""
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

    run_cmd.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from clustering.config import load_config

    config = load_config(args.config)
    if args.seed is not None:
        config.random_state = args.seed
    started = time.perf_counter()
    engine = database_engine(args) if args.database is not None or args.write_back or args.restore else None
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
    print_scenarios(result.k_scenarios)
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
    from clustering.io.hosting import system_user
    from clustering.io.writeback import restore

    target = config.database.write_back
    report = restore(
        engine, target, config.id_column, args.restore, dry_run=args.dry_run, written_by=system_user()
    )
    print_changes(report)
    return 0


def _write_back_result(args: argparse.Namespace, engine, result, tracked_run_id: str | None) -> None:
    """Write this run's labels, recording the tracked run (when it was tracked) and the writer."""
    from clustering.io.hosting import system_user
    from clustering.io.writeback import Provenance, write_back

    config = result.config
    provenance = Provenance(tracked_run_id, written_by=system_user())
    report = write_back(
        engine,
        result.assignments,
        config.database.write_back,
        config.id_column,
        dry_run=args.dry_run,
        provenance=provenance,
    )
    print_changes(report)


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
    provenance = Provenance(args.tracked_run, approver, tracking.system_user())
    print_changes(
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
