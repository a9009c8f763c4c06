"""Business names for segments, and names that follow the stores from run to run.

Automatic labels are "<tier> volume · <pattern>":

- tier: the segment's median of ``volume_column`` against percentiles of the per-entity
  values (not of segment centroids): at or above the ``tiers[1]`` quantile "High", at or
  below ``tiers[0]`` "Low", else "Medium";
- pattern, for stores: of the category-share columns ``mix_columns``, the one whose
  segment mean stands highest above its overall mean in z-score ("apparel-led", the
  common prefix of the names removed), and the most common value of ``market_column``
  ("urban").

DFU labels (``labels.pattern: dfu``) use the snake_case vocabulary of demand planning and
the ``labeling`` thresholds: the volume tier first (the segment's median ``mean_demand``
against the DFU-level quantiles: ``high_volume`` at or above ``volume_thresholds.high``,
``low_volume`` at or below ``low``, else ``medium_volume``), then the pattern from the
segment medians, first match wins: ``intermittent`` (``zero_demand_pct`` >=
``zero_demand_threshold``), ``seasonal`` (``seasonality_strength`` >=
``seasonality_threshold``), ``growing`` / ``declining`` (|``trend_slope_norm``| >=
``trend_threshold``), ``volatile`` (``cv_demand`` >= ``cv_thresholds.volatile``), else
``steady`` (a cv between the two thresholds takes the nearer one). Composite:
``high_volume_steady``, ``low_volume_declining``..., but ``seasonal_high_volume`` and
``intermittent_low_volume`` (the pattern leads). Shared DFU labels get ``_2``, ``_3``.

Any other data (no rule of the presets fits it, or ``labels.pattern: features``) is named
from its distinguishing features, in words and direction: per segment, up to three
features whose Cohen's d against the other segments is at least 0.5 (a medium effect),
strongest first, "high"/"low" and the column's label from the config's data dictionary
(``columns: {tsales: {label: annual sales, unit: $}}``; else the column name in words),
a category as "mostly <level>": "High annual sales · low margin · mostly hypermarket". A
segment with no feature that strong is named by its strongest, "slightly high ...". Bare
codes only with ``labels.pattern: codes``.

Store labels are unique in a run: segments that share a label each get the numeric feature
that most sets them apart from the others sharing it ("· high median_income"); a label
still shared after that stays on the largest segment and the others get " #2", " #3"...
in order of size.

Analysts' names (overrides) survive a rerun: the new segments are matched to the
previous run's by maximum overlap of their entities (Hungarian matching on the
contingency table), and each analyst name moves to the matched new segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from clustering.config import ColumnInfo, LabelingConfig, LabelsConfig
from clustering.explain.profiling import LEVEL_SEPARATOR, zscore_matrix

AUTO, ANALYST = "rule", "analyst"


@dataclass
class PreviousRun:
    """What a rerun keeps from the previous run: its final segments and the analyst's names."""

    assignments: pd.Series
    names: dict[str, str]


def volume_tiers(final: pd.Series, volume: pd.Series, tiers: tuple[float, float]) -> pd.Series:
    """High / Medium / Low per segment from its median volume against entity percentiles."""
    low, high = volume.quantile(list(tiers))
    medians = volume.groupby(final).median()
    return medians.map(lambda m: "High" if m >= high else "Low" if m <= low else "Medium")


def _common_prefix(names: list[str]) -> str:
    """The longest prefix every name shares ('share_' for share_grocery, share_fresh)."""
    first, last = min(names), max(names)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def store_patterns(profiles: pd.DataFrame, config: LabelsConfig) -> pd.Series:
    """'<category>-led · <market>' per segment, from the profiles table."""
    segments = pd.Index(sorted(profiles["segment"].unique()))
    pattern = pd.Series("", index=segments, dtype="string")
    mix = profiles[profiles["feature"].isin(config.mix_columns)]
    if not mix.empty:
        prefix = _common_prefix(config.mix_columns) if len(config.mix_columns) > 1 else ""
        led = mix.loc[mix.groupby("segment")["z_score"].idxmax()].set_index("segment")["feature"]
        pattern = (led.str.removeprefix(prefix) + "-led").reindex(segments).fillna("")
    if config.market_column:
        levels = profiles[profiles["feature"].str.startswith(config.market_column + LEVEL_SEPARATOR)]
        if not levels.empty:
            top = levels.loc[levels.groupby("segment")["mean"].idxmax()].set_index("segment")["feature"]
            market = top.str.split(LEVEL_SEPARATOR).str[1].reindex(segments).fillna("")
            pattern = pattern.str.cat(market, sep=" · ").str.strip(" ·")
    return pattern


DFU_PATTERN_FIRST = ("seasonal", "intermittent")  # 'seasonal_high_volume'; the others 'high_volume_steady'


def dfu_pattern(medians: pd.Series, labeling: LabelingConfig) -> str:
    """The demand pattern of one segment from its DFUs' feature medians, first match wins:
    intermittent, seasonal, growing / declining, volatile, steady (a cv between the two
    thresholds takes the nearer one)."""
    if medians.get("zero_demand_pct", 0) >= labeling.zero_demand_threshold:
        return "intermittent"
    if medians.get("seasonality_strength", 0) >= labeling.seasonality_threshold:
        return "seasonal"
    slope = medians.get("trend_slope_norm", 0)
    if abs(slope) >= labeling.trend_threshold:
        return "growing" if slope > 0 else "declining"
    cv = medians.get("cv_demand", 0)
    steady, volatile = labeling.cv_thresholds.steady, labeling.cv_thresholds.volatile
    return "volatile" if cv >= volatile or cv - steady > volatile - cv else "steady"


def dfu_labels(
    final: pd.Series, features: pd.DataFrame, profiles: pd.DataFrame, labeling: LabelingConfig
) -> pd.Series:
    """'<tier>_volume' and the pattern in the established vocabulary: tier first
    ('high_volume_steady', 'low_volume_declining'), except seasonal and intermittent, which
    lead ('seasonal_high_volume', 'intermittent_low_volume'). A label two segments share
    gets a distinguishing word on the smaller one (``distinct_dfu_labels``)."""
    segments = pd.Index(sorted(final.unique()), name="segment")
    medians = profiles.pivot(index="segment", columns="feature", values="median").reindex(segments)
    tiers = pd.Series("medium", index=segments)
    if labeling.volume_column in features:
        volume = features[labeling.volume_column].reindex(final.index)
        low, high = volume.quantile([labeling.volume_thresholds.low, labeling.volume_thresholds.high])
        median = volume.groupby(final).median().reindex(segments)
        tiers = pd.Series(
            np.where(median >= high, "high", np.where(median <= low, "low", "medium")), index=segments
        )
    labels = {}
    for segment in segments:
        pattern = dfu_pattern(medians.loc[segment], labeling)
        tier = f"{tiers[segment]}_volume"
        labels[segment] = f"{pattern}_{tier}" if pattern in DFU_PATTERN_FIRST else f"{tier}_{pattern}"
    labels = pd.Series(labels, dtype="string").reindex(segments)
    return distinct_dfu_labels(labels, final.value_counts().reindex(segments), profiles)


APART_Z = 0.1  # a feature names the difference only where the segment's mean differs by this many SDs


def distinct_dfu_labels(labels: pd.Series, sizes: pd.Series, profiles: pd.DataFrame) -> pd.Series:
    """DFU labels made unique with words, never numbers: the largest of the segments sharing a
    label keeps it; each other one adds the feature that most sets it apart from the others
    sharing it ('_high_cv_demand', '_low_zero_demand_pct'), the next one where that is taken;
    letters ('_b', '_c') only when no feature tells them apart."""
    z = zscore_matrix(profiles)
    result = labels.copy()
    order = sizes.sort_values(ascending=False, kind="stable").index
    for label, group in labels[order].groupby(labels[order], sort=False):
        if len(group) < 2:
            continue
        members = list(group.index)
        scores = z.reindex(members).dropna(axis=1, how="any")
        taken = {label}
        for position, segment in enumerate(members[1:], start=1):
            candidates = []
            if not scores.empty:
                apart = scores.loc[segment] - scores.drop(index=segment).mean()
                strength = apart.abs()
                for feature in (
                    strength[strength >= APART_Z].sort_values(ascending=False, kind="stable").index
                ):
                    word = "high" if apart[feature] > 0 else "low"
                    candidates.append(f"{label}_{word}_{feature}")
            candidates.append(f"{label}_{'bcdefghijklmnopqrstuvwxyz'[(position - 1) % 25]}")
            name = next(c for c in candidates if c not in taken)
            taken.add(name)
            result[segment] = name
    return result


def _numbered(labels: pd.Series, sizes: pd.Series) -> pd.Series:
    """The largest segment keeps a shared label, the others get ' #2', ' #3'... by size."""
    order = sizes.reindex(labels.index).sort_values(ascending=False, kind="stable").index
    ranked = labels[order]
    position = ranked.groupby(ranked).cumcount() + 1
    return ranked.where(position == 1, ranked + " #" + position.astype(str)).reindex(labels.index)


def unique_labels(
    labels: pd.Series,
    sizes: pd.Series,
    profiles: pd.DataFrame | None = None,
    columns: dict[str, ColumnInfo] | None = None,
) -> pd.Series:
    """Make labels unique. Segments sharing a label first get the numeric feature that most
    sets each apart from the others sharing it (largest |z-score difference|, as
    'high <feature>' or 'low <feature>', the feature's label from ``columns``); any label
    still shared is numbered by size."""
    labels = labels.copy()
    if profiles is not None:
        z = zscore_matrix(profiles)
        for _, group in labels.groupby(labels):
            if len(group) < 2:
                continue
            scores = z.reindex(group.index).dropna(axis=1, how="any")
            if scores.empty:
                continue
            apart = scores - (scores.sum() - scores) / (len(scores) - 1)
            feature = apart.abs().idxmax(axis=1)
            direction = [
                ("high " if apart.loc[s, f] > 0 else "low ") + column_words(f, columns or {})
                for s, f in feature.items()
            ]
            labels[group.index] = group + " · " + pd.Series(direction, index=group.index)
    return _numbered(labels, sizes)


NAMING_EFFECT = 0.5  # |Cohen's d| of a medium effect: a feature worth naming a segment by
NAMING_FEATURES = 3


def column_words(column: str, columns: dict[str, ColumnInfo]) -> str:
    """A column in words: its label in the data dictionary, else its name without underscores."""
    info = columns.get(column)
    if info is not None and info.label:
        return info.label
    return column.replace("_", " ").strip()


def column_unit(column: str, columns: dict[str, ColumnInfo]) -> str | None:
    """A column's unit in the data dictionary ('$', 'm²'), or None."""
    info = columns.get(column)
    return info.unit if info is not None and info.unit else None


def profiles_in_words(
    profiles: pd.DataFrame, columns: dict[str, ColumnInfo], weights: dict[str, float] | None = None
) -> pd.DataFrame:
    """The profiles with, beside each feature, its label and unit from the data dictionary
    and the attribute weight it was clustered with (each only when the config sets any)."""
    base = profiles["feature"].str.split(LEVEL_SEPARATOR, regex=False).str[0]
    described = profiles.copy()
    at = described.columns.get_loc("feature") + 1
    if weights:
        described.insert(at, "weight", base.map(lambda c: weights.get(c, 1.0)).astype(float))
    if columns:
        described.insert(at, "unit", base.map(lambda c: column_unit(c, columns)))
        described.insert(at, "label", base.map(lambda c: column_words(c, columns)))
    return described


def _feature_phrase(
    feature: str, effect: float, columns: dict[str, ColumnInfo], slightly: bool = False
) -> str:
    """'high annual sales', 'low margin', 'mostly hypermarket' (a category's level)."""
    if LEVEL_SEPARATOR in feature:
        return "mostly " + feature.split(LEVEL_SEPARATOR, 1)[1]
    direction = "high" if effect > 0 else "low"
    return f"{'slightly ' if slightly else ''}{direction} {column_words(feature, columns)}"


def feature_labels(final: pd.Series, profiles: pd.DataFrame, columns: dict[str, ColumnInfo]) -> pd.Series:
    """Per segment, a name from its distinguishing features in words and direction (see the
    module docstring); one segment alone is "All entities"."""
    segments = pd.Index(sorted(final.unique()), name="segment")
    effects = profiles.dropna(subset=["effect_size"])
    # a category's level names a segment by what it has, not by what it lacks
    effects = effects[
        ~(effects["feature"].str.contains(LEVEL_SEPARATOR, regex=False) & (effects["effect_size"] < 0))
    ]
    names = {}
    for segment in segments:
        rows = effects[effects["segment"] == segment]
        ranked = rows.loc[rows["effect_size"].abs().sort_values(ascending=False, kind="stable").index]
        strong = ranked[ranked["effect_size"].abs() >= NAMING_EFFECT].head(NAMING_FEATURES)
        if strong.empty and ranked.empty:
            names[segment] = "All entities"
            continue
        slightly = strong.empty
        chosen = ranked.head(1) if slightly else strong
        words = [
            _feature_phrase(f, d, columns, slightly)
            for f, d in zip(chosen["feature"], chosen["effect_size"], strict=True)
        ]
        text = " · ".join(words)
        names[segment] = text[:1].upper() + text[1:]
    return pd.Series(names, dtype="string").reindex(segments)


def automatic_labels(
    final: pd.Series,
    features: pd.DataFrame,
    profiles: pd.DataFrame,
    config: LabelsConfig,
    labeling: LabelingConfig | None = None,
    columns: dict[str, ColumnInfo] | None = None,
) -> pd.Series:
    """Rule-based label per segment (see the module docstring); unique within the run."""
    columns = columns or {}
    segments = pd.Index(sorted(final.unique()), name="segment")
    if config.pattern == "dfu":
        return dfu_labels(final, features, profiles, labeling or LabelingConfig())
    if config.pattern in ("codes", "none"):
        return pd.Series(segments, index=segments, dtype="string")
    if config.pattern == "features":
        return unique_labels(
            feature_labels(final, profiles, columns), final.value_counts(), profiles, columns
        )
    parts = []
    if config.volume_column:
        volume = features[config.volume_column].reindex(final.index)
        parts.append(volume_tiers(final, volume, config.tiers).reindex(segments) + " volume")
    parts.append(store_patterns(profiles, config).reindex(segments))
    text = parts[0].astype("string").fillna("")
    for part in parts[1:]:
        text = text.str.cat(part.astype("string").fillna(""), sep=" · ").str.strip(" ·")
    if (text == "").any():  # where the store rules find nothing in the data: its features name it
        text = text.mask(text == "", feature_labels(final, profiles, columns))
    return unique_labels(text, final.value_counts(), profiles, columns)


def align_segments(previous: pd.Series, current: pd.Series) -> pd.DataFrame:
    """Match each current segment to a previous one by maximum overlap of shared entities
    (Hungarian matching). Columns: segment, previous, overlap (share of the current
    segment's shared entities that were in the matched previous segment)."""
    shared = current.index.intersection(previous.index)
    table = pd.crosstab(current.reindex(shared), previous.reindex(shared))
    rows, cols = linear_sum_assignment(-table.to_numpy())
    sizes = table.sum(axis=1).to_numpy()
    matched = pd.DataFrame(
        {
            "segment": table.index[rows],
            "previous": table.columns[cols],
            "overlap": table.to_numpy()[rows, cols] / np.maximum(sizes[rows], 1),
        }
    )
    return matched.reset_index(drop=True)


def segment_names(
    final: pd.Series,
    automatic: pd.Series,
    overrides: dict[str, str],
    previous: PreviousRun | None = None,
) -> pd.DataFrame:
    """The name of each segment: an analyst's name where one applies, else the automatic label.

    Without ``previous``, ``overrides`` are keyed by this run's segments. With it, the
    previous run's analyst names and ``overrides`` (keyed by the previous run's segments)
    move to the matched current segments.
    """
    table = pd.DataFrame({"segment": automatic.index, "auto_label": automatic.to_numpy()})
    table["label"], table["source"] = table["auto_label"], AUTO
    table["previous_segment"], table["overlap"] = pd.NA, np.nan
    names = dict(overrides)
    if previous is not None:
        names = {**previous.names, **overrides}
        matched = align_segments(previous.assignments, final).set_index("segment")
        table["previous_segment"] = table["segment"].map(matched["previous"])
        table["overlap"] = table["segment"].map(matched["overlap"])
        keys = table["previous_segment"]
    else:
        keys = table["segment"]
    named = keys.map(names)
    table.loc[named.notna(), "label"] = named[named.notna()]
    table.loc[named.notna(), "source"] = ANALYST
    return table
