"""Explain each final segment in the original units of the analyst's columns.

- ``segment_profiles``: per segment and feature, mean, median and std, the z-score of
  the segment mean against all entities, and the effect size (Cohen's d, segment vs the
  rest). A categorical column contributes one 0/1 feature per level ("format = hyper"),
  whose mean is the level's share in the segment.
- ``feature_tests``: per feature across segments, ANOVA F (with eta²) and
  Kruskal-Wallis H for numeric columns, chi-square with Cramér's V for categoricals.
- ``surrogate_rules``: a decision tree (depth <= 4) trained on the original features to
  predict the final segment; its fidelity (accuracy) and, per segment, a readable rule
  set from the leaves that predict it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.tree import DecisionTreeClassifier

from clustering.model.metrics import sample_rows

MAX_LEVELS = 20
TOP_FEATURES = 5
TREE_DEPTH = 4
TREE_SAMPLE = 10_000  # a depth-4 tree's splits are settled well before this many rows
LEVEL_SEPARATOR = " = "
FLOAT32_MAX = float(np.finfo(np.float32).max) / 2


def original_features(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """All datasets' columns side by side by ID; a name found in two datasets gets the dataset prefix."""
    counts = pd.Series([c for t in tables.values() for c in t.columns]).value_counts()
    frames = [
        table.rename(columns={c: f"{name}.{c}" for c in table.columns if counts[c] > 1})
        for name, table in tables.items()
    ]
    return pd.concat(frames, axis=1, join="outer")


def indicator_table(features: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns as they are, and one 0/1 column per level of each categorical column
    (its most frequent levels); missing stays missing."""
    numeric = features.select_dtypes("number")
    parts = [numeric]
    for column in features.columns.difference(numeric.columns, sort=False):
        values = features[column].astype("string")
        # compared as integer codes, in arrays: a Series ``where`` aligned 1M text IDs per level
        codes, levels = pd.factorize(values)
        code_of = {level: code for code, level in enumerate(levels)}
        present = codes >= 0
        for level in values.value_counts().index[:MAX_LEVELS]:
            indicator = np.where(present, (codes == code_of[level]).astype(np.float64), np.nan)
            name = f"{column}{LEVEL_SEPARATOR}{level}"
            parts.append(pd.Series(indicator, index=features.index, name=name))
    return pd.concat(parts, axis=1)


def segment_profiles(final: pd.Series, indicators: pd.DataFrame) -> pd.DataFrame:
    """One row per segment and feature: stores, share, mean, median, std, overall mean,
    z-score of the segment mean and Cohen's d of the segment against the rest.
    ``indicators``: ``indicator_table`` of the features, rows aligned with ``final``."""
    segment = final.rename("segment").astype("string")
    sizes = segment.value_counts().sort_index()
    moments = _segment_moments(segment, indicators)
    scale = moments["scale"]
    count, total_count = moments["count"], moments["count"].sum()
    mean, std, median = moments["sum"] / count, np.sqrt(moments["deviations"] / count), moments["median"]
    total, squares = moments["sum"].sum(), moments["squares"].sum()
    overall_mean = total / total_count
    overall_std = np.sqrt(moments["overall_deviations"] / total_count).replace(0, np.nan)
    rest_count = total_count - count
    rest_mean = (total - moments["sum"]) / rest_count.replace(0, np.nan)
    rest_var = (squares - moments["squares"]) / rest_count.replace(0, np.nan) - rest_mean**2
    pooled = np.sqrt((count * std**2 + rest_count * rest_var.clip(lower=0)) / total_count)
    effect = (mean - rest_mean) / pooled.replace(0, np.nan)
    long = {
        "mean": mean * scale,
        "median": median * scale,
        "std": std * scale,
        "z_score": (mean - overall_mean) / overall_std,
        "effect_size": effect,
    }
    table = pd.concat({name: frame.stack(future_stack=True) for name, frame in long.items()}, axis=1)
    table.index.names = ["segment", "feature"]
    table = table.reset_index()
    table.insert(1, "size", table["segment"].map(sizes).astype(int))
    table.insert(2, "share", (table["size"] / sizes.sum()).round(6))
    table.insert(4, "overall_mean", table["feature"].map(overall_mean * scale))
    order = {name: i for i, name in enumerate(indicators.columns)}
    table = table.sort_values(
        ["segment", "feature"], key=lambda s: s.map(order) if s.name == "feature" else s
    )
    return table.reset_index(drop=True)


def _segment_moments(segment: pd.Series, indicators: pd.DataFrame) -> dict[str, pd.DataFrame | pd.Series]:
    """Per segment (rows, sorted) and column: count, sum, sum of squares, sum of squared
    deviations from the segment mean, and median of the non-missing values, each column
    divided by its ``safe_scale``; also each column's squared deviations from its overall
    mean, and the scale. One column at a time, on integer segment codes: at 1M DFUs x 65
    columns this holds a few 8 MB columns where whole-table arithmetic and groupby held 1.4 GB."""
    codes, segments = pd.factorize(segment, sort=True)
    k, columns = len(segments), indicators.columns
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(k + 1))
    out = {
        name: np.full((k, len(columns)), np.nan)
        for name in ("count", "sum", "squares", "deviations", "median")
    }
    overall, scales = np.zeros(len(columns)), np.ones(len(columns))
    for j, column in enumerate(columns):
        x = indicators[column].to_numpy(dtype=np.float64, na_value=np.nan)
        scales[j] = safe_scale(x)
        if scales[j] != 1.0:
            x = x / scales[j]
        present = ~np.isnan(x) & (codes >= 0)
        at, values = codes[present], x[present]
        count = np.bincount(at, minlength=k).astype(np.float64)
        sums = np.bincount(at, weights=values, minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums / count
        out["count"][:, j], out["sum"][:, j] = count, sums
        out["squares"][:, j] = np.bincount(at, weights=values**2, minlength=k)
        out["deviations"][:, j] = np.where(
            count > 0, np.bincount(at, weights=(values - means[at]) ** 2, minlength=k), np.nan
        )
        overall[j] = ((values - values.mean()) ** 2).sum() if len(values) else np.nan
        grouped = x[order]
        for g in range(k):
            part = grouped[bounds[g] : bounds[g + 1]]
            part = part[~np.isnan(part)]
            if len(part):
                out["median"][g, j] = np.median(part)
    index = pd.Index(segments, name="segment")
    tables = {name: pd.DataFrame(values, index=index, columns=columns) for name, values in out.items()}
    tables["count"] = tables["count"].fillna(0.0)
    return {
        **tables,
        "overall_deviations": pd.Series(overall, index=columns),
        "scale": pd.Series(scales, index=columns),
    }


def safe_scale(x: np.ndarray) -> float:
    """A power of two to divide a column by so that squares of its values stay finite and
    nonzero (1 for ordinary magnitudes); every statistic here is then rescaled or scale-free."""
    finite = x[~np.isnan(x)]
    largest = float(np.abs(finite).max()) if len(finite) else 0.0
    if largest > 1e50 or 0 < largest < 1e-50:
        return float(np.ldexp(1.0, np.frexp(largest)[1]))
    return 1.0


def zscore_matrix(profiles: pd.DataFrame) -> pd.DataFrame:
    """Segments x numeric features: the z-score of each segment's mean (levels left out)."""
    numeric = profiles[~profiles["feature"].str.contains(LEVEL_SEPARATOR, regex=False)]
    return numeric.pivot(index="segment", columns="feature", values="z_score")


def top_features(
    profiles: pd.DataFrame, top: int = TOP_FEATURES, words: Callable[[str, float], str] | None = None
) -> pd.Series:
    """Per segment, its most distinguishing features by |effect size|, as text: by default
    'share_fresh +1.5d'; ``words(feature, effect)`` says each one for a reader instead."""
    ranked = profiles.dropna(subset=["effect_size"]).assign(strength=lambda t: t["effect_size"].abs())
    ranked = ranked.sort_values(["segment", "strength"], ascending=[True, False], kind="stable")
    say = words or (lambda f, d: f"{f} {'+' if d > 0 else '−'}{abs(d):.1f}d")

    def describe(group: pd.DataFrame) -> str:
        rows = group.head(top)
        return ", ".join(say(f, d) for f, d in zip(rows["feature"], rows["effect_size"], strict=True))

    segments = sorted(profiles["segment"].unique())
    if ranked.empty:  # one segment: nothing to compare it with
        return pd.Series("", index=pd.Index(segments, name="segment"), dtype="string")
    described = ranked.groupby("segment", sort=True)[["feature", "effect_size"]].apply(describe)
    return described.reindex(segments).fillna("")


def segment_overview(explanation: object, stability: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per segment of an explanation (``results.Explanation``): name, size, share,
    top features, rule, and stability where the segments are one dataset's own."""
    sizes = explanation.profiles.drop_duplicates("segment").set_index("segment")[["size", "share"]]
    table = explanation.names.set_index("segment")[["label", "source"]].join(sizes)
    table["top_features"] = top_features(explanation.profiles)
    rules = explanation.surrogate.rules.set_index("segment")
    table["rule"], table["rule_precision"] = rules["rule"], rules["precision"]
    if stability is not None and not stability.empty:
        table = table.join(stability.set_index("segment")[["jaccard_mean", "stable"]])
    return table.reset_index()


def _numeric_tests(values: np.ndarray, groups_at: list[np.ndarray]) -> dict[str, float]:
    """ANOVA F, eta² and Kruskal-Wallis H of one column; ``groups_at``: each segment's row
    positions (``_segment_positions``)."""
    largest = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 0.0
    if largest > 1e50 or 0 < largest < 1e-50:  # F, eta² and H do not depend on scale
        values = values / np.ldexp(1.0, np.frexp(largest)[1])
    groups = [values[at] for at in groups_at]
    groups = [g[~np.isnan(g)] for g in groups]
    groups = [g for g in groups if len(g)]
    if len(groups) < 2 or all(np.ptp(g) == 0 for g in groups):
        return {}
    f, f_p = stats.f_oneway(*groups)
    h, h_p = stats.kruskal(*groups)
    present = np.concatenate(groups)
    between = sum(len(g) * (g.mean() - present.mean()) ** 2 for g in groups)
    total = ((present - present.mean()) ** 2).sum()
    return {"anova_f": f, "anova_p": f_p, "eta_squared": between / total, "kruskal_h": h, "kruskal_p": h_p}


def _segment_positions(segment: pd.Series) -> list[np.ndarray]:
    """Row positions of each segment, segments in sorted order, rows in their original order
    (one stable sort for every column, instead of a groupby per column)."""
    codes, names = pd.factorize(segment, sort=True)
    present = np.flatnonzero(codes >= 0)
    order = present[np.argsort(codes[present], kind="stable")]
    bounds = np.searchsorted(codes[order], np.arange(1, len(names)))
    return [part for part in np.split(order, bounds) if len(part)]


def _categorical_tests(values: pd.Series, segment: pd.Series) -> dict[str, float]:
    table = pd.crosstab(segment, values)
    if min(table.shape) < 2:
        return {}
    chi2, p, _, _ = stats.chi2_contingency(table)
    cramers_v = np.sqrt(chi2 / (table.to_numpy().sum() * (min(table.shape) - 1)))
    return {"chi2": chi2, "chi2_p": p, "cramers_v": cramers_v}


def feature_tests(final: pd.Series, features: pd.DataFrame) -> pd.DataFrame:
    """Does each feature differ across segments? One row per original feature (``features``:
    ``original_features``, rows aligned with ``final``)."""
    segment = final.astype("string")
    groups_at = _segment_positions(segment)
    rows = []
    for column in features.columns:
        numeric = pd.api.types.is_numeric_dtype(features[column])
        values = features[column]
        result = (
            _numeric_tests(values.to_numpy(dtype=np.float64, na_value=np.nan), groups_at)
            if numeric
            else _categorical_tests(values.astype("string"), segment)
        )
        rows.append({"feature": column, "type": "numeric" if numeric else "categorical", **result})
    columns = [
        "feature",
        "type",
        "anova_f",
        "anova_p",
        "eta_squared",
        "kruskal_h",
        "kruskal_p",
        "chi2",
        "chi2_p",
        "cramers_v",
    ]
    table = pd.DataFrame(rows).reindex(columns=columns)
    strength = table["eta_squared"].fillna(table["cramers_v"] ** 2)
    return (
        table.assign(_s=strength)
        .sort_values("_s", ascending=False, kind="stable")
        .drop(columns="_s")
        .reset_index(drop=True)
    )


def human_number(value: float) -> str:
    """1234567 -> '1.23M', 35400 -> '35.4k', 0.2712 -> '0.271'."""
    magnitude = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


@dataclass
class Surrogate:
    """A shallow decision tree that imitates the segmentation, and its rules."""

    fidelity: float
    rules: pd.DataFrame
    tree: DecisionTreeClassifier
    feature_names: list[str]


def _tree_inputs(values: pd.DataFrame) -> np.ndarray:
    """What the trees split on, in float32 (their own type): numeric columns median-imputed
    (0 when a column is empty) and clipped to float32's range (order is kept), and one 0/1
    column per frequent categorical level. Filled column by column into the float32 matrix,
    with no float64 copies of the whole table (1M DFUs: 1.3 GB of them)."""
    inputs = np.empty(values.shape, dtype=np.float32)
    for j, column in enumerate(values.columns):
        x = values[column].to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(x)
        if missing.any():
            x = np.where(missing, np.nanmedian(x) if not missing.all() else 0.0, x)
        inputs[:, j] = np.clip(x, -FLOAT32_MAX, FLOAT32_MAX)
    return inputs


def _leaf_paths(tree: DecisionTreeClassifier) -> dict[int, list[tuple[int, bool, float]]]:
    """For each leaf: the (feature, goes_right, threshold) tests on its path."""
    structure = tree.tree_
    paths: dict[int, list[tuple[int, bool, float]]] = {}
    stack = [(0, [])]
    while stack:
        node, path = stack.pop()
        left, right = structure.children_left[node], structure.children_right[node]
        if left == right:
            paths[node] = path
            continue
        feature, threshold = int(structure.feature[node]), float(structure.threshold[node])
        stack.append((left, [*path, (feature, False, threshold)]))
        stack.append((right, [*path, (feature, True, threshold)]))
    return paths


def _describe_path(path: list[tuple[int, bool, float]], names: list[str]) -> str:
    """Readable conditions: tightest bounds per numeric feature, '=' / '≠' for levels."""
    lower: dict[str, float] = {}
    upper: dict[str, float] = {}
    equal: dict[str, str] = {}
    differ: dict[str, list[str]] = {}
    for feature, right, threshold in path:
        name = names[feature]
        if LEVEL_SEPARATOR in name:
            column, level = name.split(LEVEL_SEPARATOR, 1)
            if right:
                equal[column] = level
            else:
                differ.setdefault(column, []).append(level)
        elif right:
            lower[name] = max(lower.get(name, -np.inf), threshold)
        else:
            upper[name] = min(upper.get(name, np.inf), threshold)
    parts = []
    for name in dict.fromkeys([*lower, *upper]):
        low, high = lower.get(name), upper.get(name)
        if low is not None and high is not None:
            parts.append(f"{human_number(low)} < {name} <= {human_number(high)}")
        elif low is not None:
            parts.append(f"{name} > {human_number(low)}")
        else:
            parts.append(f"{name} <= {human_number(high)}")
    parts += [f"{column} = {level}" for column, level in equal.items()]
    parts += [f"{column} ≠ {' / '.join(levels)}" for column, levels in differ.items() if column not in equal]
    return " and ".join(parts) or "every row (no condition)"


def _rule_set(
    tree: DecisionTreeClassifier,
    leaves: np.ndarray,
    names: list[str],
    is_segment: np.ndarray,
    predicts_segment: np.ndarray,
) -> tuple[str, np.ndarray]:
    """Rule text from the leaves that predict the segment, largest first, until they cover
    80% of its rows predicted right (at most 3 leaves); and which rows the rule matches.
    ``leaves``: the leaf of every row (``tree.apply``)."""
    hits = pd.Series(leaves[is_segment & predicts_segment]).value_counts()
    chosen, covered = [], 0
    for leaf, n in hits.items():
        if len(chosen) == 3 or covered >= 0.8 * hits.sum():
            break
        chosen.append(int(leaf))
        covered += n
    paths = _leaf_paths(tree)
    text = " OR ".join(f"({_describe_path(paths[leaf], names)})" for leaf in chosen)
    return text, np.isin(leaves, chosen)


def _fit_tree(
    inputs: np.ndarray, target: np.ndarray, rows: np.ndarray, random_state: int | None, **options: object
) -> DecisionTreeClassifier:
    leaf = max(5, len(rows) // 200)
    tree = DecisionTreeClassifier(
        max_depth=TREE_DEPTH, min_samples_leaf=leaf, random_state=random_state, **options
    )
    return tree.fit(inputs[rows], target[rows])


def surrogate_rules(final: pd.Series, indicators: pd.DataFrame, random_state: int | None = None) -> Surrogate:
    """Fit the surrogate tree and write one rule set per segment. A segment the tree never
    predicts (a depth-4 tree has at most 16 leaves) gets its rule from a one-vs-rest tree of
    the same depth, and the ``source`` column says so. ``indicators``: ``indicator_table`` of
    the features, rows aligned with ``final``."""
    names = list(indicators.columns)
    inputs = _tree_inputs(indicators)
    target = final.astype("string").to_numpy(dtype=object)
    rows = sample_rows(len(inputs), TREE_SAMPLE, random_state)
    tree = _fit_tree(inputs, target, rows, random_state)
    predicted = tree.predict(inputs)
    leaves = tree.apply(inputs)
    fidelity = float((predicted == target).mean())
    records = []
    for segment in sorted(pd.unique(target)):
        is_segment = target == segment
        source = "surrogate tree"
        text, matched = _rule_set(tree, leaves, names, is_segment, predicted == segment)
        if not text:
            source = "one-vs-rest tree"
            alone = _fit_tree(inputs, is_segment, rows, random_state, class_weight="balanced")
            text, matched = _rule_set(alone, alone.apply(inputs), names, is_segment, alone.predict(inputs))
        hits = (matched & is_segment).sum()
        records.append(
            {
                "segment": segment,
                "rule": text or "no rule found at depth 4",
                "source": source,
                "coverage": float(hits / is_segment.sum()),
                "precision": float(hits / matched.sum()) if matched.any() else float("nan"),
                "size": int(is_segment.sum()),
            }
        )
    rules = pd.DataFrame(records).assign(fidelity=fidelity)
    return Surrogate(fidelity, rules, tree, names)


def correlation_matrix(
    frame: pd.DataFrame, sample: int = 50_000, random_state: int | None = 0
) -> pd.DataFrame:
    """Pearson correlation of the numeric columns, on a fixed-seed sample of large tables."""
    numeric = frame.select_dtypes("number")
    if len(numeric) > sample:
        numeric = numeric.sample(sample, random_state=random_state)
    return numeric.corr()


def labeled_data(assignments: pd.DataFrame, tables: dict[str, pd.DataFrame], id_column: str) -> pd.DataFrame:
    """Assignments with every original feature beside them, for exploring and export."""
    features = original_features(tables)
    joined = assignments.set_index(id_column).join(features, how="left")
    return joined.reset_index()
