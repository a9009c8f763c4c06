"""The Profiles page's label rules: store tiers and patterns, or the DFU vocabulary's thresholds."""

from __future__ import annotations

import streamlit as st

from clustering.config import LabelingConfig, LabelsConfig
from ui.loading import NONE
from ui.state import Workspace
from ui.widgets import attempt, choice


def label_rules(ws: Workspace, numeric_columns: list[str], text_columns: list[str]) -> None:
    """Widgets for the label rules; a valid change replaces the config's section."""
    labels = ws.config.labels
    k = ws.widget_key("labels_")
    current = "codes" if labels.pattern == "none" else labels.pattern
    pattern = choice("Names from", ["features", "store", "dfu", "codes"], current, k + "pattern")
    if pattern in ("dfu", "features", "codes"):
        if pattern == "dfu":
            _dfu_thresholds(ws, numeric_columns, k)
        else:
            st.caption(
                "features: each segment is named by its distinguishing features in words ('High annual "
                "sales · low margin'); the config's `columns` gives their labels. codes: S1, S2..."
            )
        update = {"pattern": pattern}
    else:
        volume = choice(
            "Volume measure (tiers from per-entity percentiles)",
            [NONE, *numeric_columns],
            labels.volume_column,
            k + "vol",
        )
        tiers = st.slider(
            "Low at or below / High at or above these quantiles",
            0.05,
            0.95,
            tuple(labels.tiers),
            key=k + "tiers",
        )
        mix = st.multiselect(
            "Category share columns (store pattern)",
            numeric_columns,
            default=[c for c in labels.mix_columns if c in numeric_columns],
            key=k + "mix",
        )
        market = choice("Market type column", [NONE, *text_columns], labels.market_column, k + "market")
        update = {
            "volume_column": None if volume == NONE else volume,
            "tiers": tiers,
            "pattern": pattern,
            "mix_columns": mix,
            "market_column": None if market == NONE else market,
        }
    new = attempt(lambda: LabelsConfig(**{**labels.model_dump(), **update}))
    if new is not None and new != labels:
        ws.config.labels = new


def _dfu_thresholds(ws: Workspace, numeric_columns: list[str], k: str) -> None:
    """The ``labeling`` block: volume tier quantiles and the pattern thresholds."""
    current = ws.config.labeling
    left, right = st.columns(2)
    volume = choice("Volume measure", numeric_columns, current.volume_column, k + "dvol", where=left)
    low, high = left.slider(
        "low_volume at or below / high_volume at or above (DFU quantiles)",
        0.05,
        0.95,
        (current.volume_thresholds.low, current.volume_thresholds.high),
        key=k + "dtiers",
    )
    steady, volatile = left.slider(
        "steady at or below / volatile at or above (cv_demand)",
        0.0,
        3.0,
        (current.cv_thresholds.steady, current.cv_thresholds.volatile),
        key=k + "dcv",
    )
    seasonality = right.slider(
        "seasonal at or above (seasonality_strength)",
        0.0,
        1.0,
        current.seasonality_threshold,
        key=k + "dseason",
    )
    zero = right.slider(
        "intermittent at or above (% of months without demand)",
        0.0,
        100.0,
        current.zero_demand_threshold,
        key=k + "dzero",
    )
    trend = right.number_input(
        "growing / declining at or above (|slope / mean| per month)",
        0.0,
        1.0,
        current.trend_threshold,
        step=0.005,
        format="%.3f",
        key=k + "dtrend",
    )
    new = attempt(
        lambda: LabelingConfig(
            volume_column=volume,
            volume_thresholds={"low": low, "high": high},
            cv_thresholds={"steady": steady, "volatile": volatile},
            seasonality_threshold=seasonality,
            zero_demand_threshold=zero,
            trend_threshold=trend,
        )
    )
    if new is not None and new != current:
        ws.config.labeling = new
