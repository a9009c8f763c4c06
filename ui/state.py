"""The analyst's workspace in ``st.session_state`` and the run's stages, keyed by content.

Every stage result is stored with the key it was computed from: a hash of the input data
and of the config sections it depends on. A page shows a result only while its key
matches the current data and options, so changing an option invalidates exactly the
stages that depend on it. Stage computations are also cached across sessions by the
same key (a byte-budgeted cache, ``ui.memory``; ``st.cache_data`` would hash only a sample of large
frames). Nothing here computes analytics: it calls the engine.
"""

from __future__ import annotations

import os
import secrets
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
import streamlit as st

from clustering.config import RunConfig, load_config
from clustering.demo import dfu_demo, store_demo
from clustering.explain.dendrogram import Tree, segment_tree
from clustering.explain.labels import ANALYST, PreviousRun, segment_names
from clustering.explain.scenarios import COLUMNS as SCENARIO_COLUMNS
from clustering.explain.scenarios import ScenarioPair, compare_scenarios, k_scenarios
from clustering.explain.why import WhyHere
from clustering.io.fingerprint import content_hash
from clustering.io.inputs import run_sheets
from clustering.io.validation import Finding, ValidatedTable
from clustering.pipeline import (
    assemble_result,
    check_preparation,
    check_sheets,
    check_stability,
    cluster_dataset,
    combine_segments,
    explain_segments,
    prepare_dataset,
)
from clustering.pipeline.combine import assignment_space
from clustering.pipeline.describe import segment_demand, why_entity
from clustering.results import ClusteredDataset, Combined, Explanation, PreparedDataset, RunResult
from ui.access import current_user
from ui.memory import Box, shared, trim_heap

WORKSPACE = "ws"
SESSION_PARAM = "session"  # in the page's URL: which session the tab belongs to
DEMO_VARIABLE = "CLUSTERING_DEMO"  # "store" or "dfu": every new session starts on that demo data
STEPS = ("loaded", "prepared", "clustered", "merged", "labeled", "exported")


@dataclass
class Stage:
    key: str
    value: Any
    box: Box | None = None  # the shared cache's box: holding it tells the cache the value is in use


@dataclass
class Workspace:
    """Everything the analyst has in this browser session."""

    kind: str = "store"
    config: RunConfig = field(default_factory=lambda: load_config("store"))
    sheets: dict[str, pd.DataFrame] = field(default_factory=dict)
    sheet_hashes: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    stages: dict[str, Stage] = field(default_factory=dict)
    previous: PreviousRun | None = None
    explore_spec: str = ""
    explore_snapshot: str = ""
    exported: bool = False
    fits: int = 0
    page: str = ""
    generation: int = 0
    database_url: str | None = None  # in memory only: never shown, logged or exported
    tracked: dict[str, str] = field(default_factory=dict)  # result key -> tracked run ID
    demo_pending: bool = False  # demo data loaded at session start, not segmented yet
    token: str = field(default_factory=lambda: secrets.token_urlsafe(9))  # this session, in the URL
    lost: bool = False  # the tab belonged to a session this server no longer has

    def widget_key(self, *parts: object) -> str:
        """Widget keys change when data or config are replaced, so widgets show the new values."""
        return "_".join(str(p) for p in (self.generation, *parts))

    def replace_config(self, config: RunConfig) -> None:
        """Use another config on the same data (e.g. an uploaded YAML); stages recompute as needed."""
        self.config = config
        self.generation += 1

    def load(
        self, sheets: dict[str, pd.DataFrame], sources: dict[str, str], kind: str, config: RunConfig
    ) -> None:
        """Replace the data (and the config) and forget every stage computed on the old data."""
        self.sheets, self.sources, self.kind, self.config = sheets, sources, kind, config
        self.sheet_hashes = {name: content_hash(frame) for name, frame in sheets.items()}
        self.stages.clear()
        self.previous, self.explore_spec, self.explore_snapshot, self.exported = None, "", "", False
        self.generation += 1
        self.lost = False


def load_checked(
    ws: Workspace,
    sheets: dict[str, pd.DataFrame],
    sources: dict[str, str],
    kind: str,
    config: RunConfig,
    report: Callable[[str], object] = lambda _: None,
) -> None:
    """Check new data and whether every dataset can be prepared before it replaces what the
    analyst has: a problem (bad file, nothing to cluster...) raises here and the workspace stays
    as it was. The checked tables (and the prepared matrices of small ones) are kept as the
    first stages of the new data; a large table is prepared when its step runs, so loading
    holds it once (``pipeline.check_preparation``). ``report`` hears each step as it starts."""
    rows = sum(len(frame) for frame in sheets.values())
    report(f"Checking {rows:,} rows: IDs, columns and values…")
    checked = check_sheets(config, sheets)
    seed = config.random_state
    ready = {}
    for name, table in checked[0].items():
        report(f"Checking that {name} can be prepared: {len(table.frame):,} rows…")
        ready[name] = check_preparation(name, table, config.datasets[name], seed)
    ws.load(sheets, sources, kind, config)
    ws.stages["checked"] = Stage(data_key(ws), checked)
    for name, data in ready.items():
        if data is not None:
            ws.stages[f"prepared:{name}"] = Stage(prepare_key(ws, name), data)
    trim_heap()  # the check's passing copies go back to the system at once


def load_demo(ws: Workspace, kind: str, size: int | None = None, seed: int = 7) -> None:
    """Generated demo data with its preset (stores: internal + external; DFUs: sales + dimensions)."""
    sheets = dfu_demo(size or 5000, 36, seed) if kind == "dfu" else store_demo(size or 2000, seed)
    sources = {name: f"demo {kind} data (seed {seed}), sheet '{name}'" for name in sheets}
    ws.load(sheets, sources, kind, load_config(kind))


@st.cache_resource
def _live_workspaces() -> weakref.WeakValueDictionary[str, Workspace]:
    """This server's sessions by token, for as long as their workspace lives (a closed
    session's is freed by the reaper, ``ui.memory``)."""
    return weakref.WeakValueDictionary()


def workspace() -> Workspace:
    """This session's workspace (created on first use). A tab whose URL names a session this
    server does not have (it restarted, or the session expired) gets an empty workspace marked
    lost, never the demo under the name of the analyst's file."""
    if WORKSPACE not in st.session_state:
        ws = Workspace()
        earlier = st.query_params.get(SESSION_PARAM)
        ws.lost = bool(earlier) and earlier not in _live_workspaces()
        demo = os.environ.get(DEMO_VARIABLE, "").strip()
        if demo in ("store", "dfu") and not ws.lost:
            load_demo(ws, demo)  # segmented by the first page, after it is drawn (ui.widgets.page)
            ws.demo_pending = True
        _live_workspaces()[ws.token] = ws
        st.session_state[WORKSPACE] = ws
    ws = st.session_state[WORKSPACE]
    if st.query_params.get(SESSION_PARAM) != ws.token:  # page switches drop the query string
        st.query_params[SESSION_PARAM] = ws.token
    return ws


# -- keys -----------------------------------------------------------------------------------


def data_key(ws: Workspace) -> str:
    sources = {n: (d.sheet, d.features) for n, d in ws.config.datasets.items()}
    return content_hash(ws.sheet_hashes, ws.config.id_column, {n: str(v) for n, v in sources.items()})


def prepare_key(ws: Workspace, name: str) -> str:
    return content_hash(data_key(ws), ws.config.datasets[name].preprocess, ws.config.random_state)


def cluster_key(ws: Workspace, name: str) -> str:
    dataset = ws.config.datasets[name]
    return content_hash(prepare_key(ws, name), dataset.cluster, dataset.group_by, ws.config.prefix(name))


def sweep_key(ws: Workspace, name: str) -> str:
    """The key of the dataset's k sweep: its cluster key with k left to the sweep."""
    dataset = ws.config.datasets[name]
    sweeping = dataset.cluster.model_copy(update={"k": None})
    return content_hash(prepare_key(ws, name), sweeping, dataset.group_by, ws.config.prefix(name))


def merge_key(ws: Workspace) -> str:
    return content_hash(
        *[cluster_key(ws, n) for n in ws.config.datasets],
        ws.config.merge,
        ws.config.splits,
        ws.config.overrides,
    )


def explain_key(ws: Workspace) -> str:
    labels = ws.config.labels.model_copy(update={"overrides": {}})
    return content_hash(merge_key(ws), labels, ws.config.labeling)


def stability_key(ws: Workspace) -> str:
    return content_hash(*[cluster_key(ws, n) for n in ws.config.datasets], ws.config.stability)


def current(ws: Workspace, stage: str, key: str) -> Any | None:
    """A stage's result if it was computed from the current data and options, else None."""
    held = ws.stages.get(stage)
    return held.value if held is not None and held.key == key else None


def _run(ws: Workspace, stage: str, key: str, compute: Callable[[], Any]) -> Any:
    held = current(ws, stage, key)
    if held is None:
        box = shared(f"{stage}:{key}", compute)
        ws.stages[stage] = Stage(key, box.value, box)
        held = box.value
    return held


# -- stages ---------------------------------------------------------------------------------


def checked_tables(ws: Workspace) -> tuple[dict[str, ValidatedTable], list[Finding]]:
    """Validated tables (DFU features built); raises UserInputError on bad input."""
    return _run(ws, "checked", data_key(ws), lambda: check_sheets(ws.config, ws.sheets))


def prepared(ws: Workspace, name: str) -> PreparedDataset:
    tables, _ = checked_tables(ws)
    config, seed = ws.config.datasets[name], ws.config.random_state
    return _run(
        ws,
        f"prepared:{name}",
        prepare_key(ws, name),
        lambda: prepare_dataset(name, tables[name], config, seed),
    )


def clustered(ws: Workspace, name: str) -> ClusteredDataset:
    data = prepared(ws, name)
    config, prefix, seed = ws.config.datasets[name], ws.config.prefix(name), ws.config.random_state

    def fit() -> ClusteredDataset:
        ws.fits += 1
        return cluster_dataset(data, config, prefix, seed)

    result = _run(ws, f"clustered:{name}", cluster_key(ws, name), fit)
    if config.cluster.k is None:
        ws.stages[f"sweep:{name}"] = ws.stages[f"clustered:{name}"]
    return result


def held_sweep(ws: Workspace, name: str) -> ClusteredDataset | None:
    """The dataset's k sweep with the current options (a fixed k aside): kept when a k
    scenario is fitted, so the scenarios stay on screen and going back costs nothing."""
    return current(ws, f"sweep:{name}", sweep_key(ws, name))


def scenarios(ws: Workspace, name: str, group: str | None = None) -> pd.DataFrame:
    """A dataset's k scenarios (or a nested dataset's group's) from its sweep, computed once
    per sweep, not on every redraw of the page; empty without a sweep."""
    result = held_sweep(ws, name)
    selection = None if result is None else result.selections().get(group)
    if selection is None:
        return pd.DataFrame(columns=SCENARIO_COLUMNS)
    columns = list(prepared(ws, name).matrix.columns)
    key = content_hash(sweep_key(ws, name), group, ws.config.columns)
    return _run(
        ws, f"scenarios:{name}:{group}", key, lambda: k_scenarios(selection, columns, ws.config.columns)
    )


def scenario_pair(ws: Workspace, name: str, ks: tuple[int, int]) -> ScenarioPair | None:
    """Two k of the dataset's sweep side by side (``explain.scenarios.compare_scenarios``)."""
    result = held_sweep(ws, name)
    if result is None or result.selection is None:
        return None
    columns = list(prepared(ws, name).matrix.columns)
    key = content_hash(sweep_key(ws, name), ks, ws.config.columns)
    return _run(
        ws,
        f"scenario_pair:{name}",
        key,
        lambda: compare_scenarios(result.selection, ks, columns, ws.config.columns),
    )


def merged(ws: Workspace) -> Combined:
    """The final segments: assignments (indexed by ID), the merge (None for one dataset), and
    what the analyst's overrides did."""
    results = {name: clustered(ws, name) for name in ws.config.datasets}
    data = {name: prepared(ws, name) for name in ws.config.datasets}
    key = merge_key(ws)
    old = ws.stages.get("merged")
    if old is not None and old.key != key and ws.config.labels.overrides:
        ws.previous = PreviousRun(old.value.assignments["final_cluster"], dict(ws.config.labels.overrides))
    return _run(ws, "merged", key, lambda: combine_segments(results, data, ws.config))


def explained(ws: Workspace) -> Explanation:
    """Profiles, tests, rules and names; analyst names follow their stores across reruns."""
    assignments = merged(ws).assignments
    tables, _ = checked_tables(ws)
    config = ws.config.model_copy(update={"labels": ws.config.labels.model_copy(update={"overrides": {}})})
    explanation = _run(
        ws,
        "explained",
        explain_key(ws),
        lambda: replace(
            explain_segments(assignments["final_cluster"], tables, config),
            demand=segment_demand(ws.config, ws.sheets, assignments["final_cluster"]),
        ),
    )
    automatic = explanation.names.set_index("segment")["auto_label"]
    final = assignments["final_cluster"]
    if ws.previous is not None:
        carried = segment_names(final, automatic, {}, ws.previous)
        ws.config.labels.overrides = dict(
            zip(
                carried["segment"][carried["source"] == ANALYST],
                carried["label"][carried["source"] == ANALYST],
                strict=True,
            )
        )
        ws.previous = None
    names = segment_names(final, automatic, ws.config.labels.overrides)
    return replace(explanation, names=names)


def final_space(ws: Workspace) -> tuple[pd.DataFrame, pd.Series]:
    """The space the final segments were assigned in (by ID) and every entity's segment."""
    combined = merged(ws)
    space = assignment_space(combined.merge, {name: prepared(ws, name) for name in ws.config.datasets})
    return space, combined.assignments["final_cluster"].astype(str)


def why(ws: Workspace, entity: str) -> WhyHere:
    """Why one entity sits in its final segment (``pipeline.describe.why_entity``), in this
    session's assignment space."""
    space, final = final_space(ws)
    tables, _ = checked_tables(ws)
    return why_entity(entity, space, final, tables, ws.config)


def segments_tree(ws: Workspace) -> Tree:
    """How the final segments relate: the Ward tree of their centres in the assignment space."""
    space, final = final_space(ws)
    centres = space.groupby(final.reindex(space.index)).mean()
    return segment_tree(centres, final.value_counts())


def stability(ws: Workspace) -> pd.DataFrame:
    data = {name: prepared(ws, name) for name in ws.config.datasets}
    results = {name: clustered(ws, name) for name in ws.config.datasets}
    return _run(ws, "stability", stability_key(ws), lambda: check_stability(data, results, ws.config))


def run_result(ws: Workspace) -> RunResult:
    """The whole run as the engine's RunResult (for export), with the analyst's names."""
    _, findings = checked_tables(ws)
    data = {name: prepared(ws, name) for name in ws.config.datasets}
    results = {name: clustered(ws, name) for name in ws.config.datasets}
    return assemble_result(ws.config, data, results, merged(ws), explained(ws), stability(ws), findings)


def progress(ws: Workspace) -> dict[str, bool]:
    """Which steps of the workflow are done for the current data and options."""
    names = list(ws.config.datasets)
    done = {
        "loaded": bool(ws.sheets) and current(ws, "checked", data_key(ws)) is not None,
        "prepared": all(current(ws, f"prepared:{n}", prepare_key(ws, n)) is not None for n in names),
        "clustered": all(current(ws, f"clustered:{n}", cluster_key(ws, n)) is not None for n in names),
        "merged": current(ws, "merged", merge_key(ws)) is not None,
        "labeled": current(ws, "explained", explain_key(ws)) is not None,
        "exported": ws.exported,
    }
    done["prepared"] &= done["loaded"]
    done["clustered"] &= done["prepared"]
    done["merged"] &= done["clustered"]
    done["labeled"] &= done["merged"]
    return done


def run_all(ws: Workspace, on_step: Callable[[str], None] = lambda step: None) -> RunResult:
    """Prepare, cluster, merge, profile and check the stability of the loaded data with the
    current options (each step reused when already done); ``on_step`` names the running step."""
    on_step("Checking the data")
    checked_tables(ws)
    for name in ws.config.datasets:
        on_step(f"Preparing {name}")
        prepared(ws, name)
    for name in ws.config.datasets:
        on_step(f"Clustering {name}")
        clustered(ws, name)
    on_step("Merging" if len(ws.config.datasets) == 2 else "Finalizing the segments")
    merged(ws)
    on_step("Profiling and naming the segments")
    explained(ws)
    on_step("Checking stability")
    stability(ws)
    return run_result(ws)


def result_key(ws: Workspace) -> str:
    """The content key of the whole current result (data, every option, the analyst's names
    and placement rules)."""
    return content_hash(
        explain_key(ws),
        stability_key(ws),
        ws.config.labels.overrides,
        ws.config.overrides,
        ws.config.placement,
    )


def track(ws: Workspace, result: RunResult) -> str:
    """Log the current result to the tracking store once; returns its run ID. Raises
    UserInputError when MLflow is missing; other store failures propagate to the caller,
    which shows them as a warning (a tracking failure never loses the run)."""
    from clustering import tracking

    key = result_key(ws)
    if key not in ws.tracked:
        sheets = run_sheets(ws.config, ws.sheets)
        user = current_user()
        ws.tracked[key] = tracking.log_run(result, sheets, ws.sources, front_end="app", user=user).run_id
    return ws.tracked[key]


def tracked_run_id(ws: Workspace) -> str | None:
    """The run ID of the current result, if it was tracked in this session."""
    return ws.tracked.get(result_key(ws))
