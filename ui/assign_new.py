"""The Export page's 'Assign new stores': a fitted segmentation (this session's, or a tracked
run's model) assigns the entities of an uploaded file, with a flag for those far from
every segment."""

from __future__ import annotations

import streamlit as st

from clustering.assign import Segmentation, fit_segmentation
from clustering.config import PlacementConfig
from clustering.io.export import workbook_bytes
from clustering.io.inputs import load_tables
from clustering.io.sources import SUPPORTED_SUFFIXES, read_table
from clustering.placement import RULE_WORDS, like_mapping
from clustering.results import RunResult
from ui.memory import TTL_SECONDS
from ui.numbers import table
from ui.state import Workspace, result_key
from ui.widgets import attempt

THIS_SESSION = "this session's segments"


@st.cache_resource(show_spinner=False, max_entries=4, ttl=TTL_SECONDS)
def _session_model(key: str, _result: RunResult) -> Segmentation:
    return fit_segmentation(_result)


@st.cache_resource(show_spinner="Loading the run's model…", max_entries=4, ttl=TTL_SECONDS)
def _tracked_model(uri: str, run_id: str) -> Segmentation:
    from clustering import tracking

    return tracking.load_segmentation(uri, run_id)


def _model_source(ws: Workspace) -> str:
    """This session's segments, or a tracked run the analyst picks."""
    from clustering import tracking

    # The tracked runs are listed only when asked for: opening the tracking store costs about
    # a second, too much for every visit of the Export page.
    if not tracking.available() or not st.toggle(
        "Assign with a tracked run's model instead", key=ws.widget_key("assign_tracked")
    ):
        return THIS_SESSION
    runs = attempt(lambda: tracking.list_runs(tracking.tracking_uri(ws.config)))
    if runs is None or runs.empty:
        st.info("No tracked run yet: this session's segments are used.")
        return THIS_SESSION
    approved = runs.set_index("run_id")["approved"]
    return st.selectbox(
        "Tracked run",
        list(runs["run_id"]),
        format_func=lambda r: f"tracked run {r[:8]}" + (" · approved" if approved[r] else ""),
        key=ws.widget_key("assign_src"),
    )


def placement_rules(ws: Workspace) -> PlacementConfig | None:
    """A like-entity mapping (optional upload) and the rule for the new entities it does not
    place; kept in the run's config, so the downloaded YAML and a tracked run place alike.
    None while the uploaded mapping is unreadable (its message is shown)."""
    entity, entities = ws.config.entities()
    mapping = st.file_uploader(
        f"Like-{entity} mapping (optional): a new {entity}'s ID, the existing {entity} it resembles ('like'), "
        "and an optional 'weight'",
        type=["csv", "xlsx"],
        key=ws.widget_key("assign_like"),
    )
    rules = list(RULE_WORDS)
    rule = st.radio(
        f"New {entities} the mapping does not place go to",
        rules,
        index=rules.index(ws.config.placement.rule),
        format_func=lambda r: f"the {RULE_WORDS[r]}",
        horizontal=True,
        key=ws.widget_key("assign_rule"),
        help="The nearest centre uses their data; the largest segment, or the most cohesive one (the smallest "
        f"mean distance of its {entities} to its centre), places them whatever their data.",
    )
    like = ws.config.placement.like
    if mapping is not None:
        read = attempt(
            lambda: like_mapping(
                read_table(mapping.getvalue(), filename=mapping.name), ws.config.id_column, mapping.name
            )
        )
        if read is None:
            return None
        like = read
    placement = ws.config.placement.model_copy(update={"like": like, "rule": rule})
    ws.config.placement = placement
    return placement


def assign_new_entities(ws: Workspace, result: RunResult) -> None:
    """Pick a model, upload entities laid out as for the run, assign and download."""
    from clustering import tracking

    source = _model_source(ws)
    upload = st.file_uploader(
        "New entities (the same sheets and columns as the run's input)",
        type=[s.lstrip(".") for s in SUPPORTED_SUFFIXES],
        key=ws.widget_key("assign_file"),
    )
    entity, entities = ws.config.entities()
    same = st.checkbox(
        f"These are the run's {entities} with updated data",
        key=ws.widget_key("assign_same"),
        help=f"A {entity} whose ID the run knows keeps the run's override only when its data are unchanged, "
        "unless you tick this.",
    )
    placement = placement_rules(ws)
    if placement is None or upload is None or not st.button("Assign", key=ws.widget_key("assign_go")):
        return
    model = attempt(
        lambda: (
            _session_model(result_key(ws), result)
            if source == THIS_SESSION
            else _tracked_model(tracking.tracking_uri(ws.config), source)
        )
    )
    if model is None:
        return
    sheets = attempt(lambda: load_tables(model.config, upload.name, upload.getvalue()), spinner="Reading…")
    if sheets is None:
        return
    outcome = attempt(
        lambda: model.assign(sheets, same_entities=same, placement=placement), spinner="Assigning…"
    )
    if outcome is None:
        return
    assignments, findings = outcome
    for finding in findings:
        (st.warning if finding.level == "warning" else st.info)(finding.text())
    far = int(assignments["far_from_segments"].sum())
    st.success(
        f"{len(assignments):,} entities assigned to {assignments['final_cluster'].nunique()} segments; "
        f"{far:,} are far from every segment (beyond the 99th percentile of the training distances)."
    )
    table(assignments.head(500))
    st.download_button(
        "Assigned entities (.xlsx)",
        workbook_bytes({"assignments": assignments}),
        f"assigned_{upload.name.rsplit('.', 1)[0]}.xlsx",
        icon=":material/download:",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=ws.widget_key("assign_dl"),
    )
