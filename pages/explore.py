"""Explore: PyGWalker on the labeled data, fully offline; the charts survive a page switch."""

import streamlit as st

from clustering.explain.profiling import labeled_data
from clustering.io.fingerprint import content_hash
from clustering.pipeline import with_segment_names
from ui.explore import explorer, walker_html
from ui.memory import BOUNDED
from ui.state import checked_tables, explained, merged
from ui.widgets import attempt, page, require, sample_note

MAX_ROWS = 50_000


@st.cache_data(show_spinner="Building the explorer…", max_entries=4, **BOUNDED)
def _html(render_id: str, _frame, spec: str) -> str:
    return walker_html(_frame, spec)


previous_page = st.session_state.get("ws").page if "ws" in st.session_state else ""
ws = page(
    "explore", "Explore", "Drag fields to build charts of the labeled data. Nothing leaves this machine."
)
require(ws, "clustered", "Cluster every dataset first, or press Run all steps on Home.")

explanation = attempt(lambda: explained(ws), spinner="Preparing the labeled data…")
if explanation is None:
    st.stop()
assignments = merged(ws).assignments
tables, _ = checked_tables(ws)
named = with_segment_names(assignments, explanation.names).reset_index()
data = labeled_data(named, {n: t.frame for n, t in tables.items()}, ws.config.id_column)

rows = st.slider(
    "Rows to explore",
    1_000,
    min(MAX_ROWS, max(len(data), 1_000)),
    min(5_000, len(data)) if len(data) > 1_000 else len(data),
    step=1_000,
    help="PyGWalker holds the rows in the browser; more rows, slower charts.",
    key=ws.widget_key("explore_rows"),
)
shown = data.sample(rows, random_state=ws.config.random_state).sort_index() if len(data) > rows else data
sample_note(len(shown), len(data), "rows")

if previous_page != "explore" or not ws.explore_snapshot:
    ws.explore_snapshot = ws.explore_spec or " "
spec = ws.explore_snapshot.strip()
render_id = content_hash(shown, spec)
html = _html(render_id, shown, spec)
value = explorer(html, render_id, spec)
if value and value != ws.explore_spec:
    ws.explore_spec = value
if ws.explore_spec:
    st.caption("Your charts are saved in this session and come back when you return to this page.")
