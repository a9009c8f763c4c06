"""Turn one dataset's columns into the numeric matrix that is clustered.

``Preprocessor`` is a scikit-learn style transformer. Steps, in order: select columns,
drop constant and near-zero-variance columns, impute, log1p skewed columns, drop one
of each highly correlated pair, handle outliers (clip, or flag with IsolationForest so
that later steps fit without them), scale, one-hot encode categoricals, optional PCA;
or, instead of the last three, FAMD for mixed numeric and categorical data.
No row is ever dropped. ``report_`` records what each step did, for the UI and export.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.impute import KNNImputer
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, RobustScaler, StandardScaler

from clustering.config import PreprocessConfig
from clustering.errors import UserInputError
from clustering.prep.reduction import FAMD

CORRELATION_SAMPLE = 50_000
HUGE, TINY = 1e50, 1e-50  # column magnitudes beyond these are rescaled before any sum of squares
OTHER_LEVEL = "(other)"


@dataclass
class PreprocessReport:
    """What preprocessing did to one dataset, step by step."""

    features_in: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    imputed: dict[str, int] = field(default_factory=dict)
    rescaled: dict[str, float] = field(default_factory=dict)
    log_transformed: list[str] = field(default_factory=list)
    clipped: dict[str, int] = field(default_factory=dict)
    outliers_flagged: int = 0
    categories: dict[str, list[str]] = field(default_factory=dict)
    pca_components: int | None = None
    pca_explained: float | None = None
    famd_explained: list[float] = field(default_factory=list)
    famd_contributions: pd.DataFrame | None = None
    weighted: dict[str, float] = field(default_factory=dict)  # column -> weight applied (not 1)
    unused_weights: list[str] = field(default_factory=list)  # weighted columns not among the features
    features_out: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per action: step, column, detail."""
        rows = [("drop", column, reason) for column, reason in self.dropped.items()]
        rows += [
            (
                "rescale",
                c,
                f"values up to {m:.3g} divided by a power of two near it, so sums of squares stay finite",
            )
            for c, m in self.rescaled.items()
        ]
        rows += [("impute", c, f"{n} missing value(s) filled") for c, n in self.imputed.items() if n]
        rows += [("log1p", c, "right-skewed, log1p applied") for c in self.log_transformed]
        rows += [
            ("clip", c, f"{n} value(s) clipped to quantile bounds") for c, n in self.clipped.items() if n
        ]
        if self.outliers_flagged:
            detail = f"{self.outliers_flagged} row(s) flagged; fit without them, then assigned"
            rows.append(("outliers", "", detail))
        rows += [("one-hot", c, f"{len(v)} level(s)") for c, v in self.categories.items()]
        if self.pca_components:
            detail = f"{self.pca_components} component(s) keep {self.pca_explained:.1%} of variance"
            rows.append(("pca", "", detail))
        if self.famd_explained:
            detail = f"{len(self.famd_explained)} component(s) keep {sum(self.famd_explained):.1%} of inertia"
            rows.append(("famd", "", detail))
        rows += [("weight", c, f"x{w:g} after scaling") for c, w in self.weighted.items()]
        rows += [
            ("weight", c, "not a feature after the steps above: its weight is unused")
            for c in self.unused_weights
        ]
        return pd.DataFrame(rows, columns=["step", "column", "detail"])


def _near_zero_variance(values: pd.Series, freq_ratio: float, unique_pct: float, distinct: int) -> bool:
    """caret's nearZeroVar rule: one value dominates and few distinct values exist. The share of
    distinct values is checked first: counting every value is the expensive part, and a column with many distinct values never needs it."""
    if distinct < 2 or 100 * distinct / max(len(values), 1) >= unique_pct:
        return False
    counts = values.value_counts()
    return bool(counts.iloc[0] / counts.iloc[1] > freq_ratio)


def _skewness(values: np.ndarray) -> np.ndarray:
    """Skewness of each column (the moment estimator, as ``scipy.stats.skew``; 0 for a constant
    column). Products, not ``** 3``: numpy's float power is over twenty times slower."""
    centered = values - values.mean(axis=0)
    moment = centered * centered
    variance = moment.mean(axis=0)
    moment *= centered
    third = moment.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nan_to_num(third / (variance * np.sqrt(variance)))


def correlated_to_drop(corr: pd.DataFrame, threshold: float) -> dict[str, str]:
    """caret's findCorrelation: for each pair above the threshold, drop the column with the
    larger mean absolute correlation to the rest (ties: the later column)."""
    absolute = corr.abs().to_numpy(copy=True)
    np.fill_diagonal(absolute, 0.0)
    names = list(corr.columns)
    kept = np.ones(len(names), dtype=bool)
    dropped: dict[str, str] = {}
    pairs = np.argwhere(np.triu(absolute > threshold))
    order = np.argsort(-absolute[pairs[:, 0], pairs[:, 1]], kind="stable")
    for i, j in pairs[order]:
        if not (kept[i] and kept[j]):
            continue
        mean_i = absolute[i, kept].mean()
        mean_j = absolute[j, kept].mean()
        drop, keep = (i, j) if mean_i > mean_j else (j, i)
        kept[drop] = False
        dropped[names[drop]] = f"correlated with {names[keep]} (|r| = {absolute[i, j]:.3f})"
    return dropped


class Preprocessor(TransformerMixin, BaseEstimator):
    """Prepare one dataset for clustering; see the module docstring for the steps."""

    def __init__(
        self,
        config: PreprocessConfig | None = None,
        numeric: list[str] | None = None,
        categorical: list[str] | None = None,
        random_state: int | None = None,
    ) -> None:
        self.config = config
        self.numeric = numeric
        self.categorical = categorical
        self.random_state = random_state

    # -- fit -------------------------------------------------------------------------------

    def fit(self, X: pd.DataFrame, y: object = None) -> Preprocessor:
        self.fit_transform(X)
        return self

    def fit_transform(self, X: pd.DataFrame, y: object = None) -> np.ndarray:
        """Fit every step on ``X`` and return its prepared matrix (one row per input row)."""
        cfg = self.config or PreprocessConfig()
        report = PreprocessReport()
        numeric, categorical = self._select_columns(X, cfg)
        report.features_in = numeric + categorical
        numeric = self._drop_uninformative(X, numeric, cfg, report)
        categorical = [c for c in categorical if not self._constant_category(X[c], c, cfg, report)]
        if not numeric and not categorical:
            raise UserInputError(self._nothing_left(X, report))
        values = self._fit_magnitude(X[numeric], report)
        values = self._fit_impute(values, numeric, cfg, report)
        values = self._fit_log(values, numeric, cfg, report)
        numeric, values = self._fit_correlation(values, numeric, cfg, report)
        self.numeric_out_ = numeric
        inliers = self._fit_outliers(values, numeric, cfg, report)
        values = self._apply_outliers(values)
        self.categorical_out_ = categorical
        self._fit_levels(X, categorical, cfg, report)
        self._fit_weights(numeric, categorical, cfg, report)
        self.famd_, self.scaler_, self.encoder_, self.pca_ = None, None, None, None
        if cfg.famd_components:
            matrix, names = self._fit_famd(values, X, inliers, cfg, report)
        else:
            self.scaler_ = self._make_scaler(cfg.scaler) if numeric else None
            if self.scaler_ is not None:
                self.scaler_.fit(values[inliers])
                values = self.scaler_.transform(values)
            onehot = cfg.categorical_weight * self._fit_onehot(X, categorical, report)
            matrix = np.hstack([values, onehot]) * self._matrix_weights(numeric, categorical, report)
            names = numeric + [f"{c}={level}" for c in categorical for level in report.categories[c]]
            matrix, names = self._fit_pca(matrix, names, inliers, cfg, report)
        report.features_out = names
        self.outliers_ = ~inliers
        self.report_ = report
        self.feature_names_out_ = names
        return matrix

    @staticmethod
    def _nothing_left(X: pd.DataFrame, report: PreprocessReport) -> str:
        """Why no feature is left to cluster on, in the analyst's terms."""
        if len(X) < 2:
            return f"the table has {len(X)} row(s): segmenting needs at least 4. Add rows."
        if not report.features_in:
            return "no feature column is selected. Check preprocess.include and exclude."
        reasons = "; ".join(f"{column}: {why}" for column, why in list(report.dropped.items())[:5])
        more = f" and {len(report.dropped) - 5} more" if len(report.dropped) > 5 else ""
        if all(why.startswith("constant") for why in report.dropped.values()):
            return (
                f"every feature column has a single value ({reasons}{more}), so every row looks the same "
                f"and there is nothing to segment. Load data whose columns vary."
            )
        return (
            f"every feature column was dropped ({reasons}{more}). Include other columns, or turn off "
            f"near_zero_variance or drop_constant."
        )

    def _select_columns(self, X: pd.DataFrame, cfg: PreprocessConfig) -> tuple[list[str], list[str]]:
        numeric = self.numeric
        if numeric is None:
            numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
        categorical = self.categorical
        if categorical is None:
            categorical = [c for c in X.columns if c not in numeric]
        if cfg.categorical == "drop":
            categorical = []
        available = set(X.columns)
        for key, names in (("include", cfg.include or []), ("exclude", cfg.exclude)):
            missing = [n for n in names if n not in available]
            if missing:
                raise UserInputError(
                    f"preprocess.{key} names column(s) not in the data: {', '.join(missing)}. "
                    f"Available: {', '.join(map(str, X.columns))}."
                )
        keep = set(cfg.include) if cfg.include is not None else available
        keep -= set(cfg.exclude)
        return [c for c in numeric if c in keep], [c for c in categorical if c in keep]

    def _drop_uninformative(
        self, X: pd.DataFrame, numeric: list[str], cfg: PreprocessConfig, report: PreprocessReport
    ) -> list[str]:
        kept = []
        for name in numeric:
            column = X[name].dropna()
            distinct = column.nunique()
            if column.empty:
                report.dropped[name] = "all values missing"
            elif cfg.drop_constant and distinct <= 1:
                report.dropped[name] = f"constant (every value is {column.iloc[0]:g})"
            elif cfg.near_zero_variance and _near_zero_variance(
                column, cfg.nzv_freq_ratio, cfg.nzv_unique_pct, distinct
            ):
                report.dropped[name] = "near-zero variance (one value dominates)"
            else:
                kept.append(name)
        return kept

    @staticmethod
    def _constant_category(
        column: pd.Series, name: str, cfg: PreprocessConfig, report: PreprocessReport
    ) -> bool:
        if cfg.drop_constant and column.dropna().nunique() <= 1:
            report.dropped[name] = "constant category"
            return True
        return False

    def _fit_magnitude(self, frame: pd.DataFrame, report: PreprocessReport) -> np.ndarray:
        """Finite values with every column brought to a safe magnitude: a column whose largest
        |value| is above 1e50 or below 1e-50 is divided by a power of two near it, so that sums
        of squares and cubes neither overflow nor vanish (scaling makes this invisible)."""
        values = frame.to_numpy(dtype=np.float64, copy=True)
        values[~np.isfinite(values)] = np.nan
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            largest = np.nanmax(np.abs(values), axis=0) if len(values) else np.zeros(values.shape[1])
        largest = np.nan_to_num(largest)
        extreme = (largest > HUGE) | ((largest > 0) & (largest < TINY))
        self.exponents_ = np.where(extreme, np.frexp(largest)[1], 0)
        for position in np.flatnonzero(extreme):
            report.rescaled[frame.columns[position]] = float(largest[position])
        return self._apply_magnitude(values)

    def _apply_magnitude(self, values: np.ndarray) -> np.ndarray:
        if self.exponents_.any():
            values = np.ldexp(values, -self.exponents_)
        return values

    def _fit_impute(
        self, values: np.ndarray, names: list[str], cfg: PreprocessConfig, report: PreprocessReport
    ) -> np.ndarray:
        self.numeric_imputed_ = list(names)
        frame = pd.DataFrame(values, columns=names)
        missing = np.isnan(values)
        report.imputed = dict(zip(frame.columns, missing.sum(axis=0).tolist(), strict=True))
        if cfg.impute == "median":
            self.fill_ = np.nanmedian(values, axis=0)
        elif cfg.impute == "mean":
            self.fill_ = np.nanmean(values, axis=0)
        elif cfg.impute == "most_frequent":
            self.fill_ = np.array([frame[c].mode().iloc[0] for c in frame.columns], dtype=np.float64)
        else:
            self.fill_ = np.nanmedian(values, axis=0)  # used for new rows at transform time
            return self._knn_impute(values) if missing.any() else values
        return np.where(missing, self.fill_, values)

    def _knn_impute(self, values: np.ndarray) -> np.ndarray:
        """KNN imputation on standardized columns, so no column dominates the distance."""
        center = np.nanmean(values, axis=0)
        scale = np.nanstd(values, axis=0)
        scale[scale == 0] = 1.0
        cfg = self.config or PreprocessConfig()
        imputer = KNNImputer(n_neighbors=cfg.knn_neighbors)
        return imputer.fit_transform((values - center) / scale) * scale + center

    def _fit_log(
        self, values: np.ndarray, names: list[str], cfg: PreprocessConfig, report: PreprocessReport
    ) -> np.ndarray:
        self.log_mask_ = np.zeros(len(names), dtype=bool)
        if cfg.log_transform and names:
            positive = values.min(axis=0) >= 0
            self.log_mask_ = positive & (_skewness(values) > cfg.skew_threshold)
            report.log_transformed = [n for n, m in zip(names, self.log_mask_, strict=True) if m]
        return self._apply_log(values)

    def _apply_log(self, values: np.ndarray) -> np.ndarray:
        if self.log_mask_.any():
            values = values.copy()
            values[:, self.log_mask_] = np.log1p(np.clip(values[:, self.log_mask_], 0, None))
        return values

    def _fit_correlation(
        self, values: np.ndarray, names: list[str], cfg: PreprocessConfig, report: PreprocessReport
    ) -> tuple[list[str], np.ndarray]:
        self.kept_positions_ = np.arange(len(names))
        if cfg.correlation_threshold is None or len(names) < 2:
            return names, values
        sample = values
        if len(values) > CORRELATION_SAMPLE:
            rng = np.random.default_rng(self.random_state)
            sample = values[rng.choice(len(values), CORRELATION_SAMPLE, replace=False)]
        corr = pd.DataFrame(sample, columns=names).corr()
        dropped = correlated_to_drop(corr.fillna(0.0), cfg.correlation_threshold)
        report.dropped.update(dropped)
        self.kept_positions_ = np.array([i for i, n in enumerate(names) if n not in dropped], dtype=int)
        return [names[i] for i in self.kept_positions_], values[:, self.kept_positions_]

    def _fit_outliers(
        self, values: np.ndarray, names: list[str], cfg: PreprocessConfig, report: PreprocessReport
    ) -> np.ndarray:
        self.clip_bounds_: tuple[np.ndarray, np.ndarray] | None = None
        inliers = np.ones(len(values), dtype=bool)
        if cfg.outliers == "clip" and names:
            low, high = np.quantile(values, cfg.clip_quantiles, axis=0)
            self.clip_bounds_ = (low, high)
            counts = ((values < low) | (values > high)).sum(axis=0)
            report.clipped = dict(zip(names, counts.tolist(), strict=True))
        elif cfg.outliers == "isolation_forest" and names:
            forest = IsolationForest(contamination=cfg.contamination, random_state=self.random_state)
            inliers = forest.fit_predict(values) == 1
            report.outliers_flagged = int((~inliers).sum())
        return inliers

    def _apply_outliers(self, values: np.ndarray) -> np.ndarray:
        if self.clip_bounds_ is None:
            return values
        return np.clip(values, *self.clip_bounds_)

    @staticmethod
    def _make_scaler(kind: str) -> StandardScaler | RobustScaler | MinMaxScaler | None:
        scalers = {"standard": StandardScaler, "robust": RobustScaler, "minmax": MinMaxScaler}
        return scalers[kind]() if kind in scalers else None

    def _fit_levels(
        self, X: pd.DataFrame, categorical: list[str], cfg: PreprocessConfig, report: PreprocessReport
    ) -> None:
        """Levels kept per categorical (the most frequent ones) and the fill for missing values."""
        self.levels_: dict[str, list[str]] = {}
        self.category_fill_: dict[str, str] = {}
        for name in categorical:
            counts = X[name].astype("string").value_counts(dropna=True)
            kept = (
                counts.index if len(counts) <= cfg.max_categories else counts.index[: cfg.max_categories - 1]
            )
            self.levels_[name] = sorted(kept)
            self.category_fill_[name] = str(counts.index[0])
            report.imputed[name] = int(X[name].isna().sum())

    def _fit_onehot(self, X: pd.DataFrame, categorical: list[str], report: PreprocessReport) -> np.ndarray:
        if not categorical:
            return np.empty((len(X), 0))
        categories = [[*self.levels_[c], OTHER_LEVEL] for c in categorical]
        self.encoder_ = OneHotEncoder(categories=categories, handle_unknown="ignore", sparse_output=False)
        encoded = self.encoder_.fit_transform(self._categorical_frame(X))
        keep = encoded.any(axis=0)
        self.onehot_keep_ = keep
        names = [f"{c}={lvl}" for c, cats in zip(categorical, categories, strict=True) for lvl in cats]
        kept_names = [n for n, k in zip(names, keep, strict=True) if k]
        for c in categorical:
            report.categories[c] = [n.split("=", 1)[1] for n in kept_names if n.startswith(f"{c}=")]
        return encoded[:, keep]

    def _fit_weights(
        self, numeric: list[str], categorical: list[str], cfg: PreprocessConfig, report: PreprocessReport
    ) -> None:
        """The attribute weights that apply to the features left; the others are reported."""
        kept = set(numeric) | set(categorical)
        self.weights_ = {c: float(w) for c, w in cfg.weights.items() if c in kept}
        report.weighted = {c: w for c, w in self.weights_.items() if w != 1.0}
        report.unused_weights = sorted(c for c in cfg.weights if c not in kept)

    def _matrix_weights(
        self, numeric: list[str], categorical: list[str], report: PreprocessReport
    ) -> np.ndarray:
        """One weight per prepared column: a numeric column's, or its text column's for each level."""
        weights = getattr(self, "weights_", {})  # a model saved before weights existed weighs all 1
        levels = [weights.get(c, 1.0) for c in categorical for _ in report.categories[c]]
        return np.array([weights.get(c, 1.0) for c in numeric] + levels, dtype=np.float64)

    def _famd_frame(self, values: np.ndarray, X: pd.DataFrame) -> pd.DataFrame:
        numeric = pd.DataFrame(values, columns=self.numeric_out_, index=X.index)
        return pd.concat([numeric, self._categorical_frame(X)], axis=1)

    def _fit_famd(
        self,
        values: np.ndarray,
        X: pd.DataFrame,
        inliers: np.ndarray,
        cfg: PreprocessConfig,
        report: PreprocessReport,
    ) -> tuple[np.ndarray, list[str]]:
        """FAMD replaces scaling, one-hot encoding and PCA (see clustering.prep.reduction)."""
        frame = self._famd_frame(values, X)
        self.famd_ = FAMD(cfg.famd_components, self.random_state, self.weights_)
        self.famd_.fit(frame[inliers], categorical=self.categorical_out_)
        report.famd_explained = self.famd_.explained_inertia_.round(6).tolist()
        report.famd_contributions = self.famd_.variable_contributions()
        report.categories = {c: list(v) for c, v in self.famd_.levels_.items()}
        names = [f"F{i + 1}" for i in range(len(report.famd_explained))]
        return self.famd_.transform(frame), names

    def _categorical_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """Categoricals as text; missing values take the most frequent level, rare ones '(other)'."""
        data = {}
        for name, levels in self.levels_.items():
            text = X[name].astype("string").fillna(self.category_fill_[name])
            data[name] = text.where(text.isin(levels), OTHER_LEVEL).astype(object)
        return pd.DataFrame(data, index=X.index)

    def _fit_pca(
        self,
        matrix: np.ndarray,
        names: list[str],
        inliers: np.ndarray,
        cfg: PreprocessConfig,
        report: PreprocessReport,
    ) -> tuple[np.ndarray, list[str]]:
        self.pca_ = None
        if cfg.pca_variance is None or matrix.shape[1] < 2:
            return matrix, names
        self.pca_ = PCA(n_components=cfg.pca_variance, svd_solver="full", random_state=self.random_state)
        self.pca_.fit(matrix[inliers])
        report.pca_components = int(self.pca_.n_components_)
        report.pca_explained = float(self.pca_.explained_variance_ratio_.sum())
        return self.pca_.transform(matrix), [f"PC{i + 1}" for i in range(self.pca_.n_components_)]

    # -- transform -------------------------------------------------------------------------

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Apply the fitted steps to rows (the fit's rows or new ones)."""
        values = X[self.numeric_imputed_].to_numpy(dtype=np.float64, copy=True)
        values[~np.isfinite(values)] = np.nan
        values = self._apply_magnitude(values)
        values = np.where(np.isnan(values), self.fill_, values)
        values = self._apply_log(values)[:, self.kept_positions_]
        values = self._apply_outliers(values)
        if self.famd_ is not None:
            return self.famd_.transform(self._famd_frame(values, X))
        onehot = None
        if self.encoder_ is not None:
            onehot = self.encoder_.transform(self._categorical_frame(X))[:, self.onehot_keep_]
        return self.linear_tail(values, onehot)

    def linear_tail(self, values: np.ndarray, onehot: np.ndarray | None = None) -> np.ndarray:
        """The steps after clipping, all affine: scaling, one-hot weight, attribute weights, PCA.
        Apart so that a warehouse can apply them as one matrix (``io.sqlassign``)."""
        if self.scaler_ is not None:
            values = self.scaler_.transform(values)
        parts = [values]
        if onehot is not None:
            parts.append((self.config or PreprocessConfig()).categorical_weight * onehot)
        matrix = np.hstack(parts) * self._matrix_weights(
            self.numeric_out_, self.categorical_out_, self.report_
        )
        return self.pca_.transform(matrix) if self.pca_ is not None else matrix

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(self.feature_names_out_, dtype=object)
