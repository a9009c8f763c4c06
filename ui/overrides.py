"""The Profiles page's manual moves: entities picked by ID, by a filter or in a table go to
another segment; the moves live in the config (``overrides``) and every stage after the
merge is recomputed from them."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from clustering.explain.profiling import labeled_data
from clustering.merging import ids_matching
from clustering.pipeline import with_segment_names
from ui.numbers import table
from ui.state import Workspace, checked_tables, merged
from ui.widgets import attempt

TABLE_ROWS = 1_000


def move_entities(ws: Workspace, names: pd.DataFrame) -> None:
    """Pick entities, pick a segment, move them; list and undo the moves made so far."""
    combined = merged(ws)
    for note in combined.notes:
        st.warning(note)
    tables, _ = checked_tables(ws)
    named = with_segment_names(combined.assignments, names).reset_index()
    labeled = labeled_data(named, {n: t.frame for n, t in tables.items()}, ws.config.id_column)
    segments = names.set_index("segment")["label"]
    k = ws.widget_key("move_")
    how = st.radio(
        "Pick the entities", ["by ID", "by a filter", "in a table"], horizontal=True, key=k + "how"
    )
    picked: list[str] = []
    if how == "by ID":
        text = st.text_area("IDs (one per line, or separated by commas)", key=k + "ids")
        picked = [i for i in re.split(r"[\s,;]+", text.strip()) if i]
    elif how == "by a filter":
        expression = st.text_input(
            "Filter", placeholder='region == "North" and revenue > 2e6', key=k + "filter"
        )
        if expression.strip():
            picked = attempt(lambda: ids_matching(labeled, expression, ws.config.id_column)) or []
    else:
        source = st.selectbox(
            "From segment", list(segments.index), format_func=lambda s: f"{s} · {segments[s]}", key=k + "from"
        )
        rows = labeled[labeled["final_cluster"] == source].head(TABLE_ROWS)
        event = st.dataframe(
            rows, hide_index=True, on_select="rerun", selection_mode="multi-row", key=k + "table"
        )
        picked = rows.iloc[event.selection.rows][ws.config.id_column].astype(str).tolist()
    target = st.selectbox(
        "Move them to", list(segments.index), format_func=lambda s: f"{s} · {segments[s]}", key=k + "target"
    )
    st.caption(f"{len(picked):,} entit{'y' if len(picked) == 1 else 'ies'} picked.")
    if st.button(f"Move to {target}", disabled=not picked, key=k + "go"):
        unknown = sorted(set(picked) - set(labeled[ws.config.id_column].astype(str)))
        if unknown:
            st.error(
                f"{len(unknown)} ID(s) are not in the data: {', '.join(unknown[:5])}. Nothing was moved.",
                icon=":material/block:",
            )
        else:
            ws.config.overrides = {**ws.config.overrides, **dict.fromkeys(picked, target)}
            st.rerun()
    if ws.config.overrides:
        moves = pd.DataFrame(
            {"id": list(ws.config.overrides), "moved to": list(ws.config.overrides.values())}
        )
        st.markdown(f"**Moves so far** ({len(moves):,}; kept in the run's config, applied after every rerun)")
        table(moves, width="content")
        if st.button("Undo every move", key=k + "undo"):
            ws.config.overrides = {}
            st.rerun()
