import numpy as np
import pandas as pd
import pytest

from clustering.config import PreprocessConfig
from clustering.errors import UserInputError
from clustering.prep.preprocessing import Preprocessor, _near_zero_variance, _skewness, correlated_to_drop


@pytest.fixture
def stores():
    rng = np.random.default_rng(0)
    n = 500
    revenue = rng.lognormal(15, 1.0, n)
    frame = pd.DataFrame(
        {
            "revenue": revenue,
            "revenue_copy": revenue * 1.001,
            "area": rng.normal(1000, 200, n),
            "basket": rng.normal(30, 5, n),
            "weeks": np.full(n, 52.0),
            "flag": np.where(np.arange(n) < 3, 1.0, 0.0),
            "format": rng.choice(["super", "hyper", "convenience"], n),
        },
        index=pd.Index([f"S{i}" for i in range(n)], name="store_id"),
    )
    frame.loc[frame.index[:10], "area"] = np.nan
    frame.loc[frame.index[5:8], "format"] = None
    return frame


def fit(frame, **options):
    numeric = [c for c in frame.columns if c != "format"]
    categorical = ["format"] if "format" in frame.columns else []
    preprocessor = Preprocessor(PreprocessConfig(**options), numeric, categorical, random_state=0)
    return preprocessor, preprocessor.fit_transform(frame)


def test_drops_constant_near_zero_variance_and_correlated_columns(stores):
    preprocessor, matrix = fit(stores, correlation_threshold=0.95)
    dropped = preprocessor.report_.dropped
    assert dropped["weeks"].startswith("constant")
    assert dropped["flag"].startswith("near-zero variance")
    assert ("revenue" in dropped) != ("revenue_copy" in dropped)
    assert "correlated with revenue" in " ".join(dropped.values())
    assert matrix.shape == (500, 3 + 3)  # revenue, area, basket + 3 format levels


def test_no_store_is_ever_dropped_and_no_value_is_missing(stores):
    for outliers in ("none", "clip", "isolation_forest"):
        _, matrix = fit(stores, outliers=outliers)
        assert matrix.shape[0] == len(stores)
        assert not np.isnan(matrix).any()


def test_imputation_counts_and_strategies(stores):
    preprocessor, _ = fit(stores, impute="mean")
    assert preprocessor.report_.imputed["area"] == 10
    assert preprocessor.report_.imputed["format"] == 3
    assert preprocessor.fill_[preprocessor.numeric_imputed_.index("area")] == pytest.approx(
        stores["area"].mean()
    )
    median, _ = fit(stores, impute="median")
    assert median.fill_[median.numeric_imputed_.index("area")] == pytest.approx(stores["area"].median())


def test_knn_imputation_uses_neighbours():
    x = np.linspace(0, 10, 200)
    frame = pd.DataFrame({"a": x, "b": 2 * x + 1, "c": np.sin(x)})
    frame.loc[50, "b"] = np.nan
    preprocessor = Preprocessor(
        PreprocessConfig(
            impute="knn", correlation_threshold=None, outliers="none", scaler="none", log_transform=False
        )
    )
    matrix = preprocessor.fit_transform(frame)
    assert matrix[50, 1] == pytest.approx(2 * x[50] + 1, abs=0.2)
    assert preprocessor.report_.imputed["b"] == 1


def test_log1p_applies_to_positive_skewed_columns_only(stores):
    preprocessor, _ = fit(stores, correlation_threshold=None)
    assert "revenue" in preprocessor.report_.log_transformed
    assert "basket" not in preprocessor.report_.log_transformed
    off, _ = fit(stores, log_transform=False, correlation_threshold=None)
    assert off.report_.log_transformed == []


def test_skewness_is_scipys_moment_estimator_and_zero_for_a_constant_column():
    from scipy.stats import skew

    rng = np.random.default_rng(3)
    values = np.column_stack(
        [rng.lognormal(size=2_000), rng.normal(size=2_000), -rng.exponential(size=2_000), np.full(2_000, 7.0)]
    )
    expected = np.append(skew(values[:, :3], axis=0), 0.0)
    np.testing.assert_allclose(_skewness(values), expected, rtol=1e-12, atol=1e-15)


def test_near_zero_variance_needs_a_dominant_value_and_few_distinct_values():
    dominant = pd.Series([0.0] * 950 + [1.0] * 30 + [2.0] * 20)  # ratio 31.7, 0.3% distinct
    assert _near_zero_variance(dominant, 19.0, 10.0, dominant.nunique())
    balanced = pd.Series([0.0] * 500 + [1.0] * 500)  # ratio 1
    assert not _near_zero_variance(balanced, 19.0, 10.0, balanced.nunique())
    varied = pd.Series([0.0] * 50 + list(range(1, 21)))  # ratio 50, but 30% distinct
    assert not _near_zero_variance(varied, 19.0, 10.0, varied.nunique())


def test_clipping_caps_extremes_at_quantiles(stores):
    stores = stores.copy()
    stores.loc["S1", "basket"] = 10_000.0
    preprocessor, matrix = fit(stores, outliers="clip", scaler="none", categorical="drop")
    basket = matrix[:, preprocessor.feature_names_out_.index("basket")]
    assert basket.max() <= np.quantile(stores["basket"].dropna(), 0.99) + 1e-9
    assert preprocessor.report_.clipped["basket"] >= 1


def test_isolation_forest_flags_outliers_and_fits_scaler_without_them(stores):
    stores = stores.copy()
    stores.loc[stores.index[:5], "basket"] = 5_000.0
    preprocessor, matrix = fit(
        stores,
        outliers="isolation_forest",
        contamination=0.01,
        categorical="drop",
        correlation_threshold=0.95,
    )
    assert preprocessor.outliers_[:5].all()
    assert preprocessor.report_.outliers_flagged == int(preprocessor.outliers_.sum())
    inliers = matrix[~preprocessor.outliers_]
    np.testing.assert_allclose(inliers.mean(axis=0), 0, atol=1e-9)


@pytest.mark.parametrize(
    ("scaler", "check"),
    [
        ("standard", lambda m: np.allclose(m.std(axis=0), 1)),
        ("minmax", lambda m: np.allclose(m.min(axis=0), 0) and np.allclose(m.max(axis=0), 1)),
        ("robust", lambda m: np.allclose(np.median(m, axis=0), 0)),
    ],
)
def test_scalers(stores, scaler, check):
    _, matrix = fit(stores, scaler=scaler, categorical="drop", outliers="none", impute="mean")
    assert check(matrix)


def test_onehot_levels_and_rare_levels_grouped(stores):
    preprocessor, matrix = fit(stores, max_categories=2)
    assert preprocessor.report_.categories["format"] == [
        *sorted(stores["format"].value_counts().index[:1]),
        "(other)",
    ]
    onehot = matrix[:, -2:]
    np.testing.assert_array_equal(onehot.sum(axis=1), 0.5)  # the default categorical_weight
    _, heavier = fit(stores, max_categories=2, categorical_weight=1.0)
    np.testing.assert_array_equal(heavier[:, -2:].sum(axis=1), 1)


def test_correlation_filter_is_off_by_default(stores):
    preprocessor, _ = fit(stores)
    assert not any("correlated" in reason for reason in preprocessor.report_.dropped.values())


def test_pca_reaches_the_variance_target(stores):
    preprocessor, matrix = fit(stores, pca_variance=0.9)
    assert preprocessor.report_.pca_explained >= 0.9
    assert matrix.shape[1] == preprocessor.report_.pca_components
    assert preprocessor.feature_names_out_[0] == "PC1"


def test_include_and_exclude(stores):
    preprocessor, _ = fit(stores, include=["area", "basket", "format"])
    assert preprocessor.feature_names_out_[:2] == ["area", "basket"]
    excluded, _ = fit(stores, exclude=["format"])
    assert not any(n.startswith("format=") for n in excluded.feature_names_out_)


def test_unknown_column_in_include_is_named(stores):
    with pytest.raises(UserInputError, match=r"preprocess.include names column\(s\) not in the data: areaa"):
        fit(stores, include=["areaa"])


def test_all_columns_constant_says_there_is_nothing_to_segment():
    frame = pd.DataFrame({"a": [1.0] * 10, "b": [2.0] * 10})
    with pytest.raises(
        UserInputError, match=r"every feature column has a single value \(a: constant"
    ) as error:
        Preprocessor().fit_transform(frame)
    assert "nothing to segment" in str(error.value)


def test_all_columns_dropped_for_other_reasons_names_each_reason():
    frame = pd.DataFrame({"a": [np.nan] * 100, "b": [0.0] * 99 + [1.0]})
    with pytest.raises(
        UserInputError, match=r"every feature column was dropped \(a: all values missing; b: near-zero"
    ):
        Preprocessor().fit_transform(frame)


def test_a_single_row_is_too_few():
    with pytest.raises(UserInputError, match=r"the table has 1 row\(s\): segmenting needs at least 4"):
        Preprocessor().fit_transform(pd.DataFrame({"a": [1.0]}))


def test_extreme_magnitudes_are_rescaled_and_reported():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "huge": rng.normal(size=200) * 1e200,
            "tiny": rng.normal(size=200) * 1e-310,
            "plain": rng.normal(size=200),
        }
    )
    frame.loc[3, "plain"] = 1e300
    preprocessor = Preprocessor(
        PreprocessConfig(log_transform=False, outliers="none", correlation_threshold=None)
    )
    matrix = preprocessor.fit_transform(frame)
    assert np.isfinite(matrix).all()
    assert set(preprocessor.report_.rescaled) == {"huge", "tiny", "plain"}
    # standardizing is scale-free: the column equals the z-scores of the values / 1e200, which
    # pandas can compute (on the originals its variance overflows to inf)
    shrunk = frame["huge"] / 1e200
    expected = (shrunk - shrunk.mean()) / shrunk.std(ddof=0)
    np.testing.assert_allclose(matrix[:, 0], expected.to_numpy(), atol=1e-9)
    steps = preprocessor.report_.to_frame()
    assert (steps["step"] == "rescale").sum() == 3
    np.testing.assert_allclose(preprocessor.transform(frame), matrix)


def test_transform_of_fit_rows_equals_fit_transform(stores):
    for options in ({}, {"pca_variance": 0.8}, {"outliers": "isolation_forest"}):
        preprocessor, matrix = fit(stores, **options)
        np.testing.assert_allclose(preprocessor.transform(stores), matrix)


def test_report_frame_lists_each_action(stores):
    preprocessor, _ = fit(stores)
    table = preprocessor.report_.to_frame()
    assert {"drop", "impute", "log1p", "clip", "one-hot"} <= set(table["step"])
    assert list(table.columns) == ["step", "column", "detail"]


def test_correlation_rule_drops_the_more_connected_column():
    corr = pd.DataFrame(
        [[1.0, 0.97, 0.5], [0.97, 1.0, 0.8], [0.5, 0.8, 1.0]], columns=list("abc"), index=list("abc")
    )
    assert list(correlated_to_drop(corr, 0.95)) == ["b"]


def mixed(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "sales": rng.normal(100, 10, rows),
            "margin": rng.normal(0.3, 0.05, rows),
            "format": rng.choice(["hyper", "super", "express"], rows),
        }
    )


def prepared(frame: pd.DataFrame, **options) -> tuple[pd.DataFrame, Preprocessor]:
    config = PreprocessConfig(log_transform=False, outliers="none", **options)
    pre = Preprocessor(config, numeric=["sales", "margin"], categorical=["format"], random_state=0)
    matrix = pre.fit_transform(frame)
    return pd.DataFrame(matrix, columns=pre.feature_names_out_), pre


def test_weights_multiply_a_columns_scaled_values_and_a_text_columns_levels():
    frame = mixed()
    plain, _ = prepared(frame)
    weighted, pre = prepared(frame, weights={"sales": 2.0, "margin": 0.0, "format": 3.0})
    np.testing.assert_allclose(weighted["sales"], 2 * plain["sales"])
    assert (weighted["margin"] == 0).all()  # weight 0: out of the distances
    levels = [c for c in plain.columns if c.startswith("format=")]
    np.testing.assert_allclose(weighted[levels], 3 * plain[levels])
    np.testing.assert_allclose(pre.transform(frame), weighted.to_numpy())  # new rows: the same weights
    assert pre.report_.weighted == {"sales": 2.0, "margin": 0.0, "format": 3.0}
    steps = pre.report_.to_frame()
    assert {"x2 after scaling", "x0 after scaling", "x3 after scaling"} <= set(steps["detail"])


def test_weights_reach_famd_and_an_unknown_column_is_reported():
    frame = mixed()
    _, plain = prepared(frame, famd_components=2)
    _, heavy = prepared(frame, famd_components=2, weights={"format": 5.0, "typo_column": 2.0})
    share = heavy.report_.famd_contributions.loc["format", "F1"]
    assert share > plain.report_.famd_contributions.loc["format", "F1"] and share > 90
    assert heavy.report_.unused_weights == ["typo_column"]
    unused = heavy.report_.to_frame().query("column == 'typo_column'")["detail"].iloc[0]
    assert "unused" in unused
