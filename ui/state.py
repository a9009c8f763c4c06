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
from dataclasses import dataclass, field
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
from clustering.pipeline import check_preparation, check_sheets
from clustering.pipeline.combine import assignment_space
from clustering.pipeline.describe import why_entity
from clustering.pipeline.stages import Node, call, stage, stage_keys, upstream
from clustering.results import ClusteredDataset, Combined, Explanation, PreparedDataset, RunResult
from ui.access import signed_in_analyst
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
    ws.stages["checked"] = Stage(stage_key(ws, "checked"), checked)
    for name, data in ready.items():
        if data is not None:
            ws.stages[f"prepared:{name}"] = Stage(stage_key(ws, "prepared", name), data)
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


# -- keys: derived from the declared stages (``clustering.pipeline.stages``) -----------------


def stage_keys_of(ws: Workspace) -> dict[Node, str]:
    """Every stage's key for the current data and options (``pipeline.stages.stage_keys``):
    a stage reruns exactly when what it reads or one of its config sections changes. The
    session carries the analyst's names into the config itself (``computed``), so the
    previous run is not an input of the cached stages."""
    return stage_keys(ws.config, _input_keys(ws))


def _input_keys(ws: Workspace) -> dict[str, str]:
    """The keys of a run's inputs in the app: the loaded sheets; no previous run (the app
    carries names itself, ``computed``) and no destination (writing back is the Export page's)."""
    return {"sheets": content_hash(ws.sheet_hashes), "previous": "", "destination": ""}


def stage_key(ws: Workspace, name: str, dataset: str | None = None) -> str:
    """The key of one stage (of one dataset) for the current data and options."""
    return stage_keys_of(ws)[(name, dataset)]


def _slot(name: str, dataset: str | None) -> str:
    """Where a stage's value is held in the workspace: 'merged', 'prepared:internal'..."""
    return name if dataset is None else f"{name}:{dataset}"


def sweep_key(ws: Workspace, name: str) -> str:
    """The key of the dataset's k sweep: its cluster key with k left to the sweep."""
    dataset = ws.config.datasets[name]
    sweeping = dataset.model_copy(update={"cluster": dataset.cluster.model_copy(update={"k": None})})
    config = ws.config.model_copy(update={"datasets": {**ws.config.datasets, name: sweeping}})
    return stage_keys(config, _input_keys(ws))[("clustered", name)]


def current(ws: Workspace, stage: str, key: str) -> Any | None:
    """A stage's result if it was computed from the current data and options, else None."""
    held = ws.stages.get(stage)
    return held.value if held is not None and held.key == key else None


def held(ws: Workspace, name: str, dataset: str | None = None) -> Any | None:
    """A declared stage's value if it is computed for the current data and options, else None."""
    return current(ws, _slot(name, dataset), stage_key(ws, name, dataset))


def _run(ws: Workspace, stage: str, key: str, compute: Callable[[], Any]) -> Any:
    held = current(ws, stage, key)
    if held is None:
        box = shared(f"{stage}:{key}", compute)
        ws.stages[stage] = Stage(key, box.value, box)
        held = box.value
    return held


def computed(
    ws: Workspace, name: str, dataset: str | None = None, keys: dict[Node, str] | None = None
) -> Any:
    """A declared stage's value: held, shared by another session with the same key, or
    computed from the values of what it reads, computed the same way (``keys``: the stages'
    keys, derived once for the whole walk). Whichever page asks first, the session's own
    bookkeeping happens here: a clustering counts as a fit and, when k was left to the sweep,
    is kept as the dataset's sweep (``held_sweep``); a new merge remembers the analyst's names
    of the old segments, and naming carries them to the matching new ones."""
    keys = stage_keys_of(ws) if keys is None else keys
    slot = _slot(name, dataset)
    value = current(ws, slot, keys[(name, dataset)])
    if value is None:
        if name == "merged":
            _remember_names(ws)
        values = {node: computed(ws, *node, keys=keys) for node in upstream((name, dataset), ws.config)}
        if name == "named" and ws.previous is not None:
            _carry_names(ws, values[("merged", None)], values[("explained", None)])
            keys = stage_keys_of(ws)  # the carried names are the config's overrides now
        inputs = {"sheets": ws.sheets, "previous": None, "destination": None}

        def compute() -> Any:
            if name == "clustered":
                ws.fits += 1
            return call(stage(name), ws.config, dataset, values, inputs)

        value = _run(ws, slot, keys[(name, dataset)], compute)
    if name == "clustered" and ws.config.datasets[dataset].cluster.k is None:
        ws.stages[f"sweep:{dataset}"] = ws.stages[slot]
    return value


def _remember_names(ws: Workspace) -> None:
    """Before the segments are recomputed: the analyst's names and the old segments they
    were given to, to carry them to the new segments (``_carry_names``)."""
    old = ws.stages.get("merged")
    if old is not None and ws.config.labels.overrides:
        ws.previous = PreviousRun(old.value.assignments["final_cluster"], dict(ws.config.labels.overrides))


def _carry_names(ws: Workspace, combined: Combined, explanation: Explanation) -> None:
    """The remembered names moved to the new segments that hold most of their stores, kept as
    the config's ``labels.overrides`` (the Profiles editor shows and edits them there)."""
    final = combined.assignments["final_cluster"]
    automatic = explanation.names.set_index("segment")["auto_label"]
    carried = segment_names(final, automatic, {}, ws.previous)
    analyst = carried["source"] == ANALYST
    ws.config.labels.overrides = dict(
        zip(carried["segment"][analyst], carried["label"][analyst], strict=True)
    )
    ws.previous = None


# -- stages ---------------------------------------------------------------------------------


def checked_tables(ws: Workspace) -> tuple[dict[str, ValidatedTable], list[Finding]]:
    """Validated tables (DFU features built); raises UserInputError on bad input."""
    return computed(ws, "checked")


def prepared(ws: Workspace, name: str) -> PreparedDataset:
    return computed(ws, "prepared", name)


def clustered(ws: Workspace, name: str) -> ClusteredDataset:
    return computed(ws, "clustered", name)


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
    return computed(ws, "merged")


def explained(ws: Workspace) -> Explanation:
    """Profiles, tests, rules and names (the analyst's, carried across reruns: ``computed``)."""
    return computed(ws, "named")


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
    return computed(ws, "stability")


def run_result(ws: Workspace) -> RunResult:
    """The whole run as the engine's RunResult (for export), with the analyst's names."""
    explained(ws)  # the names carried first: the result's key holds them
    return computed(ws, "result")


def progress(ws: Workspace) -> dict[str, bool]:
    """Which steps of the workflow are done for the current data and options."""
    names = list(ws.config.datasets)
    done = {
        "loaded": bool(ws.sheets) and held(ws, "checked") is not None,
        "prepared": all(held(ws, "prepared", n) is not None for n in names),
        "clustered": all(held(ws, "clustered", n) is not None for n in names),
        "merged": held(ws, "merged") is not None,
        "labeled": held(ws, "named") is not None,
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
    and placement rules): the declared ``result`` stage's key."""
    return stage_key(ws, "result")


def track(ws: Workspace, result: RunResult) -> str:
    """Log the current result to the tracking store once; returns its run ID. Raises
    UserInputError when MLflow is missing; other store failures propagate to the caller,
    which shows them as a warning (a tracking failure never loses the run)."""
    from clustering import tracking

    key = result_key(ws)
    if key not in ws.tracked:
        sheets = run_sheets(ws.config, ws.sheets)
        user = signed_in_analyst()
        ws.tracked[key] = tracking.log_run(result, sheets, ws.sources, front_end="app", user=user).run_id
    return ws.tracked[key]


def tracked_run_id(ws: Workspace) -> str | None:
    """The run ID of the current result, if it was tracked in this session."""
    return ws.tracked.get(result_key(ws))
