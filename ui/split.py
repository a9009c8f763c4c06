"""Split a segment further: one segment clustered again on its own, the rest untouched."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from clustering.config import SegmentSplit
from clustering.model.stability import stability_word
from ui.numbers import table
from ui.state import Workspace, merged
from ui.widgets import attempt


def split_view(ws: Workspace, names: pd.DataFrame) -> None:
    """Pick a segment and split it into sub-segments (k by the dataset's rule, or fixed):
    the split is kept in the run's config (downloaded with it, tracked, reproduced); each
    split says how k was chosen, its verdict and each sub-segment's stability, and can be
    undone."""
    entities = ws.config.entities()[1]
    label = names.set_index("segment")["label"].astype(str)
    left, middle, right = st.columns([3, 2, 1])
    segment = left.selectbox(
        "Segment to split",
        list(label.index),
        format_func=lambda code: f"{label[code]} ({code})",
        key=ws.widget_key("split_segment"),
    )
    by_rule = middle.toggle("k by the dataset's rule", value=True, key=ws.widget_key("split_rule"))
    k = None if by_rule else int(middle.number_input("k", 2, 12, 2, key=ws.widget_key("split_k")))
    right.write("")
    if right.button("Split", type="primary", key=ws.widget_key("split_go")):
        _split(ws, str(segment), k)
    combined = merged(ws)
    for code, split in combined.splits.items():
        st.markdown(split.summary(entities))
        if not split.stability.empty:
            reading = split.stability[["segment", "size", "jaccard_mean", "jaccard_min"]].assign(
                reading=split.stability["jaccard_mean"].map(stability_word)
            )
            table(reading)
        if st.button(f"Undo the split of {code}", key=ws.widget_key("unsplit", code)):
            del ws.config.splits[code]
            st.rerun()


def _split(ws: Workspace, segment: str, k: int | None) -> None:
    """Record the split and compute it; a split that cannot be made is taken back, with why."""
    ws.config.splits[segment] = SegmentSplit(k=k)
    if attempt(lambda: merged(ws), spinner=f"Splitting {segment}…") is None:
        del ws.config.splits[segment]
        return
    st.rerun()
