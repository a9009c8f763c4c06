"""Results: the segments at a glance after 'Run all steps': names, sizes, quality, warnings."""

import streamlit as st

from clustering.explain.summary import headline, level_names, segment_grid, summary_table, what_sets_apart
from clustering.formats import first_upper
from ui import charts
from ui.numbers import table
from ui.state import progress, run_result, track, tracked_run_id
from ui.widgets import attempt, page, run_all_button, segment_colors, track_quietly

ws = page("results", "Results", "The final segments, their names and sizes, and how much to trust them.")
if not progress(ws)["clustered"]:
    st.info("No results for the current data and options yet.")
    run_all_button(ws, "results_run_all")
    st.stop()

result = attempt(lambda: run_result(ws), spinner="Collecting the results…")
if result is None:
    st.stop()
final = result.assignments["final_cluster"]
st.info(headline(result), icon=":material/lightbulb:")
a, b, c, d = st.columns(4)
noun = ws.config.entities()[1]
a.metric(first_upper(noun), f"{len(final):,}")
b.metric("Segments", final.nunique())
c.metric("Smallest segment", f"{final.value_counts().min():,}")
d.metric("Moved by the analyst", int(result.assignments.get("override", final.isna()).sum()))

st.subheader("Segments")
colors = segment_colors(list(final.unique()))
segments = summary_table(result)
segments["what sets it apart"] = segments["code"].map(what_sets_apart(result))
table(segments)  # the full width: long names, then every figure on screen
names = result.names.set_index("segment")["label"].astype(str).to_dict()
st.plotly_chart(charts.segment_sizes(final.value_counts(), colors, "Segment sizes", names, noun))

levels = level_names(result) if len(result.clustered) == 2 else {}
grid = segment_grid(result, levels)
if not grid.empty:
    first, second = grid.index.name, grid.columns.name
    st.subheader(f"Two levels: {first} × {second} segments")
    view = st.radio(
        "Present",
        ["Both levels (grid)", f"{first} segments alone", f"{second} segments alone"],
        horizontal=True,
        key="results_levels",
        help=f"Every final segment is one {first} segment crossed with one {second} segment; the grid shows "
        f"how many {noun} each pair holds (0 where the merge joined a small pair to a larger one).",
    )
    if view.startswith("Both"):
        st.plotly_chart(charts.segment_grid(grid, noun))
    else:
        level = first if view.startswith(first) else second
        sizes = result.assignments[f"{level}_cluster"].dropna().astype(str).value_counts()
        level_names_of = levels[level].astype(str).to_dict()
        st.plotly_chart(charts.segment_sizes(sizes, {}, f"{level} segments", level_names_of, noun))

st.subheader("Can these segments be trusted?")
for name, clustered in result.clustered.items():
    if clustered.clusterability is not None:
        shown = st.success if clustered.clusterability.clear else st.warning
        shown(f"**{name}**: {clustered.clusterability.plain(noun)}")
        with st.expander(f"The tests behind it ({name})"):
            st.markdown(
                f"{clustered.clusterability.summary()}\n\n"
                "A **p-value** below 0.025 in a dip test means the spread has more than one peak. The **gap "
                "statistic** compares how tightly two groups hold the data with an even cloud of the same "
                f"extent. The **silhouette** of the segments is {clustered.silhouette:.2f}: from -1 to 1, how "
                "much closer each row sits to its own segment than to the next one (above 0.25: some "
                "structure; above 0.5: clearly separated)."
            )
for decision in [f for f in result.findings if f.source == "decision"]:
    st.warning(f"**What this means for your decision.** {decision.message}", icon=":material/info:")
warnings = [
    f
    for f in result.findings
    if f.level == "warning" and f.source != "decision" and not f.message.startswith("Weak structure")
]
for finding in warnings:
    st.warning(finding.text())
if not warnings:
    st.caption("No warnings: sizes, separation and stability are within the usual bounds.")

st.subheader("This run")
run_id = tracked_run_id(ws)
if run_id:
    st.caption(f"Tracked as run `{run_id}`. Compare it with other runs, or approve it, on Runs & scenarios.")
elif st.button("Save this run to the run history (tracking)", key="results_track"):
    saved = track_quietly(lambda: track(ws, result))
    if saved:
        st.success(f"Tracked as run `{saved}`.")
    else:
        st.info("Tracking needs MLflow: pip install -e '.[tracking]'.")
st.page_link(
    "pages/profiles.py",
    label=f"Refine names, or move {ws.config.entities()[1]} between segments",
    icon=":material/label:",
)
st.page_link("pages/export.py", label="Export the results", icon=":material/download:")
