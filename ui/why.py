"""Why here: one store or DFU, its segment and the runner-up, and what puts it there."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from clustering.formats import first_upper
from ui.numbers import table
from ui.state import Workspace, why
from ui.widgets import attempt


def why_view(ws: Workspace, names: pd.DataFrame, example: str) -> None:
    """Type an ID: the entity's segment and the next nearest one with both distances, whether
    it sits near the boundary, and the features that pull it toward its segment, its values
    against both segments' typical ones in real units."""
    entity, _ = ws.config.entities()
    typed = st.text_input(
        f"{first_upper(entity)} ID",
        key=ws.widget_key("why_id"),
        placeholder=f"for example {example}",
        help=f"The {entity}'s ID as in the data; part of an ID lists the IDs that contain it.",
    )
    if not typed.strip():
        return
    placed = attempt(lambda: why(ws, typed))
    if placed is None:
        return
    labels = names.set_index("segment")["label"].astype(str).to_dict()
    (st.warning if placed.near_boundary else st.info)(placed.sentence(labels, first_upper(entity)))
    if not placed.reasons.empty:
        st.caption(
            f"What pulls this {entity} toward its segment rather than the runner-up, strongest first: its "
            f"value against the typical {entity} of each (the median; for text, the share of "
            f"{entity}s with the same value). The shares of the pull add up over every feature."
        )
        table(placed.readable(entity))
