"""Describe each final segment in the original units of the analyst's columns."""

from __future__ import annotations

import pandas as pd


def original_features(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """All datasets' columns side by side by ID; a name found in two datasets gets the dataset prefix."""
    counts = pd.Series([c for t in tables.values() for c in t.columns]).value_counts()
    frames = [
        table.rename(columns={c: f"{name}.{c}" for c in table.columns if counts[c] > 1})
        for name, table in tables.items()
    ]
    return pd.concat(frames, axis=1, join="outer")


def segment_profiles(final: pd.Series, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per final segment: size, share, and mean and median of each numeric column
    (most common value of each categorical column)."""
    features = original_features(tables).reindex(final.index)
    segment = final.rename("segment")
    numeric = features.select_dtypes("number")
    grouped = numeric.groupby(segment, sort=True)
    summary = pd.DataFrame({"stores": segment.value_counts().sort_index()})
    summary["share"] = (summary["stores"] / summary["stores"].sum()).round(4)
    means, medians = grouped.mean(), grouped.median()
    for column in numeric.columns:
        summary[f"{column} (mean)"] = means[column]
        summary[f"{column} (median)"] = medians[column]
    for column in features.columns.difference(numeric.columns, sort=False):
        summary[f"{column} (most common)"] = (
            features[column]
            .groupby(segment)
            .agg(lambda values: values.mode().iloc[0] if values.notna().any() else pd.NA)
        )
    summary.index.name = "segment"
    return summary.reset_index()
