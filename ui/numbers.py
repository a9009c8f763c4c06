"""Numbers for people in the app's tables: Streamlit column formats from the engine's one
formatting module (clustering/formats.py), so a page shows what the workbook shows, and each
statistic's column explains itself (clustering/glossary.py)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from clustering.formats import COUNT, NUMBER, P_VALUE, SHARE, decimals_for, frame_column_kind, p_cell
from clustering.glossary import meaning

FORMATS = {SHARE: "%.1f%%", COUNT: "localized"}  # a share is shown times 100 (``table``)


def _column_config(frame: pd.DataFrame) -> dict[str, object]:
    """``column_config`` for ``st.dataframe``: headers in words (no underscores), shares as
    percentages, counts with thousands separators, measures with decimals by magnitude; a
    statistic's column carries what it means as its help."""
    config: dict[str, object] = {}
    for column in frame.columns:
        name = str(column)
        kind = frame_column_kind(frame, column)
        shown = {"label": name.replace("_", " "), "help": meaning(name)}
        if kind == P_VALUE:
            config[name] = st.column_config.TextColumn(**shown)
        elif kind in FORMATS or kind == NUMBER:
            number_format = FORMATS.get(kind) or f"%.{decimals_for(frame[column])}f"
            config[name] = st.column_config.NumberColumn(format=number_format, **shown)
        else:
            config[name] = st.column_config.Column(**shown)
    return config


def table(frame: pd.DataFrame, where: Any = st, **options: Any) -> Any:
    """``st.dataframe`` with the numbers for people (``where``: a column or container): shares
    times 100 with one decimal and '%' (Streamlit's own percent format varies its decimals),
    p-values as '< 0.001' text (a number format cannot say it); both still sort as numbers
    where they are numbers."""
    options.setdefault("hide_index", True)
    options.setdefault("width", "stretch")
    config = _column_config(frame)
    shown = frame.copy()
    for column in frame.columns:
        kind = frame_column_kind(frame, column)
        if kind == P_VALUE:
            shown[column] = frame[column].map(p_cell)
        elif kind == SHARE:
            shown[column] = frame[column] * 100
    return where.dataframe(shown, column_config=config, **options)
