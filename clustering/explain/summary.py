"""The answer in a sentence or two, and the segments table a merchant reads first: what the
``summary`` sheet, the Home and Results pages and the report open with."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pandas as pd

from clustering.explain.labels import column_words
from clustering.formats import count
from clustering.model.stability import PATTERN, STABLE, stability_word

if TYPE_CHECKING:
    from clustering.results import RunResult

READING_GUIDE = [
    (
        "segments",
        "each segment: its name, size, share, the features that set it apart and a rule that describes it",
    ),
    (
        "assignments",
        "every entity's segment (one row each), with flags for reassigned, near-boundary and moved ones",
    ),
    ("profiles", "each segment's mean, median and spread of every feature against the average"),
    ("distributions", "each feature's 5th to 95th percentiles in every segment, in its own units"),
    ("stability", "how often each segment comes back when the data is resampled (bootstrap Jaccard)"),
    ("k_scenarios", "the other numbers of segments considered, and why this one was recommended"),
    ("findings", "what to watch: warnings about the data and the result"),
    ("config", "the exact settings of this run; load it again to repeat it"),
]


def segment_stability(result: RunResult) -> pd.Series:
    """Each final segment's least stable part: the mean bootstrap Jaccard of its dataset
    segment, the lower of the two for a merged segment (``I1-E2``: I1's and E2's); a
    sub-segment of a split (``I1-E2.1``) also counts its own."""
    table = result.stability
    if table.empty:
        return pd.Series(dtype=float)
    by_code = table.groupby("segment")["jaccard_mean"].min()
    separator = result.config.merge.separator
    finals = result.names["segment"].astype(str)
    values = {}
    for final in finals:
        pieces = final.split(separator)
        codes = {final, *pieces, *(re.sub(r"\.\d+$", "", piece) for piece in pieces)}
        parts = [part for part in codes if part in by_code.index]
        values[final] = min(by_code[part] for part in parts) if parts else float("nan")
    return pd.Series(values, dtype=float)


def _structure(result: RunResult, plural: str) -> str:
    clear = [c.clusterability.clear for c in result.clustered.values() if c.clusterability is not None]
    if not clear:
        return ""
    if all(clear):
        return f"The {plural} fall into natural groups"
    if not any(clear):
        return f"The {plural} form a continuum: these segments are a convenient split, not natural groups"
    return f"Some of the {plural}' data falls into natural groups, some forms a continuum"


def _trust(stability: pd.Series) -> str:
    known = stability.dropna()
    if known.empty:
        return ""
    worst = float(known.min())
    if worst >= STABLE:
        return (
            "every segment comes back when the data is resampled (the least stable at a bootstrap "
            f"Jaccard of {worst:.2f}, where 1 means its members are always found together again)"
        )
    weak = int((known < PATTERN).sum())
    if weak:
        return f"{weak} of {len(known)} segments are unstable: treat them as provisional"
    return "every segment is at least a pattern that mostly comes back when the data is resampled"


def _drivers(result: RunResult) -> str:
    tests = result.explanation.feature_tests
    if tests.empty:
        return ""
    return " and ".join(column_words(f, result.config.columns) for f in tests["feature"].head(2))


def headline(result: RunResult) -> str:
    """One to three sentences from the run: how many segments of how many entities, natural
    groups or a convenient split, how stable, what most separates them."""
    _, plural = result.config.entities()
    sizes = result.assignments["final_cluster"].value_counts()
    first = f"{len(sizes):,} segments of {count(len(result.assignments))} {plural}"
    levels = [c.k for c in result.clustered.values()]
    if len(levels) == 2 and len(sizes) > max(levels):
        names = list(result.clustered)
        first += f" ({levels[0]} {names[0]} × {levels[1]} {names[1]} segments)"
    sentences = [first + "."]
    structure, trust = _structure(result, plural), _trust(segment_stability(result))
    if structure:
        sentences.append(f"{structure}{'; ' + trust if trust else ''}.")
    drivers = _drivers(result)
    if drivers:
        sentences.append(f"What most separates them: {drivers}.")
    return " ".join(sentences)


def summary_table(result: RunResult) -> pd.DataFrame:
    """The segments a merchant reads first: name, code, size, share, stability in words."""
    _, plural = result.config.entities()
    sizes = result.assignments["final_cluster"].value_counts()
    names = result.names.set_index("segment")["label"]
    stability = segment_stability(result)
    rows = [
        {
            "segment": names.get(code, code),
            "code": code,
            plural: int(size),
            f"share of {plural}": size / sizes.sum(),
            "stability": stability_word(stability[code])
            if code in stability and pd.notna(stability[code])
            else "",
        }
        for code, size in sizes.items()
    ]
    return pd.DataFrame(rows)


def what_sets_apart(result: RunResult) -> pd.Series:
    """Per final segment, what sets it apart most, in the data dictionary's words with the
    effect size: 'beverages share higher (+2.5 SD), format convenience (+2.3 SD)'."""
    from clustering.explain.profiling import LEVEL_SEPARATOR, top_features

    def say(feature: str, effect: float) -> str:
        size = f"({effect:+.1f} SD)".replace("-", "−")
        if LEVEL_SEPARATOR in feature:
            column, level = feature.split(LEVEL_SEPARATOR, 1)
            return f"{column_words(column, result.config.columns)} {level} {size}"
        direction = "higher" if effect > 0 else "lower"
        return f"{column_words(feature, result.config.columns)} {direction} {size}"

    return top_features(result.profiles, words=say)


def summary_sheet(result: RunResult) -> pd.DataFrame:
    """The ``summary`` sheet: the segments table, with the headline and how to read the
    workbook above its header (``attrs['banner']``, written by the workbook writer)."""
    table = summary_table(result)
    _, plural = result.config.entities()
    guide = "; ".join(f"{sheet}: {what}" for sheet, what in READING_GUIDE)
    table.attrs["banner"] = [
        headline(result),
        f"Stability: stable when a segment comes back in at least {STABLE:.0%} of resamples "
        f"(bootstrap Jaccard), a pattern from {PATTERN:.0%}, unstable below. Shares are of all {plural}.",
        f"How to read the rest: {guide}.",
    ]
    return table


def level_names(result: RunResult) -> dict[str, pd.Series]:
    """Each dataset's own segments (``I1``, ``E2``) named from that dataset's columns alone
    ('high share fresh · low avg basket'): the axes of the two-level grid."""
    from clustering.explain.labels import feature_labels, unique_labels
    from clustering.explain.profiling import indicator_table, segment_profiles

    names = {}
    for name, clustered in result.clustered.items():
        labels = clustered.labels.dropna().astype(str)
        features = result.prepared[name].table.features.reindex(labels.index)
        profiles = segment_profiles(labels, indicator_table(features))
        words = unique_labels(
            feature_labels(labels, profiles, result.config.columns),
            labels.value_counts(),
            profiles,
            result.config.columns,
        )
        names[name] = words
    return names


def segment_grid(result: RunResult, names: dict[str, pd.Series] | None = None) -> pd.DataFrame:
    """The merged result as two levels: one row per internal segment, one column per external
    segment (each 'name (code)'), the number of entities whose final segment is that pair
    in each cell (0 where the merge absorbed the pair into a larger one). Empty for one
    dataset."""
    if len(result.clustered) != 2:
        return pd.DataFrame()
    first, second = list(result.clustered)
    separator = result.config.merge.separator
    parts = result.assignments["final_cluster"].dropna().astype(str).str.split(separator, n=1, expand=True)
    if parts.shape[1] < 2:
        return pd.DataFrame()
    names = names if names is not None else level_names(result)

    def axis(dataset: str) -> dict[str, str]:
        return {code: f"{label} ({code})" for code, label in names[dataset].items()}

    grid = pd.crosstab(parts[0], parts[1])
    rows, columns = axis(first), axis(second)
    grid = grid.reindex(
        index=sorted(rows, key=_code_order), columns=sorted(columns, key=_code_order), fill_value=0
    )
    grid.index = [rows[c] for c in grid.index]
    grid.columns = [columns[c] for c in grid.columns]
    grid.index.name, grid.columns.name = first, second
    return grid


def _code_order(code: str) -> tuple[str, int]:
    """I2 before I10."""
    digits = "".join(ch for ch in code if ch.isdigit())
    return code.rstrip("0123456789"), int(digits) if digits else 0
