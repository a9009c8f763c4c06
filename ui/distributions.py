"""The distributions view: one feature's spread in every segment, in its real units."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from clustering.explain.distributions import histogram, reads_better_on_a_log_axis
from clustering.explain.labels import column_unit, column_words
from clustering.explain.profiling import original_features
from clustering.formats import SHARE, column_kind, number, percent, with_unit
from ui import charts
from ui.numbers import table
from ui.state import Workspace, checked_tables, merged
from ui.widgets import segment_colors


def numeric_features(ws: Workspace) -> pd.DataFrame:
    """Every dataset's numeric columns side by side by ID, as the profiles read them."""
    tables, _ = checked_tables(ws)
    return original_features({name: t.features for name, t in tables.items()}).select_dtypes("number")


def distribution_view(ws: Workspace, names: pd.DataFrame, quantiles: pd.DataFrame) -> None:
    """Pick a feature: each segment's share of its entities per range of values (every
    entity counted, outliers in the end bars and named), a log axis offered and proposed for
    skewed columns, one panel or one per segment, and the percentiles below."""
    features = numeric_features(ws)
    if features.empty:
        st.info("No numeric feature to show.")
        return
    final = merged(ws).assignments["final_cluster"].astype(str)
    entities = ws.config.entities()[1]
    columns = ws.config.columns
    left, middle, right = st.columns([3, 1, 1])
    feature = left.selectbox(
        "Feature", list(features.columns), format_func=lambda c: column_words(c, columns), key="dist_feature"
    )
    values = features[feature]
    skewed = reads_better_on_a_log_axis(values)
    log = middle.toggle(
        "Log axis",
        value=skewed,
        key=f"dist_log_{feature}",
        disabled=not bool((values.dropna() > 0).all()),
        help="Spreads out a skewed column (a few very large values); proposed when the column is skewed. "
        "Only for columns whose values are all above zero.",
    )
    panels = right.toggle("A panel per segment", key="dist_panels")
    drawn = histogram(values, final, log=log)
    label = names.set_index("segment")["label"].astype(str)
    legend = {code: f"{label.get(code, code)} ({code})" for code in drawn.shares.index}
    words, unit = column_words(feature, columns), column_unit(feature, columns)
    st.plotly_chart(
        charts.segment_histogram(drawn, segment_colors(list(final.unique())), legend, panels, words, unit),
        key="dist_chart",
    )
    shown = (lambda v: percent(v, 1)) if column_kind(feature, values) == SHARE else number
    st.caption(
        f"Each line is one segment: the share of its {entities} whose {words} falls in each range "
        f"(every one of the {len(final):,} {entities} counted, none sampled). "
        + drawn.outliers_note(entities, lambda v: with_unit(shown(v), unit))
    )
    mine = quantiles[quantiles["feature"] == feature].drop(columns="feature")
    mine.insert(0, "name", [label.get(code, f"all {entities}") for code in mine["segment"]])
    mine = mine.rename(columns={"segment": "code", "entities": entities})
    mine.attrs["format_as"] = {c: feature for c in mine.columns if c not in ("name", "code", entities)}
    with st.expander(f"Percentiles of {words} per segment (in its own units)"):
        table(mine)
