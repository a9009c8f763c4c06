"""Profiles & labels: what makes each segment different, its rules, its stability, its name."""

import streamlit as st

from clustering.explain.labels import profiles_in_words
from clustering.explain.profiling import segment_overview, zscore_matrix
from clustering.model.stability import PATTERN, STABLE, stability_word
from ui import charts
from ui.distributions import distribution_view
from ui.label_rules import label_rules
from ui.numbers import table
from ui.overrides import move_entities
from ui.split import split_view
from ui.state import checked_tables, explained, segments_tree, stability
from ui.why import why_view
from ui.widgets import attempt, page, require, segment_colors

ws = page(
    "profiles",
    "Profiles & labels",
    "Profiles, statistical tests, readable rules, stability, and business names you can edit.",
)
require(ws, "clustered", "Cluster every dataset first, or press Run all steps on Home.")
tables, _ = checked_tables(ws)
numeric_columns = sorted({c for t in tables.values() for c in t.numeric})
text_columns = sorted({c for t in tables.values() for c in t.categorical})

with st.expander("Label rules"):
    label_rules(ws, numeric_columns, text_columns)

explanation = attempt(lambda: explained(ws), spinner="Profiling the segments…")
if explanation is None:
    st.stop()
for note in [*explanation.notes, *explanation.warnings]:
    st.warning(note)
names = explanation.names
labels = names.set_index("segment")["label"].astype(str).to_dict()  # code -> name, for every view

st.subheader("Segment names")
st.caption(
    "Edit a name and it is used on every page and in every export. Names stay on the same "
    f"{ws.config.entities()[1]} when you rerun."
)
editor = names[["segment", "auto_label", "label"]].rename(
    columns={"auto_label": "automatic label", "label": "name"}
)
edited = st.data_editor(
    editor,
    hide_index=True,
    width="stretch",
    disabled=["segment", "automatic label"],
    key=ws.widget_key("names", len(names), names["segment"].str.cat()),
)
overrides = {
    row["segment"]: str(row["name"]).strip()
    for _, row in edited.iterrows()
    if str(row["name"]).strip() and str(row["name"]).strip() != row["automatic label"]
}
if overrides != ws.config.labels.overrides:
    ws.config.labels.overrides = overrides
    st.rerun()

with st.expander(
    "Split a segment further" + (f" ({len(ws.config.splits)} split)" if ws.config.splits else ""),
    expanded=bool(ws.config.splits),
):
    split_view(ws, names)

with st.expander(
    "Move entities to another segment"
    + (f" ({len(ws.config.overrides):,} moved)" if ws.config.overrides else "")
):
    move_entities(ws, names)

stable = attempt(lambda: stability(ws), spinner="Refitting on subsamples for stability…")
single = len(ws.config.datasets) == 1
overview = segment_overview(explanation, stable if single else None)
st.subheader("Segments at a glance")
table(overview)

st.subheader(f"How each segment differs from all {ws.config.entities()[1]} (z-score of its mean)")
weights = ws.config.weights()
if weights:
    st.caption(
        "Clustered with attribute weights (1 for the others): "
        + ", ".join(f"{column} ×{weight:g}" for column, weight in weights.items())
    )
profiles = explanation.profiles
zscores = zscore_matrix(profiles).dropna(axis=1, how="all")
zscores.index = [f"{s} · {names.set_index('segment').loc[s, 'label']}" for s in zscores.index]
st.plotly_chart(charts.heatmap(zscores, "", zmax=3.0))

st.subheader("Distributions in real units")
distribution_view(ws, names, explanation.distributions)

if not explanation.demand.empty:
    st.subheader("Typical demand over the months")
    st.caption(
        "Each DFU's monthly units over its own average month (1 = an average month for that DFU, from its "
        "first sale), so DFUs of every volume share one scale: the line is the segment's median DFU, the "
        "band its middle half. A rising line is growth, a wave is seasonality."
    )
    demand = explanation.demand
    codes = sorted(demand["segment"].unique())
    chosen = st.multiselect(
        "Segments",
        codes,
        default=codes,
        format_func=lambda c: f"{labels.get(c, c)} ({c})",
        key="demand_segments",
    )
    st.plotly_chart(
        charts.demand_chart(demand[demand["segment"].isin(chosen)], segment_colors(codes), labels),
        key="demand_chart",
    )

st.subheader("How the segments relate")
st.caption(
    "Ward's tree of the segments' centres (in the space they were assigned in): segments joined low "
    "are alike, and would merge first if there were fewer segments."
)
tree = attempt(lambda: segments_tree(ws))
if tree is not None:
    colors = segment_colors(list(labels))
    st.plotly_chart(
        charts.dendrogram_chart(tree, colors, labels, ws.config.entities()[1]), key="segments_tree"
    )

st.subheader(f"Why is this {ws.config.entities()[0]} here?")
why_view(ws, names, str(tables[next(iter(tables))].frame.index[0]))

left, right = st.columns(2)
with left:
    st.markdown("**Feature tests** (does the feature differ across segments?)")
    table(explanation.feature_tests)
with right:
    surrogate = explanation.surrogate
    st.markdown(
        f"**Rules** from a depth-4 decision tree that imitates the segments: fidelity {surrogate.fidelity:.1%}"
    )
    table(surrogate.rules.drop(columns="fidelity"))

st.subheader("Stability")
if stable is not None and not stable.empty:
    st.caption(
        "How often each segment comes back when the data is resampled: the mean Jaccard similarity of the "
        f"segment to its best match over refits on subsamples (1: always the same members). Stable at "
        f"{STABLE} or more, a pattern from {PATTERN}, unstable below; jaccard_min is its worst refit."
    )
    reading = stable.assign(reading=stable["jaccard_mean"].map(stability_word)).drop(columns="stable")
    table(reading)
    unstable = reading[reading["reading"] == "unstable"]
    if not unstable.empty:
        st.warning(
            "Unstable segments: " + ", ".join(unstable["segment"].astype(str)) + ". Consider fewer segments."
        )
elif stable is not None:
    st.info("Stability is turned off in the config.")

with st.expander("Full profiles (mean, median, std, z-score, effect size per segment and feature)"):
    table(profiles_in_words(profiles, ws.config.columns, weights))
st.page_link("pages/explore.py", label="Next: explore", icon=":material/arrow_forward:")
