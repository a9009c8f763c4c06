"""The stages are declared once (clustering/pipeline/stages.py): run(), the app's cache keys,
the CLI's stage commands and Dagster's assets all derive from the declaration; adding a
stage is one declaration plus its function; run() gives what the engine's steps called one
by one give."""

from __future__ import annotations

import pandas as pd
import pytest

from clustering.cli import parser
from clustering.cli.stages import stage_commands, stages_of
from clustering.config import load_config
from clustering.io.fingerprint import content_hash
from clustering.pipeline import (
    assemble_result,
    check_sheets,
    check_stability,
    cluster_dataset,
    combine_segments,
    execute,
    explain_segments,
    prepare_dataset,
    run,
)
from clustering.pipeline.stages import STAGES, Stage, nodes, sections, stage, stage_keys, upstream
from tests.profiles import quick_preset
from ui.state import Workspace, computed, run_all, stage_keys_of

INPUT_KEYS = {"sheets": "demo", "previous": "", "destination": ""}


def segment_sizes(config, merged) -> pd.Series:
    """A stage added for the test: how many entities each final segment holds."""
    return merged.assignments["final_cluster"].value_counts().sort_index()


SIZES = Stage("sizes", segment_sizes, ("merged",), ("id_column",), "count each segment's entities", "label")


@pytest.fixture
def with_sizes(monkeypatch):
    """The declaration with one stage more, as a contributor would add it."""
    monkeypatch.setattr("clustering.pipeline.stages.STAGES", (*STAGES, SIZES))
    return (*STAGES, SIZES)


def test_a_stage_added_to_the_declaration_is_run_keyed_commanded_and_an_asset(with_sizes, demo_sheets):
    config = quick_preset("store")
    values = execute(config, {"sheets": demo_sheets}, wanted=["sizes"])
    merged = values[("merged", None)].assignments["final_cluster"]
    pd.testing.assert_series_equal(values[("sizes", None)], merged.value_counts().sort_index())
    assert ("result", None) not in values  # only what the wanted stage reads
    assert ("sizes", None) in stage_keys(config, INPUT_KEYS)
    assert "sizes" in stages_of("label")
    assert "count each segment's entities" in command_help("label")
    ws = Workspace()
    ws.load(demo_sheets, {}, "store", config)
    pd.testing.assert_series_equal(computed(ws, "sizes"), values[("sizes", None)])
    assert ws.stages["sizes"].key == stage_keys_of(ws)[("sizes", None)]
    pytest.importorskip("dagster")
    from clustering.orchestration import asset_key, preset_assets

    assets, _ = preset_assets("store")
    (sizes,) = [a for a in assets if a.key == asset_key("store", ("sizes", None))]
    assert set(sizes.dependency_keys) == {asset_key("store", ("merged", None))}


def command_help(command: str) -> str:
    """The help line ``python -m clustering --help`` prints for a command."""
    (commands,) = [a for a in parser()._actions if a.dest == "command"]
    return next(a.help for a in commands._choices_actions if a.dest == command)


def test_the_cli_commands_and_the_app_stages_are_the_declarations():
    assert stage_commands() == ["features", "train", "label", "update"]
    for command in stage_commands():
        for declared in STAGES:
            assert (declared.summary in command_help(command)) == (declared.command == command)
    commanded = [name for command in [*stage_commands(), "run"] for name in stages_of(command)]
    assert sorted(commanded) == sorted(s.name for s in STAGES)  # every stage has one command


def test_the_app_holds_each_declared_stage_under_its_derived_key(demo_sheets):
    ws = Workspace()
    ws.load(demo_sheets, {}, "store", quick_preset("store"))
    run_all(ws)
    keys = stage_keys_of(ws)
    for name, dataset in nodes(ws.config):
        if name == "written":  # writing back is the Export page's, not a step of the run
            continue
        slot = name if dataset is None else f"{name}:{dataset}"
        assert ws.stages[slot].key == keys[(name, dataset)], slot


@pytest.mark.parametrize(
    ("change", "unchanged", "changed"),
    [
        (
            lambda c: c.labels.overrides.update({"I1E1": "Flagships"}),
            {"explained", "merged"},
            {"named", "result"},
        ),
        (
            lambda c: c.columns.update({"sales": {"label": "Sales"}}),
            {"clustered", "merged"},
            {"explained", "scenarios"},
        ),
        (lambda c: setattr(c.stability, "resamples", 5), {"prepared", "clustered"}, {"stability", "result"}),
        (
            lambda c: setattr(c.datasets["external"].cluster, "k_max", 6),
            {"prepared"},
            {"clustered", "merged"},
        ),
    ],
)
def test_a_stage_reruns_exactly_when_what_it_reads_or_its_sections_change(change, unchanged, changed):
    config = load_config("store")
    before = stage_keys(config, INPUT_KEYS)
    change(config)
    after = stage_keys(config, INPUT_KEYS)
    moved = {name for name, dataset in before if before[(name, dataset)] != after[(name, dataset)]}
    assert changed <= moved and not (unchanged & moved), moved
    original = load_config("store")
    for node in before:  # a key moves exactly when its own sections or a key it reads move
        declared = stage(node[0])
        own = sections(original, declared, node[1]) != sections(config, declared, node[1])
        read = any(before[n] != after[n] for n in upstream(node, config))
        assert (before[node] != after[node]) == (own or read), node


def test_run_gives_what_the_engines_steps_called_one_by_one_give(quick_demo_result, demo_sheets):
    """The declaration changes how a run is put together, not its answer: labels, scores and
    names equal the steps called directly, as run() called them before the declaration."""
    config = quick_preset("store")
    checked, findings = check_sheets(config, demo_sheets)
    seed = config.random_state
    prepared = {n: prepare_dataset(n, checked[n], config.datasets[n], seed) for n in checked}
    clustered = {n: cluster_dataset(prepared[n], config.datasets[n], config.prefix(n), seed) for n in checked}
    combined = combine_segments(clustered, prepared, config)
    explanation = explain_segments(combined.assignments["final_cluster"], checked, config)
    stability = check_stability(prepared, clustered, config)
    direct = assemble_result(config, prepared, clustered, combined, explanation, stability, findings)
    declared = run(config, demo_sheets)
    pd.testing.assert_frame_equal(declared.assignments, direct.assignments)
    pd.testing.assert_frame_equal(declared.k_selection, direct.k_selection)
    pd.testing.assert_frame_equal(declared.metrics, direct.metrics)
    pd.testing.assert_frame_equal(declared.stability, direct.stability)
    pd.testing.assert_frame_equal(declared.names, direct.names)
    assert [f.text() for f in declared.findings] == [f.text() for f in direct.findings]
    assert content_hash(declared.assignments) == content_hash(quick_demo_result.assignments)
