"""The stages of a run, declared once: each stage's name, function, what it reads and which
config sections it depends on. Everything that puts a run together is derived from
``STAGES``: ``run`` (``pipeline.execute``), the app's cache keys (``stage_keys``), the CLI's
stage commands (``command``) and Dagster's assets (``orchestration.assets``, whose
``code_version`` is ``Stage.code_version``, a hash of the stage's own source).

A stage's function takes the config, its dataset's name when the stage runs once per
dataset (``per_dataset``), and what it reads as keyword arguments named after the stages
or the run's inputs (``INPUTS``). A per-dataset stage that reads another gets its own
dataset's value; a run-level stage that reads a per-dataset stage gets a dict by dataset.

Adding a stage: write its function, add one ``Stage`` here; the run, the app's caches, the
CLI and Dagster follow.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import pandas as pd

from clustering.config import RunConfig
from clustering.explain.labels import PreviousRun, segment_names
from clustering.explain.scenarios import dataset_scenarios, scenario_table
from clustering.io.fingerprint import content_hash
from clustering.io.validation import Finding, ValidatedTable
from clustering.pipeline.cluster import cluster_dataset
from clustering.pipeline.combine import combine_segments
from clustering.pipeline.describe import explain_segments, segment_demand, with_segment_names
from clustering.pipeline.prepare import check_sheets, prepare_dataset
from clustering.pipeline.result import assemble_result
from clustering.pipeline.stability import check_stability
from clustering.results import ClusteredDataset, Combined, Explanation, PreparedDataset, RunResult

# What a run is given: the input tables by sheet, the last run's names, where to write.
INPUTS = ("sheets", "previous", "destination")
Node = tuple[str, str | None]  # a stage and its dataset (None: the stage runs once per run)


@dataclass(frozen=True)
class Stage:
    """One step of a run. ``sections`` are dotted paths into the config; ``dataset.x`` is the
    stage's dataset's ``x`` (every dataset's, for a run-level stage), and a path starting
    with ``-`` is left out of the one before (``labels``, ``-labels.overrides``)."""

    name: str
    function: Callable[..., Any]
    reads: tuple[str, ...]
    sections: tuple[str, ...]
    summary: str
    command: str  # the CLI stage command that runs it (``python -m clustering <command>``)
    per_dataset: bool = False

    @property
    def code_version(self) -> str:
        """A hash of the stage function's source: it changes when the stage's code does."""
        return source_version(self.function)


@cache
def source_version(function: Callable[..., Any]) -> str:
    """A short hash of a function's source (Dagster's ``code_version``)."""
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


# -- the stage functions: each the engine's step, called with what the stage reads ------------


def check(
    config: RunConfig, sheets: dict[str, pd.DataFrame]
) -> tuple[dict[str, ValidatedTable], list[Finding]]:
    """Each dataset's table built (DFU features from the monthly sales) and validated."""
    return check_sheets(config, sheets)


def prepare(
    config: RunConfig, dataset: str, checked: tuple[dict[str, ValidatedTable], list[Finding]]
) -> PreparedDataset:
    """The dataset's table prepared for clustering (imputed, transformed, scaled, encoded)."""
    return prepare_dataset(dataset, checked[0][dataset], config.datasets[dataset], config.random_state)


def cluster(config: RunConfig, dataset: str, prepared: PreparedDataset) -> ClusteredDataset:
    """The dataset's segments, k chosen by the configured rule (or density-based)."""
    return cluster_dataset(prepared, config.datasets[dataset], config.prefix(dataset), config.random_state)


def scenarios(
    config: RunConfig, dataset: str, prepared: PreparedDataset, clustered: ClusteredDataset
) -> pd.DataFrame:
    """The other numbers of segments the dataset's k sweep considered, and the recommendation."""
    return dataset_scenarios(dataset, clustered, list(prepared.matrix.columns), config.columns)


def merge(
    config: RunConfig, prepared: dict[str, PreparedDataset], clustered: dict[str, ClusteredDataset]
) -> Combined:
    """The final segment of every entity: the merge, the splits and the analyst's moves."""
    return combine_segments(clustered, prepared, config)


def stability(
    config: RunConfig, prepared: dict[str, PreparedDataset], clustered: dict[str, ClusteredDataset]
) -> pd.DataFrame:
    """The bootstrap stability of each dataset's segments."""
    return check_stability(prepared, clustered, config)


def explain(
    config: RunConfig,
    sheets: dict[str, pd.DataFrame],
    checked: tuple[dict[str, ValidatedTable], list[Finding]],
    merged: Combined,
) -> Explanation:
    """Profiles, tests, rules, automatic names and demand curves of the final segments (the
    analyst's names are applied by ``named``: renaming a segment refits nothing)."""
    final = merged.assignments["final_cluster"]
    automatic = config.model_copy(update={"labels": config.labels.model_copy(update={"overrides": {}})})
    explanation = explain_segments(final, checked[0], automatic)
    return replace(explanation, demand=segment_demand(config, sheets, final))


def name_segments(
    config: RunConfig, previous: PreviousRun | None, merged: Combined, explained: Explanation
) -> Explanation:
    """The explanation with the analyst's names (``labels.overrides``), carried from the
    ``previous`` run's segments to the matching new ones."""
    final = merged.assignments["final_cluster"]
    automatic = explained.names.set_index("segment")["auto_label"]
    return replace(explained, names=segment_names(final, automatic, config.labels.overrides, previous))


def result(
    config: RunConfig,
    checked: tuple[dict[str, ValidatedTable], list[Finding]],
    prepared: dict[str, PreparedDataset],
    clustered: dict[str, ClusteredDataset],
    scenarios: dict[str, pd.DataFrame],
    merged: Combined,
    named: Explanation,
    stability: pd.DataFrame,
) -> RunResult:
    """The whole run: every entity's named segment (new stores placed) and every stage's
    warnings among the findings."""
    outcome = assemble_result(config, prepared, clustered, merged, named, stability, checked[1])
    return replace(outcome, k_scenarios=scenario_table(list(scenarios.values())))


def write(config: RunConfig, destination: Any, merged: Combined, named: Explanation) -> Any:
    """The named segments written to the database (``io.writeback``: one transaction, with
    history); None when there is no ``destination``. The database layer loads only here."""
    if destination is None:
        return None
    from clustering.io.writeback import Provenance, write_back

    assignments = with_segment_names(merged.assignments, named.names).reset_index()
    return write_back(
        destination.engine,
        assignments,
        config.database.write_back,
        config.id_column,
        dry_run=destination.dry_run,
        provenance=Provenance(written_by=destination.written_by),
    )


STAGES: tuple[Stage, ...] = (
    Stage(
        "checked",
        check,
        reads=("sheets",),
        sections=("id_column", "merge.enabled", "dataset.sheet", "dataset.features"),
        summary="read and validate the input tables (DFU features built from the monthly sales)",
        command="features",
    ),
    Stage(
        "prepared",
        prepare,
        reads=("checked",),
        sections=("dataset.preprocess", "random_state"),
        summary="prepare each dataset for clustering",
        command="train",
        per_dataset=True,
    ),
    Stage(
        "clustered",
        cluster,
        reads=("prepared",),
        sections=("dataset.cluster", "dataset.group_by", "dataset.prefix", "random_state"),
        summary="choose k and cluster each dataset",
        command="train",
        per_dataset=True,
    ),
    Stage(
        "scenarios",
        scenarios,
        reads=("prepared", "clustered"),
        sections=("columns",),
        summary="the other numbers of segments each k sweep considered",
        command="train",
        per_dataset=True,
    ),
    Stage(
        "merged",
        merge,
        reads=("prepared", "clustered"),
        sections=("id_column", "merge", "splits", "overrides", "stability", "random_state"),
        summary="merge the datasets' segments, split segments, apply the analyst's moves",
        command="train",
    ),
    Stage(
        "stability",
        stability,
        reads=("prepared", "clustered"),
        sections=("stability", "random_state"),
        summary="bootstrap stability of each dataset's segments",
        command="train",
    ),
    Stage(
        "explained",
        explain,
        reads=("sheets", "checked", "merged"),
        sections=("labels", "-labels.overrides", "labeling", "columns", "dataset.features", "random_state"),
        summary="profile, test, describe and name the final segments",
        command="label",
    ),
    Stage(
        "named",
        name_segments,
        reads=("previous", "merged", "explained"),
        sections=("labels.overrides",),
        summary="apply the analyst's names (carried from the previous run's segments)",
        command="label",
    ),
    Stage(
        "result",
        result,
        reads=("checked", "prepared", "clustered", "scenarios", "merged", "named", "stability"),
        sections=("placement", "stability", "id_column"),
        summary="new stores placed, every finding: the run's result",
        command="run",
    ),
    Stage(
        "written",
        write,
        reads=("destination", "merged", "named"),
        sections=("database.write_back", "id_column"),
        summary="write the named segments to the database, with history",
        command="update",
    ),
)


def declaration(stages: tuple[Stage, ...] | None = None) -> tuple[Stage, ...]:
    """``stages``, or the declaration (``STAGES``, read when called: a test may extend it)."""
    return STAGES if stages is None else stages


def stage(name: str, stages: tuple[Stage, ...] | None = None) -> Stage:
    """The declared stage called ``name``."""
    stages = declaration(stages)
    return next(s for s in stages if s.name == name)


def nodes(config: RunConfig, stages: tuple[Stage, ...] | None = None) -> list[Node]:
    """Every (stage, dataset) of a run with this config, in the order they can run."""
    stages = declaration(stages)
    return [(s.name, d) for s in stages for d in (config.datasets if s.per_dataset else [None])]


def upstream(node: Node, config: RunConfig, stages: tuple[Stage, ...] | None = None) -> list[Node]:
    """The nodes one node reads directly (the run's inputs left out)."""
    stages = declaration(stages)
    name, dataset = node
    found = []
    for read in stage(name, stages).reads:
        if read in INPUTS:
            continue
        if not stage(read, stages).per_dataset:
            found.append((read, None))
        elif dataset is not None:
            found.append((read, dataset))
        else:
            found += [(read, d) for d in config.datasets]
    return found


def section(config: RunConfig, path: str, dataset: str | None) -> Any:
    """The config's value at ``path`` (``dataset.x``: the dataset's, or every dataset's)."""
    if path.startswith("dataset."):
        rest = path.removeprefix("dataset.")
        if dataset is not None:
            return _value(config.datasets[dataset], rest)
        return {name: _value(d, rest) for name, d in config.datasets.items()}
    return _value(config, path)


def _value(model: Any, path: str) -> Any:
    for part in path.split("."):
        model = getattr(model, part)
    return model.model_dump(mode="json") if hasattr(model, "model_dump") else model


def sections(config: RunConfig, declared: Stage, dataset: str | None) -> dict[str, Any]:
    """The config sections a stage depends on, with their values (exclusions applied)."""
    values: dict[str, Any] = {}
    for path in declared.sections:
        if path.startswith("-"):
            parent, _, leaf = path[1:].rpartition(".")
            values[parent] = {k: v for k, v in values[parent].items() if k != leaf}
        else:
            values[path] = section(config, path, dataset)
    return values


def stage_keys(
    config: RunConfig, input_keys: dict[str, str], stages: tuple[Stage, ...] | None = None
) -> dict[Node, str]:
    """Every node's cache key: a hash of the stage's name and code, the keys of what it reads
    (``input_keys``: a key per run input) and the config sections it depends on. A stage's key
    changes exactly when one of those does."""
    stages = declaration(stages)
    keys: dict[Node, str] = {}
    for node in nodes(config, stages):
        declared = stage(node[0], stages)
        inputs = [input_keys[r] for r in declared.reads if r in INPUTS]
        keys[node] = content_hash(
            node,
            declared.code_version,
            inputs,
            [keys[n] for n in upstream(node, config, stages)],
            sections(config, declared, node[1]),
        )
    return keys


def call(
    declared: Stage, config: RunConfig, dataset: str | None, values: dict[Node, Any], inputs: dict[str, Any]
) -> Any:
    """Run one stage on the values of what it reads (``values`` by node, ``inputs`` by name)."""
    arguments = {}
    for read in declared.reads:
        if read in INPUTS:
            arguments[read] = inputs.get(read)
        elif (read, dataset) in values:
            arguments[read] = values[(read, dataset)]
        elif (read, None) in values:
            arguments[read] = values[(read, None)]
        else:
            arguments[read] = {d: values[(read, d)] for d in config.datasets}
    if declared.per_dataset:
        return declared.function(config, dataset, **arguments)
    return declared.function(config, **arguments)
