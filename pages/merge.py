"""Merge & compare: combine internal and external segments and absorb the small ones."""

import streamlit as st

from clustering.config import MergeConfig
from clustering.formats import first_upper
from clustering.glossary import readable_metrics
from clustering.merging import contingency
from ui import charts
from ui.numbers import table
from ui.state import held, merged
from ui.widgets import attempt, page, require, segment_colors, size_input

ws = page(
    "merge",
    "Merge & compare",
    "Pair each store's internal and external segments, then absorb segments below the minimum size.",
)
require(ws, "clustered", "Cluster every dataset first.")
names = list(ws.config.datasets)

if len(names) < 2:
    st.info(f"This run has one dataset ({names[0]}): its segments are the final segments, nothing to merge.")
    attempt(lambda: merged(ws))
    st.page_link("pages/profiles.py", label="Next: profiles and labels", icon=":material/arrow_forward:")
    st.stop()

k = ws.widget_key("merge_")
merge = ws.config.merge
noun = ws.config.entities()[1]
size = size_input("Minimum segment size", merge.min_segment_size, k, noun=noun)
balance = st.toggle("Each dataset weighs the same in the distance", merge.balance_datasets, key=k + "balance")
new = attempt(
    lambda: MergeConfig(**{**merge.model_dump(), "min_segment_size": size, "balance_datasets": balance})
)
if new is not None and new != merge:
    ws.config.merge = new

if st.button("Merge", type="primary", key=k + "run"):
    attempt(lambda: merged(ws), spinner="Merging…")
held = held(ws, "merged")
if held is None:
    st.info("Press **Merge** to combine the segments with this minimum size.")
    st.stop()

assignments, result = held.assignments, held.merge
for note in [*result.warnings, *held.notes]:
    st.warning(note)
before = assignments["merged_cluster"].dropna()
after = assignments["final_cluster"]
colors = segment_colors(list(after.unique()) + list(before.unique()))
a, b, c, d = st.columns(4)
a.metric("Merged segments", before.nunique())
b.metric("Final segments", after.nunique(), delta=int(after.nunique() - before.nunique()), delta_color="off")
c.metric(f"{first_upper(noun)} moved", f"{int(assignments['reassigned'].sum()):,}")
d.metric("Minimum size", f"{result.min_size:,} {noun}")

left, right = st.columns(2)
left.plotly_chart(charts.segment_sizes(before.value_counts().sort_index(), colors, "Before: merged segments"))
right.plotly_chart(charts.segment_sizes(after.value_counts().sort_index(), colors, "After: final segments"))
st.markdown(f"**Where the {noun} went**")
complete = assignments["merged_cluster"].notna()
st.plotly_chart(
    charts.sankey(
        assignments.loc[complete, "merged_cluster"], assignments.loc[complete, "final_cluster"], colors
    )
)

st.markdown(f"**{names[0]} × {names[1]} segments** ({noun} in both datasets)")
table(contingency(assignments, f"{names[0]}_cluster", f"{names[1]}_cluster"), hide_index=False)

st.markdown("**Quality before and after the merge**")
table(readable_metrics(result.metrics, ["before", "after"], change=True).drop(columns="scope"))

st.markdown("**Merge log**")
table(result.log)
st.page_link("pages/profiles.py", label="Next: profiles and labels", icon=":material/arrow_forward:")
