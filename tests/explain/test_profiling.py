import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clustering.explain.profiling import (
    feature_tests,
    human_number,
    indicator_table,
    original_features,
    segment_profiles,
    surrogate_rules,
    top_features,
)


def features_of(final, tables):
    """The joined features, aligned with ``final``, as the pipeline builds them once."""
    return original_features(tables).reindex(final.index)


@pytest.fixture
def planted():
    """Segment A: high revenue, hypermarkets; B: low revenue, convenience; C: in between."""
    rng = np.random.default_rng(0)
    index = pd.Index([f"S{i}" for i in range(300)], name="store_id")
    final = pd.Series(np.repeat(["A", "B", "C"], 100), index=index)
    revenue = np.concatenate([rng.normal(10, 1, 100), rng.normal(2, 0.5, 100), rng.normal(5, 0.5, 100)])
    formats = np.concatenate([["hyper"] * 100, ["convenience"] * 100, rng.choice(["super", "hyper"], 100)])
    table = pd.DataFrame(
        {"revenue": revenue * 1e6, "noise": rng.normal(size=300), "format": formats}, index=index
    )
    return final, {"internal": table}


def test_profile_statistics(planted):
    final, tables = planted
    profiles = segment_profiles(final, indicator_table(features_of(final, tables))).set_index(
        ["segment", "feature"]
    )
    revenue = tables["internal"]["revenue"]
    a = revenue[final == "A"]
    row = profiles.loc[("A", "revenue")]
    assert row["size"] == 100 and row["share"] == pytest.approx(1 / 3)
    assert row["mean"] == pytest.approx(a.mean())
    assert row["median"] == pytest.approx(a.median())
    assert row["std"] == pytest.approx(a.std(ddof=0))
    assert row["z_score"] == pytest.approx((a.mean() - revenue.mean()) / revenue.std(ddof=0))
    rest = revenue[final != "A"]
    pooled = np.sqrt((len(a) * a.var(ddof=0) + len(rest) * rest.var(ddof=0)) / len(revenue))
    assert row["effect_size"] == pytest.approx((a.mean() - rest.mean()) / pooled)
    assert profiles.loc[("B", "format = convenience"), "mean"] == 1.0
    assert profiles.loc[("A", "format = convenience"), "mean"] == 0.0


def test_top_features_rank_by_effect_size(planted):
    final, tables = planted
    top = top_features(segment_profiles(final, indicator_table(features_of(final, tables))))
    assert top["A"].startswith("revenue +") or top["A"].startswith("format = hyper +")
    assert "noise" not in top["B"].split(",")[0]


def test_feature_tests_match_scipy(planted):
    final, tables = planted
    tests = feature_tests(final, features_of(final, tables)).set_index("feature")
    groups = [tables["internal"]["revenue"][final == s] for s in "ABC"]
    assert tests.loc["revenue", "anova_f"] == pytest.approx(stats.f_oneway(*groups).statistic)
    assert tests.loc["revenue", "kruskal_h"] == pytest.approx(stats.kruskal(*groups).statistic)
    crosstab = pd.crosstab(final, tables["internal"]["format"])
    chi2 = stats.chi2_contingency(crosstab).statistic
    assert tests.loc["format", "chi2"] == pytest.approx(chi2)
    assert tests.loc["format", "cramers_v"] == pytest.approx(np.sqrt(chi2 / (300 * 2)))
    assert tests.loc["noise", "anova_p"] > 0.01
    assert list(tests.index[:2]) == ["revenue", "format"]  # strongest first


def test_surrogate_tree_rules_are_readable_and_faithful(planted):
    final, tables = planted
    surrogate = surrogate_rules(final, indicator_table(features_of(final, tables)), random_state=0)
    assert surrogate.fidelity >= 0.95
    rules = surrogate.rules.set_index("segment")
    assert set(rules.index) == {"A", "B", "C"}
    assert "revenue >" in rules.loc["A", "rule"] or "format = hyper" in rules.loc["A", "rule"]
    assert rules.loc["B", "rule"].startswith("(revenue <= ")
    assert (rules["coverage"] >= 0.8).all() and (rules["precision"] >= 0.9).all()
    assert surrogate.tree.get_depth() <= 4


def test_every_segment_gets_a_rule_even_beyond_sixteen_leaves():
    rng = np.random.default_rng(1)
    index = pd.RangeIndex(2000)
    codes = rng.integers(0, 20, 2000)
    table = pd.DataFrame({"x": codes + rng.normal(0, 0.1, 2000), "y": rng.normal(size=2000)}, index=index)
    final = pd.Series(codes.astype(str), index=index)
    rules = surrogate_rules(final, indicator_table(features_of(final, {"d": table})), 0).rules
    assert len(rules) == 20
    assert (rules["rule"] != "no rule found at depth 4").all()
    assert "one-vs-rest tree" in set(rules["source"])


@pytest.mark.parametrize(
    ("value", "text"), [(1_234_567, "1.23M"), (35_400, "35.4k"), (0.27123, "0.271"), (-2_500, "-2.5k")]
)
def test_human_numbers(value, text):
    assert human_number(value) == text


def test_indicator_columns_are_one_per_frequent_level_and_missing_where_the_text_is():
    features = pd.DataFrame(
        {
            "revenue": [1.0, 2.0, 3.0, 4.0, 5.0],
            "format": ["hyper", None, "super", "hyper", "mini"],
        },
        index=pd.Index(["S1", "S2", "S3", "S4", "S5"], dtype="string"),
    )
    table = indicator_table(features)
    assert list(table.columns[:2]) == ["revenue", "format = hyper"]
    np.testing.assert_array_equal(table["format = hyper"], [1.0, np.nan, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(table["format = mini"], [0.0, np.nan, 0.0, 0.0, 1.0])
    assert table.index.equals(features.index)
