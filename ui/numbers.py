"""Numbers for people in the app's tables: Streamlit column formats from the engine's one
formatting module (clustering/formats.py), so a page shows what the workbook shows."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from clustering.formats import COUNT, NUMBER, P_VALUE, SHARE, column_kind, decimals_for


def number_columns(frame: pd.DataFrame) -> dict[str, object]:
    """``column_config`` for ``st.dataframe``: shares as percentages, counts with thousands
    separators, p-values and measures with decimals by magnitude."""
    config: dict[str, object] = {}
    for column in frame.columns:
        kind = column_kind(str(column), frame[column])
        if kind == SHARE:
            config[str(column)] = st.column_config.NumberColumn(format="percent")
        elif kind == COUNT:
            config[str(column)] = st.column_config.NumberColumn(format="localized")
        elif kind == P_VALUE:
            config[str(column)] = st.column_config.NumberColumn(format="%.3g")
        elif kind == NUMBER:
            config[str(column)] = st.column_config.NumberColumn(format=f"%.{decimals_for(frame[column])}f")
    return config
