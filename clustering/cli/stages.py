"""The DFU framework's stage commands, built from the declared stages (``pipeline.stages``):
one command per ``Stage.command`` other than ``run`` (``features``, ``train``, ``label``,
``update``), in the declaration's order, each running its stages with ``pipeline.execute``.
What an earlier command computed is read back from its files in ``--output-dir``
(``LOADERS``); what a command computed is written there (``SAVERS``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from clustering.cli.common import database_engine, print_changes, print_scenarios
from clustering.errors import UserInputError
from clustering.pipeline.stages import INPUTS, Node, declaration, stage

WHOLE_RUN = "run"  # the command that runs every stage (``cli.run``), not a stage command


def stage_commands() -> list[str]:
    """The stage commands, in the order of their first stage in the declaration."""
    return list(dict.fromkeys(s.command for s in declaration() if s.command != WHOLE_RUN))


def stages_of(command: str) -> list[str]:
    """The declared stages a command runs, in order."""
    return [s.name for s in declaration() if s.command == command]


def register(commands) -> None:
    """One subcommand per stage command, its help the summaries of its stages."""
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--config", default="dfu", help="YAML file, or a preset name: dfu (default)")
    shared.add_argument("--output-dir", required=True, help="folder of the stage files")
    for number, command in enumerate(stage_commands(), 1):
        summaries = "; ".join(s.summary for s in declaration() if s.command == command)
        parser = commands.add_parser(command, parents=[shared], help=f"stage {number}: {summaries}")
        FLAGS.get(command, lambda _: None)(parser)
        parser.set_defaults(handler=run_stage_command)


def _source_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", help="workbook or file with the monthly sales (and attribute) sheets")
    parser.add_argument(
        "--database", nargs="?", const="", help="read (and push down) from this SQLAlchemy URL"
    )


def _destination_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database", nargs="?", const="", help="SQLAlchemy URL (default: $CLUSTERING_DB_URL)"
    )
    parser.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")


FLAGS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "features": _source_flags,
    "update": _destination_flags,
}


def run_stage_command(args: argparse.Namespace) -> int:
    """Run a stage command's stages on what the earlier commands' files hold, write its files."""
    from clustering.io.outputs import output_folder
    from clustering.pipeline import execute

    config = _stage_config(args)
    wanted = stages_of(args.command)
    known = _known_from_files(config, args.output_dir, wanted)
    values = execute(config, _inputs(args, config, wanted), wanted=wanted, known=known)
    SAVERS[args.command](config, values, output_folder(args.output_dir))
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


def _inputs(args: argparse.Namespace, config, wanted: list[str]) -> dict[str, Any]:
    """The run's inputs a command's stages read: the sheets (``features``), the destination
    (``update``)."""
    reads = {r for s in declaration() if s.name in wanted for r in s.reads if r in INPUTS}
    inputs: dict[str, Any] = {"sheets": {}, "previous": None, "destination": None}
    if "sheets" in reads and args.command == "features":
        from clustering.io.inputs import database_sheets, load_tables

        engine = database_engine(args) if args.database is not None else None
        inputs["sheets"] = (
            database_sheets(engine, config) if engine is not None else load_tables(config, args.input)
        )
    if "destination" in reads:
        from clustering.io.hosting import system_user
        from clustering.io.writeback import Destination

        inputs["destination"] = Destination(database_engine(args), args.dry_run, system_user())
    return inputs


def _known_from_files(config, folder: str, wanted: list[str]) -> dict[Node, Any]:
    """The values the wanted stages read from earlier commands, loaded from their files; a
    stage without a file is computed from what it reads in turn."""
    known: dict[Node, Any] = {}
    frontier = [r for s in declaration() if s.name in wanted for r in s.reads]
    while frontier:
        name = frontier.pop()
        if name in INPUTS or name in wanted or (name, None) in known:
            continue
        if name in LOADERS:
            known[(name, None)] = LOADERS[name](config, folder)
        else:
            frontier += stage(name).reads
    return known


# -- the files a command leaves and the next one reads ------------------------------------


def _load_checked(config, folder: str):
    """The checked features table, from the features command's file (attributes joined)."""
    from clustering.io.outputs import FEATURES, read_stage_file
    from clustering.io.validation import validate_table

    name = next(iter(config.datasets))
    frame = read_stage_file(folder, FEATURES, "features")
    frame.attrs["source"] = f"{folder}/{FEATURES}"
    return {name: validate_table(frame, config.id_column)}, []


def _assignments(config, folder: str) -> pd.DataFrame:
    from clustering.io.outputs import ASSIGNMENTS, read_stage_file

    assignments = read_stage_file(folder, ASSIGNMENTS, "train")
    assignments[config.id_column] = assignments[config.id_column].astype(str)
    return assignments.set_index(config.id_column)


def _load_merged(config, folder: str):
    """Every entity's final segment, from the train command's assignments file."""
    from clustering.results import Combined

    final = _assignments(config, folder)["cluster"].astype(str).rename("final_cluster")
    return Combined(final.to_frame(), None)


def _load_named(config, folder: str):
    """The segments' names, from the label command's column of the assignments file."""
    from clustering.io.outputs import ASSIGNMENTS
    from clustering.results import Explanation

    assignments = _assignments(config, folder)
    if assignments["label"].isna().all():
        raise UserInputError(f"{folder}/{ASSIGNMENTS} has no labels yet: run the 'label' stage first.")
    names = assignments.drop_duplicates("cluster")[["cluster", "label"]]
    names = names.rename(columns={"cluster": "segment"}).astype(str).reset_index(drop=True)
    return Explanation(pd.DataFrame(), pd.DataFrame(), None, names)


LOADERS: dict[str, Callable[[Any, str], Any]] = {
    "checked": _load_checked,
    "merged": _load_merged,
    "named": _load_named,
}


def _save_features(config, values: dict[Node, Any], folder: Path) -> None:
    from clustering.io.outputs import write_features

    tables, findings = values[("checked", None)]
    for finding in findings:
        print(f"{finding.level}: {finding.text()}", file=sys.stderr)
    path = write_features(tables, config.id_column, folder)
    print(f"wrote {path} ({sum(len(t.frame) for t in tables.values()):,} entities)")


def _save_training(config, values: dict[Node, Any], folder: Path) -> None:
    from clustering.explain.scenarios import scenario_table
    from clustering.io.outputs import write_training

    datasets = list(config.datasets)
    prepared = {d: values[("prepared", d)] for d in datasets}
    clustered = {d: values[("clustered", d)] for d in datasets}
    combined = values[("merged", None)]
    for note in [w for c in clustered.values() for w in c.warnings] + combined.notes:
        print(f"warning: {note}", file=sys.stderr)
    print_scenarios(scenario_table([values[("scenarios", d)] for d in datasets]))
    tables = values[("checked", None)][0]
    stability = values[("stability", None)]
    paths = write_training(config, tables, prepared, clustered, combined, stability, folder)
    clusters = combined.assignments["final_cluster"].nunique()
    print(
        f"{len(combined.assignments):,} entities -> {clusters} clusters; wrote {', '.join(p.name for p in paths)}"
    )


def _save_labels(config, values: dict[Node, Any], folder: Path) -> None:
    from clustering.io.outputs import write_labels

    named = values[("named", None)]
    for note in named.notes + named.warnings:
        print(f"warning: {note}", file=sys.stderr)
    paths = write_labels(named, folder)
    print(f"{len(named.names)} clusters named; wrote {', '.join(p.name for p in paths)}")


def _save_written(config, values: dict[Node, Any], folder: Path) -> None:
    print_changes(values[("written", None)])


SAVERS: dict[str, Callable[[Any, dict[Node, Any], Path], None]] = {
    "features": _save_features,
    "train": _save_training,
    "label": _save_labels,
    "update": _save_written,
}
