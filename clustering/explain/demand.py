"""Each DFU segment's typical demand over the months of the window.

A DFU's demand index is its month's units over its own average month in the window (1: an
average month for that DFU), counted from its first month with sales: DFUs of very
different volumes then share one scale, and a segment's curve shows its seasonality and
trend. Per segment and month: the median index and the 25th and 75th percentiles (the
spread), and how many DFUs have that month.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from clustering.prep.features import DemandGrid

COLUMNS = ["segment", "month", "dfus", "p25", "median", "p75"]


def demand_index(grid: DemandGrid) -> pd.DataFrame:
    """DFU x month: units over the DFU's average month since its first sale (NaN before it,
    and for a DFU that sold nothing)."""
    months = np.arange(grid.months)
    units = np.where(months[None, :] >= grid.first[:, None], grid.units, np.nan)
    with warnings.catch_warnings():  # a DFU without sales has no average: NaN, said by 'dfus'
        warnings.simplefilter("ignore", RuntimeWarning)
        average = np.nanmean(units, axis=1)
    index = units / np.where(average > 0, average, np.nan)[:, None]
    labels = [str(grid.first_month + int(i)) for i in months]
    return pd.DataFrame(index, index=grid.ids, columns=labels)


def demand_curves(grid: DemandGrid, final: pd.Series) -> pd.DataFrame:
    """Per segment and month of the window: DFUs with that month, and the 25th, 50th and
    75th percentiles of their demand index."""
    index = demand_index(grid)
    members = final.astype(str).reindex(index.index)
    grouped = index.groupby(members)
    parts = {
        "dfus": grouped.count(),
        "p25": grouped.quantile(0.25),
        "median": grouped.quantile(0.5),
        "p75": grouped.quantile(0.75),
    }
    long = pd.concat({name: frame.stack() for name, frame in parts.items()}, axis=1)
    long.index.names = ["segment", "month"]
    long["dfus"] = long["dfus"].astype(int)
    return long.reset_index()[COLUMNS]
