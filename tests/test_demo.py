import numpy as np
import pandas as pd
import pytest

from clustering.demo import CATEGORIES, store_demo
from clustering.io.export import workbook_bytes


def test_sheets_and_planted_truth(demo_sheets):
    assert set(demo_sheets) == {"internal", "external", "truth"}
    truth = demo_sheets["truth"]
    assert list(truth.columns) == ["store_id", "true_internal", "true_external"]
    assert truth["true_internal"].nunique() >= 5
    assert truth["true_external"].nunique() >= 4
    assert len(truth) == 2000


def test_category_shares_sum_to_one_where_complete(demo_sheets):
    shares = demo_sheets["internal"][[f"share_{c}" for c in CATEGORIES]].dropna()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-9)


def test_about_three_percent_missing(demo_sheets):
    features = demo_sheets["internal"].drop(columns=["store_id", "fiscal_weeks"])
    assert 0.02 < features.isna().to_numpy().mean() < 0.04
    assert demo_sheets["internal"]["store_id"].notna().all()


def test_constant_near_duplicate_and_categorical_columns(demo_sheets):
    internal = demo_sheets["internal"]
    assert internal["fiscal_weeks"].nunique() == 1
    pair = internal[["revenue", "net_sales"]].dropna()
    assert np.corrcoef(np.log(pair["revenue"]), np.log(pair["net_sales"]))[0, 1] > 0.99
    assert internal["format"].dropna().nunique() >= 4
    assert demo_sheets["external"]["region"].dropna().nunique() == 5


def test_revenue_is_lognormal_with_extreme_outliers(demo_sheets):
    revenue = demo_sheets["internal"]["revenue"].dropna()
    assert revenue.skew() > 2
    assert revenue.max() > 10 * revenue.quantile(0.99) / 2


def test_some_stores_are_in_one_sheet_only(demo_sheets):
    internal = set(demo_sheets["internal"]["store_id"])
    external = set(demo_sheets["external"]["store_id"])
    assert 0 < len(internal - external) < 100
    assert 0 < len(external - internal) < 100


def test_external_rows_are_not_in_internal_order(demo_sheets):
    shared = demo_sheets["external"]["store_id"].head(50).tolist()
    assert shared != sorted(shared)


def test_same_seed_same_bytes_other_seed_other_data():
    first = workbook_bytes(store_demo(200, 11))
    assert first == workbook_bytes(store_demo(200, 11))
    assert first != workbook_bytes(store_demo(200, 12))


def test_too_few_stores():
    with pytest.raises(ValueError, match="at least 20"):
        store_demo(5)


def test_archetypes_overlap(demo_sheets):
    joined = demo_sheets["internal"].merge(demo_sheets["truth"], on="store_id")
    by_type = joined.groupby("true_internal")["avg_basket"]
    low, high = by_type.quantile(0.05), by_type.quantile(0.95)
    ranges = pd.DataFrame({"low": low, "high": high}).sort_values("low")
    assert (ranges["high"].shift(1) > ranges["low"]).iloc[1:].any()
