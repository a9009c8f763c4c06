"""DFU demand features against a plain per-DFU reference written for clarity, not speed."""

import numpy as np
import pandas as pd
import pytest

from clustering.config import DemandFeatureConfig
from clustering.errors import UserInputError
from clustering.io.sources import read_table
from clustering.prep import features as features_module
from clustering.prep.features import demand_features, demand_grid, grid_features

MONTHS = pd.period_range("2023-01", periods=36, freq="M").to_timestamp()


def long_sales(series: dict[str, np.ndarray], skip: dict[str, list[int]] | None = None) -> pd.DataFrame:
    """Sales rows for each DFU from its first non-NaN month; ``skip`` drops some months' rows."""
    rows = []
    for dfu, values in series.items():
        for month, value in enumerate(values):
            if np.isnan(value) or month in (skip or {}).get(dfu, []):
                continue
            rows.append((dfu, MONTHS[month], value))
    return pd.DataFrame(rows, columns=["dfu_id", "month", "units"])


def reference(values: np.ndarray, first_calendar_month: int) -> dict[str, float]:
    """Features of one DFU's history (no NaN), computed directly from the definitions."""
    y = values.astype(float)
    n = len(y)
    t = np.arange(36 - n, 36, dtype=float)
    mean = y.mean()
    slope, intercept = np.polyfit(t, y, 1)
    fitted = slope * t + intercept
    r2 = 1 - ((y - fitted) ** 2).sum() / ((y - mean) ** 2).sum()
    detrended = y - slope * (t - t.mean())
    months = (first_calendar_month + t.astype(int)) % 12
    frame = pd.DataFrame({"m": months, "d": detrended})
    groups = frame.groupby("m")["d"]
    explained = (groups.count() * (groups.mean() - mean) ** 2).sum()
    total = ((detrended - mean) ** 2).sum()
    eta2 = explained / total
    strength = max(0.0, 1 - (1 - eta2) * (n - 1) / (n - groups.ngroups))
    irregular = detrended - frame["m"].map(groups.mean()).to_numpy()
    irregular_std = np.sqrt((irregular**2).mean())
    years = []
    for k in range(2):
        late = detrended[n - 12 * (k + 1) : n - 12 * k]
        early = detrended[n - 12 * (k + 2) : n - 12 * (k + 1)]
        if n >= 12 * (k + 2):
            years.append(np.corrcoef(late, early)[0, 1])
    half = n // 2
    first_slope = np.polyfit(t[:half], y[:half], 1)[0]
    second_slope = np.polyfit(t[half:], y[half:], 1)[0]
    head, tail = y[:6].mean(), y[-6:].mean()
    return {
        "mean_demand": mean,
        "median_demand": np.median(y),
        "std_demand": y.std(),
        "cv_demand": y.std() / mean,
        "min_demand": y.min(),
        "max_demand": y.max(),
        "total_demand": y.sum(),
        "trend_slope": slope,
        "trend_slope_norm": slope / mean,
        "trend_pct_change": (tail - head) / head if head > 0 else float(tail > 0),
        "trend_r2": r2,
        "seasonality_strength": strength,
        "peak_month": float(groups.mean().idxmax() + 1),
        "year_over_year_correlation": np.mean(years) if years else np.nan,
        "zero_demand_pct": 100 * (y == 0).mean(),
        "sparsity_score": n / max((y > 0).sum(), 1),
        "demand_stability": 1 / (1 + irregular_std / mean),
        "outlier_count": float((np.abs(irregular) > 3 * irregular_std).sum()),
        "growth_rate": (y[-12:].sum() / y[:12].sum()) ** (1 / ((n - 12) / 12)) - 1 if n >= 24 else np.nan,
        "acceleration": (second_slope - first_slope) / mean,
        "recent_vs_historical": y[-3:].mean() / y[:-3].mean(),
        "history_months": float(n),
    }


@pytest.fixture(scope="module")
def random_dfus():
    rng = np.random.default_rng(5)
    series = {}
    for i in range(120):
        values = rng.poisson(rng.uniform(1, 200), 36).astype(float) * (
            1 + 0.5 * np.sin(np.arange(36) * rng.uniform(0, 1))
        )
        values = np.round(values)
        start = 0 if i % 4 else rng.integers(1, 20)
        values[:start] = np.nan
        series[f"D{i:03d}"] = values
    series["D999"] = np.r_[np.full(30, np.nan), np.ones(6)]  # too short: dropped
    return series


def test_every_feature_matches_the_reference(random_dfus):
    sales = long_sales(random_dfus)
    features, dropped = demand_features({"sales_monthly": sales}, DemandFeatureConfig())
    features = features.set_index("dfu_id")
    assert dropped == ["D999"]
    for dfu, values in random_dfus.items():
        if dfu == "D999":
            continue
        history = values[~np.isnan(values)]
        expected = reference(history, first_calendar_month=0)
        got = features.loc[dfu]
        for name, value in expected.items():
            if np.isnan(value):
                assert np.isnan(got[name]), (dfu, name)
            else:
                assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-9), (dfu, name)


def test_missing_months_are_zero_demand_after_the_first_sale():
    sales = long_sales({"A": np.full(36, 10.0)}, skip={"A": [5, 6]})
    features = demand_features({"sales_monthly": sales}, DemandFeatureConfig())[0].set_index("dfu_id")
    assert features.loc["A", "zero_demand_pct"] == pytest.approx(100 * 2 / 36)
    assert features.loc["A", "total_demand"] == 340


def test_rows_of_the_same_month_are_summed_and_window_is_respected():
    sales = long_sales({"A": np.arange(36, dtype=float)})
    sales = pd.concat([sales, sales.tail(1)], ignore_index=True)
    config = DemandFeatureConfig(window_months=24, min_months=12)
    grid = demand_grid(sales, config)
    assert grid.units.shape == (1, 24)
    assert grid.units[0, -1] == 70  # 35 twice
    assert grid.units[0, 0] == 12
    ended = demand_grid(sales, DemandFeatureConfig(window_months=12, end_month="2024-12"))
    assert ended.units[0, -1] == 23


def test_planted_shapes():
    t = np.arange(36, dtype=float)
    series = {
        "flat": np.full(36, 100.0),
        "growing": 50 * 1.05**t,
        "seasonal": 100 + 60 * np.cos(2 * np.pi * (t - 6) / 12),
    }
    features = grid_features(demand_grid(long_sales(series), DemandFeatureConfig())).round(9)
    assert features.loc["flat", "cv_demand"] == 0 and features.loc["flat", "trend_direction"] == 0
    assert features.loc["growing", "trend_direction"] == 1 and features.loc[
        "growing", "growth_rate"
    ] == pytest.approx(1.05**12 - 1)
    assert features.loc["seasonal", "seasonality_strength"] > 0.99
    assert features.loc["seasonal", "peak_month"] == 7  # t = 6 is July 2023
    assert features.loc["seasonal", "year_over_year_correlation"] == pytest.approx(1.0)


def test_attributes_join_from_dfu_and_item_sheets():
    from clustering.config import AttributeJoin

    sales = long_sales({"A": np.full(36, 5.0), "B": np.full(36, 7.0)})
    dim_dfu = pd.DataFrame({"dfu_id": ["A", "B"], "item_id": ["I1", "I2"], "region": ["N", "S"]})
    dim_item = pd.DataFrame({"item_id": ["I1", "I2"], "category": ["snacks", "frozen"]})
    config = DemandFeatureConfig(
        attributes=[
            AttributeJoin(sheet="dim_dfu", columns=["item_id", "region"]),
            AttributeJoin(sheet="dim_item", key="item_id", columns=["category"]),
        ]
    )
    table, _ = demand_features({"sales_monthly": sales, "dim_dfu": dim_dfu, "dim_item": dim_item}, config)
    assert table.set_index("dfu_id")["category"].to_dict() == {"A": "snacks", "B": "frozen"}


@pytest.mark.parametrize(
    ("sales", "message"),
    [
        (pd.DataFrame({"dfu_id": ["A"], "units": [1]}), r"column\(s\) month missing"),
        (
            pd.DataFrame({"dfu_id": ["A"], "month": ["2024-01-01"], "units": ["many"]}),
            "'units' has empty or non-numeric",
        ),
        (pd.DataFrame({"dfu_id": ["A"], "month": ["not a date"], "units": [1]}), "not dates: not a date"),
        (
            pd.DataFrame({"dfu_id": ["A"], "month": ["2024-01-01"], "units": [1]}),
            "no DFU has at least 12 months",
        ),
        (
            pd.DataFrame(
                {"dfu_id": pd.Series([], dtype=str), "month": [], "units": pd.Series([], dtype=float)}
            ),
            "no DFU has at least 12 months",
        ),
    ],
)
def test_bad_sales_tables_are_explained(sales, message):
    with pytest.raises(UserInputError, match=message):
        demand_features({"sales_monthly": sales}, DemandFeatureConfig())


def test_missing_sales_sheet():
    with pytest.raises(UserInputError, match="Sheet 'sales_monthly' with monthly sales was not found"):
        demand_features({"sales": pd.DataFrame()}, DemandFeatureConfig())


CONTRACT = [
    "mean_demand", "median_demand", "std_demand", "cv_demand", "min_demand", "max_demand", "total_demand",
    "trend_slope", "trend_pct_change", "trend_direction", "seasonality_strength", "peak_month",
    "seasonal_index_std", "year_over_year_correlation", "zero_demand_pct", "sparsity_score",
    "demand_stability", "outlier_count", "growth_rate", "acceleration", "recent_vs_historical",
]  # fmt: skip


def test_the_feature_names_downstream_models_use_are_all_there(random_dfus):
    features, _ = demand_features({"sales_monthly": long_sales(random_dfus)}, DemandFeatureConfig())
    assert set(CONTRACT) <= set(features.columns)


def test_trend_pct_change_is_defined_for_zero_starts():
    series = {
        "from_nothing": np.r_[np.zeros(6), np.full(30, 5.0)],
        "still_nothing": np.r_[np.zeros(34), np.array([0.0, 0.0])],
        "halved": np.r_[np.full(6, 10.0), np.full(24, 7.0), np.full(6, 5.0)],
    }
    series["still_nothing"][10] = 3.0  # some demand in between, none at either end
    features, _ = demand_features({"sales_monthly": long_sales(series)}, DemandFeatureConfig())
    change = features.set_index("dfu_id")["trend_pct_change"]
    assert change["from_nothing"] == 1.0 and change["still_nothing"] == 0.0
    assert change["halved"] == pytest.approx(-0.5)


def test_sales_read_from_parquet_as_codes_give_the_same_features(random_dfus, tmp_path):
    sales = long_sales(random_dfus)
    path = tmp_path / "sales_monthly.parquet"
    sales.sample(frac=1.0, random_state=0).to_parquet(path, index=False)  # rows in any order
    as_codes = read_table(path, repeated_text=True)
    assert isinstance(as_codes["dfu_id"].dtype, pd.CategoricalDtype)
    config = DemandFeatureConfig()
    expected, dropped = demand_features({"sales_monthly": sales}, config)
    got, dropped_too = demand_features({"sales_monthly": as_codes}, config)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert dropped_too == dropped == ["D999"]


def test_unused_categories_are_not_dfus():
    """A categorical ID column may list IDs that have no sales row (a filtered table): they
    are not DFUs, so they are neither featured nor reported as dropped."""
    sales = long_sales({"D1": np.arange(1.0, 37.0), "D2": np.full(36, 5.0)})
    sales["dfu_id"] = pd.Categorical(sales["dfu_id"], categories=["D0", "D1", "D2", "D3"])
    features, dropped = demand_features({"sales_monthly": sales}, DemandFeatureConfig())
    assert features["dfu_id"].astype(str).tolist() == ["D1", "D2"]
    assert dropped == []


def test_dropping_short_histories_moves_the_kept_rows_up_in_place(monkeypatch):
    monkeypatch.setattr(features_module, "ROW_BLOCK", 3)  # several chunks on small grids
    rng = np.random.default_rng(0)
    for _ in range(200):
        units = rng.normal(size=(int(rng.integers(1, 40)), 4))
        keep = rng.random(len(units)) < rng.random()
        expected = units[keep].copy()
        kept = features_module._keep_rows(units, keep)
        assert np.array_equal(kept, expected)
        assert len(kept) == 0 or np.shares_memory(kept, units)  # no copy of the grid
