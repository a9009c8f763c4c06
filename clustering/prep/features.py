"""Demand features per DFU from monthly sales, vectorized with numpy (no groupby-apply).

Each DFU is laid on a full month grid over the window (the last ``window_months`` months
up to ``end_month`` or the latest month in the data). Its history starts at its first
month with a sales row; from there to the window's end, a month without a row is zero
demand. DFUs with fewer than ``min_months`` months of history are dropped and reported.

Features (all over the DFU's months of history; "detrended" removes the least-squares
line but keeps the level), named as downstream demand models name them:

- volume: ``mean_demand``, ``median_demand``, ``std_demand`` (population), ``cv_demand``
  (std / mean), ``min_demand``, ``max_demand``, ``total_demand``;
- trend: ``trend_slope`` (least-squares slope, units per month), ``trend_slope_norm`` (slope
  / mean), ``trend_pct_change`` (mean of the last 6 months against the first 6; from a zero
  start +1 when demand appeared, 0 when there is still none), ``trend_direction`` (+1, 0,
  -1 when |slope / mean| < 0.005), ``trend_r2``;
- seasonality: ``seasonality_strength`` (share of the detrended variance explained by the
  month-of-year means, adjusted for the 11 degrees of freedom of 12 means, floored at 0),
  ``peak_month`` (1-12), ``seasonal_index_std`` (std of month-of-year mean / mean),
  ``year_over_year_correlation`` (mean correlation of consecutive full years, detrended,
  counted back from the window's end);
- intermittency and stability: ``zero_demand_pct`` (% of months with no demand),
  ``sparsity_score`` (average demand interval: months of history per month with demand;
  1 = demand every month, above 1.32 intermittent in Syntetos and Boylan's terms),
  ``demand_stability`` (1 / (1 + std of the irregular part, after trend and month-of-year,
  / mean): 1 = fully explained by trend and season), ``outlier_count`` (months whose
  irregular part is more than 3 standard deviations from zero);
- growth: ``growth_rate`` (CAGR of the last 12 months' total over the first 12 months',
  needs 24 months and a first year with demand), ``acceleration`` (slope of the second half
  minus the first half, / mean), ``recent_vs_historical`` (last 3 months' mean / the earlier
  months' mean);
- ``history_months``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clustering.config import DemandFeatureConfig
from clustering.errors import UserInputError

FLAT_SLOPE = 0.005
OUTLIER_SIGMAS = 3.0
ROW_BLOCK = 16_384  # rows per block where a step needs a copy of the grid
AGGREGATE_ROWS = 65_536  # rows per block of grid_aggregates


@dataclass
class DemandGrid:
    """Sales on a month grid: one row per DFU, one column per month of the window."""

    ids: pd.Index
    units: np.ndarray
    first: np.ndarray
    first_month: pd.Period
    dropped: list[str] = field(default_factory=list)

    @property
    def months(self) -> int:
        return self.units.shape[1]

    @classmethod
    def from_months(
        cls, ids: np.ndarray, units: np.ndarray, first: np.ndarray, start: int, config: DemandFeatureConfig
    ) -> DemandGrid:
        """The grid of DFUs ``ids`` (text, sorted) with monthly ``units`` from month number
        ``start`` (year * 12 + month - 1) on, and each DFU's first month with a sales row
        (``window_months`` when it has none in the window); DFUs with less than
        ``min_months`` of history are left out and listed in ``dropped``."""
        keep = config.window_months - first >= config.min_months
        first_month = pd.Period(year=start // 12, month=start % 12 + 1, freq="M")
        index = pd.Index(ids[keep], name=config.id_column)
        return cls(index, _keep_rows(units, keep), first[keep], first_month, ids[~keep].tolist())


def _keep_rows(units: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The rows of ``units`` where ``keep``, moved up in place (kept rows only move up, chunk by
    chunk), so the grid is never copied whole."""
    if keep.all():
        return units
    kept = np.flatnonzero(keep)
    for begin in range(0, len(kept), ROW_BLOCK):
        rows = kept[begin : begin + ROW_BLOCK]
        units[begin : begin + len(rows)] = units[rows]  # the right side is read before writing
    return units[: len(kept)]


def _codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code (-1 when empty) and the distinct values, as ``pd.factorize`` gives them
    but in any order; a categorical column's own codes are used (no hashing of 36M IDs) and
    its unused categories left out."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        codes, uniques = pd.factorize(column, sort=False)
        return codes, np.asarray(uniques)
    codes = column.array.codes  # the categorical's own array, not a copy
    categories = np.asarray(column.cat.categories)
    used = np.zeros(len(categories), dtype=bool)
    for rows in _chunks(len(codes)):  # chunks: an index array is widened to int64 when used
        part = codes[rows]
        used[part[part >= 0]] = True
    if used.all():
        return codes, categories
    new_code = np.where(used, np.cumsum(used) - 1, -1)
    return np.where(codes >= 0, new_code[codes], -1), categories[used]


def _month_numbers(dates: pd.Series, source: str) -> np.ndarray:
    """Months as integers (year * 12 + month - 1), computed on the unique dates only."""
    codes, uniques = _codes(dates)
    if (codes < 0).any():
        raise UserInputError(f"{source}: the month column has empty cells. Fill them or delete those rows.")
    parsed = pd.to_datetime(pd.Series(uniques), errors="coerce")
    if parsed.isna().any():
        bad = pd.Series(uniques)[parsed.isna()].astype(str).head(3).tolist()
        raise UserInputError(f"{source}: the month column has values that are not dates: {', '.join(bad)}.")
    return (parsed.dt.year * 12 + parsed.dt.month - 1).to_numpy(dtype=np.int32)[codes]


def demand_grid(sales: pd.DataFrame, config: DemandFeatureConfig, source: str = "sales") -> DemandGrid:
    """Lay monthly sales on a DFU x month grid (rows of the same DFU and month are summed)."""
    columns = (config.id_column, config.date_column, config.value_column)
    missing = [c for c in columns if c not in sales.columns]
    if missing:
        raise UserInputError(
            f"{source}: column(s) {', '.join(missing)} missing. The sales table needs "
            f"{', '.join(columns)} (set features.id_column, date_column and value_column)."
        )
    values = sales[config.value_column]
    if not pd.api.types.is_numeric_dtype(values):
        values = pd.to_numeric(values, errors="coerce")
    units = values.to_numpy(dtype=np.float64)
    if np.isnan(units).any():
        rows = np.flatnonzero(np.isnan(units))[:5] + 2
        raise UserInputError(
            f"{source}: column '{config.value_column}' has empty or non-numeric cells (rows "
            f"{', '.join(map(str, rows))}). Units must be numbers; write 0 for no sales."
        )
    dates = sales[config.date_column]
    if config.end_month is not None:
        end = _period_number(config.end_month)
    else:  # months are numbered chunk by chunk, twice, rather than held for every row
        months = (int(_month_numbers(dates.iloc[rows], source).max()) for rows in _chunks(len(sales)))
        end = max(months, default=0)  # no rows: no DFU, said below
    start = end - config.window_months + 1
    width = config.window_months
    codes, ids = _codes(sales[config.id_column])
    if (codes < 0).any():
        rows = np.flatnonzero(codes < 0)[:5] + 2
        raise UserInputError(f"{source}: '{config.id_column}' is empty in rows {', '.join(map(str, rows))}.")
    order = np.argsort(np.asarray(ids, dtype=object).astype(str), kind="stable")
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    size = len(ids) * width
    grid, present = np.zeros(size), np.zeros(size, dtype=bool)
    for rows in _chunks(len(sales)):
        # Sales rows in chunks: each row's cell (DFU x month), units added in row order (as
        # np.bincount adds them, 4x faster here and without a cell array of every row).
        offset = _month_numbers(dates.iloc[rows], source) - start
        inside = (offset >= 0) & (offset < width)
        cell = rank[codes[rows][inside]] * width + offset[inside]
        np.add.at(grid, cell, units[rows][inside])
        present[cell] = True
    grid, present = grid.reshape(len(ids), width), present.reshape(len(ids), width)
    first = np.where(present.any(axis=1), present.argmax(axis=1), width)
    sorted_ids = np.asarray(ids, dtype=object)[order].astype(str)
    return DemandGrid.from_months(sorted_ids, grid, first, start, config)


def _chunks(rows: int, size: int = 1_048_576) -> list[slice]:
    """Consecutive slices of at most ``size`` rows covering ``rows``."""
    return [slice(begin, min(begin + size, rows)) for begin in range(0, rows, size)]


def _period_number(text: str) -> int:
    period = pd.Period(text, freq="M")
    return period.year * 12 + period.month - 1


def _sum_t(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum of t for t in [lo, hi)."""
    return (hi * (hi - 1) - lo * (lo - 1)) / 2


def _sum_t2(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum of t squared for t in [lo, hi)."""
    return ((hi - 1) * hi * (2 * hi - 1) - (lo - 1) * lo * (2 * lo - 1)) / 6


class _Ranges:
    """Sums of y and of t*y over column ranges [lo, hi) of each row, from prefix sums."""

    def __init__(self, y: np.ndarray) -> None:
        n, width = y.shape
        self.y = np.zeros((n, width + 1))
        np.cumsum(y, axis=1, out=self.y[:, 1:])
        self.ty = np.zeros((n, width + 1))
        np.multiply(y, np.arange(width, dtype=np.float64), out=self.ty[:, 1:])
        np.cumsum(self.ty[:, 1:], axis=1, out=self.ty[:, 1:])

    @staticmethod
    def _between(prefix: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        rows = np.arange(len(prefix))
        return prefix[rows, hi] - prefix[rows, lo]

    def total(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return self._between(self.y, lo, hi)

    def slope(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Least-squares slope of y on t over [lo, hi) (NaN for fewer than two months)."""
        count = hi - lo
        s_t, s_y = _sum_t(lo, hi), self.total(lo, hi)
        with np.errstate(invalid="ignore", divide="ignore"):
            sxy = self._between(self.ty, lo, hi) - s_t * s_y / count
            sxx = _sum_t2(lo, hi) - s_t**2 / count
            return np.where(count >= 2, sxy / sxx, np.nan)


def _from_first(values: np.ndarray, first: np.ndarray, reduce: Callable[..., np.ndarray]) -> np.ndarray:
    """``reduce`` (np.median, np.min...) of each row's values from its column ``first`` on;
    rows are grouped by their first column, so no masked copy of the grid is made."""
    result = np.empty(len(values))
    for block in range(0, len(values), ROW_BLOCK):
        part, starts = values[block : block + ROW_BLOCK], first[block : block + ROW_BLOCK]
        for start in np.unique(starts):
            rows = np.flatnonzero(starts == start)
            result[block + rows] = reduce(part[rows, start:], axis=1)
    return result


def _safe_divide(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(bottom != 0, top / np.where(bottom != 0, bottom, 1.0), np.nan)


def _month_tables(width: int, first_calendar: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each possible first column f: months of history per calendar month, and the sum of t
    over them (both 12 wide); and the calendar month of each column."""
    calendar = (first_calendar + np.arange(width)) % 12
    onehot = np.eye(12)[calendar]
    t = np.arange(width, dtype=np.float64)
    after = np.arange(width)[:, None] <= np.arange(width)[None, :]  # [f, t]: column t is in history
    return after @ onehot, (after * t) @ onehot, calendar


AGGREGATES = (
    "first", "total", "squares", "slope", "head6", "tail6", "first_year", "last_year", "recent3",
    "slope_first_half", "slope_second_half", "explained", "month_groups", "index_mean", "index_square_mean",
    "peak_month", "yoy_correlation", "zeros", "outliers", "volume_min", "volume_max", "volume_median",
)  # fmt: skip


def _range_sums(y: np.ndarray, first: np.ndarray) -> dict[str, np.ndarray]:
    """Every sum and slope over a contiguous range of months, from one pair of prefix sums
    (freed on return, so later steps have the memory)."""
    n, width = y.shape
    end = np.full(n, width)
    middle = first + (end - first) // 2
    ranges = _Ranges(y)
    return {
        "total": ranges.total(first, end),
        "slope": np.nan_to_num(ranges.slope(first, end)),
        "head6": ranges.total(first, np.minimum(first + 6, width)),
        "tail6": ranges.total(end - 6, end),
        "first_year": ranges.total(first, np.minimum(first + 12, width)),
        "last_year": ranges.total(np.maximum(end - 12, 0), end),
        "recent3": ranges.total(end - 3, end),
        "slope_first_half": ranges.slope(first, middle),
        "slope_second_half": ranges.slope(middle, end),
    }


def trend_terms(first: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Months of history, mean month index, and sum of squared month deviations (closed forms)."""
    end = np.full(len(first), width)
    count = (end - first).astype(np.float64)
    t_mean = _sum_t(first, end) / count
    sxx = _sum_t2(first, end) - _sum_t(first, end) ** 2 / count
    return count, t_mean, sxx


def _quiet_nanmean(values: np.ndarray) -> np.ndarray:
    """Row means ignoring NaN; NaN for a row of NaN (a DFU without demand), without numpy's
    'Mean of empty slice' warning on the console for each such run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=1)


def grid_aggregates(grid: DemandGrid) -> pd.DataFrame:
    """Per DFU, the sums and per-row statistics every feature is finished from (``AGGREGATES``),
    computed in blocks of rows: every statistic is a row's own, and a block's temporaries (a
    dozen arrays of its rows x months) stay near 100 MB where the whole grid's took 1 GB at
    1M DFUs."""
    blocks = [
        _block_aggregates(
            grid.units[start : start + AGGREGATE_ROWS],
            grid.first[start : start + AGGREGATE_ROWS],
            grid.first_month.month - 1,
        )
        for start in range(0, max(len(grid.ids), 1), AGGREGATE_ROWS)
    ]
    columns = {name: np.concatenate([block[name] for block in blocks]) for name in AGGREGATES}
    return pd.DataFrame(columns, index=grid.ids)


def _block_aggregates(y: np.ndarray, first: np.ndarray, first_calendar_month: int) -> dict[str, np.ndarray]:
    """``grid_aggregates`` of some rows of the grid: ``y`` their months, ``first`` their first
    month of history, ``first_calendar_month`` (0-11) the calendar month of the grid's first column."""
    width = y.shape[1]
    first = first.astype(np.int64)
    count, t_mean, sxx = trend_terms(first, width)
    out: dict[str, np.ndarray] = {"first": first.astype(np.float64), **_range_sums(y, first)}
    slope, mean = out["slope"], out["total"] / count
    out["squares"] = np.einsum("ij,ij->i", y, y)

    month_count_by_first, month_t_by_first, calendar = _month_tables(width, first_calendar_month)
    month_count = month_count_by_first[first]
    month_sum = y @ np.eye(12)[calendar] - slope[:, None] * (
        month_t_by_first[first] - t_mean[:, None] * month_count
    )
    month_mean = _safe_divide(month_sum, month_count)
    index = _safe_divide(month_mean, mean[:, None])
    out |= {
        "explained": np.nansum(month_count * (month_mean - mean[:, None]) ** 2, axis=1),
        "month_groups": (month_count > 0).sum(axis=1).astype(np.float64),
        "index_mean": _quiet_nanmean(index),
        "index_square_mean": _quiet_nanmean(index**2),
        "peak_month": (np.nanargmax(np.where(month_count > 0, month_mean, -np.inf), axis=1) + 1).astype(
            np.float64
        ),
        "yoy_correlation": _year_over_year(y, slope, t_mean, count),
    }
    syy = np.maximum(out["squares"] - out["total"] * mean, 0.0)
    within = np.maximum(syy - slope**2 * sxx - out["explained"], 0.0)
    history = np.arange(width)[None, :] >= first[:, None]
    beyond = _irregular_outliers(y, slope, t_mean, np.nan_to_num(month_mean), calendar, within / count)
    beyond &= history
    out |= {
        "zeros": ((y == 0) & history).sum(axis=1).astype(np.float64),
        "outliers": np.where(within > 0, beyond.sum(axis=1), 0).astype(np.float64),
        "volume_min": _from_first(y, first, np.min),
        "volume_max": y.max(axis=1),
        "volume_median": _from_first(y, first, np.median),
    }
    return out


def finish_features(aggregates: pd.DataFrame, width: int) -> pd.DataFrame:
    """Every demand feature from the per-DFU aggregates (cheap, vectorized, row by row)."""
    a = {name: aggregates[name].to_numpy(dtype=np.float64) for name in AGGREGATES}
    first = a["first"].astype(np.int64)
    count, _, sxx = trend_terms(first, width)
    total, slope = a["total"], a["slope"]
    mean = total / count
    syy = np.maximum(a["squares"] - total * mean, 0.0)
    std = np.sqrt(syy / count)
    sse = np.maximum(syy - slope**2 * sxx, 0.0)
    slope_norm = _safe_divide(slope, mean)
    head, tail = a["head6"] / 6, a["tail6"] / 6
    eta2 = _safe_divide(a["explained"], sse)
    adjusted = 1 - (1 - eta2) * _safe_divide(count - 1, count - a["month_groups"])
    within = np.maximum(sse - a["explained"], 0.0)
    years = (count - 12) / 12
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = a["last_year"] / a["first_year"]
        cagr = np.where((count >= 24) & (a["first_year"] > 0), ratio ** (1 / years) - 1, np.nan)
    residual_cv = _safe_divide(np.sqrt(within / count), mean)
    out = {
        "mean_demand": mean,
        "median_demand": a["volume_median"],
        "std_demand": std,
        "cv_demand": _safe_divide(std, mean),
        "min_demand": a["volume_min"],
        "max_demand": a["volume_max"],
        "total_demand": total,
        "trend_slope": slope,
        "trend_slope_norm": slope_norm,
        "trend_pct_change": _change_from(head, tail),
        "trend_direction": np.where(np.abs(np.nan_to_num(slope_norm)) < FLAT_SLOPE, 0.0, np.sign(slope_norm)),
        "trend_r2": 1 - _safe_divide(sse, syy),
        "seasonality_strength": np.clip(np.nan_to_num(adjusted), 0.0, 1.0),
        "peak_month": a["peak_month"],
        "seasonal_index_std": np.sqrt(np.maximum(a["index_square_mean"] - a["index_mean"] ** 2, 0.0)),
        "year_over_year_correlation": a["yoy_correlation"],
        "zero_demand_pct": 100 * a["zeros"] / count,
        "sparsity_score": count / np.maximum(count - a["zeros"], 1),
        "demand_stability": 1 / (1 + residual_cv),
        "outlier_count": a["outliers"],
        "growth_rate": cagr,
        "acceleration": _safe_divide(a["slope_second_half"] - a["slope_first_half"], mean),
        "recent_vs_historical": _safe_divide(a["recent3"] / 3, (total - a["recent3"]) / (count - 3)),
        "history_months": count,
    }
    return pd.DataFrame(out, index=aggregates.index)


def _change_from(head: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """Relative change from the first to the last period; from a zero start, +1 (+100%) when
    demand appeared and 0 when there is still none."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(head > 0, (tail - head) / np.where(head > 0, head, 1.0), np.where(tail > 0, 1.0, 0.0))


def grid_features(grid: DemandGrid) -> pd.DataFrame:
    """Every demand feature of every DFU on the grid (see the module docstring)."""
    return finish_features(grid_aggregates(grid), grid.months)


def _irregular_outliers(
    y: np.ndarray,
    slope: np.ndarray,
    t_mean: np.ndarray,
    month_mean: np.ndarray,
    calendar: np.ndarray,
    irregular_var: np.ndarray,
) -> np.ndarray:
    """Cells whose irregular part (y minus trend minus month-of-year mean) lies more than
    OUTLIER_SIGMAS standard deviations from zero (compared squared, as SQL does); computed
    in cache-sized row blocks."""
    t = np.arange(y.shape[1], dtype=np.float64)
    beyond = np.empty(y.shape, dtype=bool)
    for block in range(0, len(y), ROW_BLOCK):
        rows = slice(block, block + ROW_BLOCK)
        irregular = y[rows] - slope[rows, None] * (t[None, :] - t_mean[rows, None])
        irregular -= month_mean[rows][:, calendar]
        np.square(irregular, out=irregular)
        beyond[rows] = irregular > OUTLIER_SIGMAS**2 * irregular_var[rows, None]
    return beyond


def _year_over_year(y: np.ndarray, slope: np.ndarray, t_mean: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Mean correlation between consecutive full 12-month blocks of the detrended series,
    counted back from the end of the window. Detrending subtracts slope * t; within two
    blocks t differs by a constant, which a correlation ignores, so the correlation follows
    from block sums (sum a, a², ab, a*u with u = 0..11) without copying the grid."""
    width = y.shape[1]
    u = np.arange(12, dtype=np.float64)
    u_centered = u - u.mean()
    var_u = (u_centered**2).sum()
    correlations, weights = np.zeros(len(y)), np.zeros(len(y))
    for k in range(width // 12 - 1):
        late = y[:, width - 12 * (k + 1) : width - 12 * k]
        early = y[:, width - 12 * (k + 2) : width - 12 * (k + 1)]
        late_mean, early_mean = late.mean(axis=1), early.mean(axis=1)
        cov_ab = np.einsum("ij,ij->i", late, early) / 12 - late_mean * early_mean
        var_a = np.einsum("ij,ij->i", late, late) / 12 - late_mean**2
        var_b = np.einsum("ij,ij->i", early, early) / 12 - early_mean**2
        cov_au, cov_bu = late @ u_centered / 12, early @ u_centered / 12
        s2u = slope**2 * var_u / 12
        covariance = cov_ab - slope * (cov_au + cov_bu) + s2u
        spread_a = var_a - 2 * slope * cov_au + s2u
        spread_b = var_b - 2 * slope * cov_bu + s2u
        with np.errstate(invalid="ignore", divide="ignore"):
            value = covariance / np.sqrt(spread_a * spread_b)
        ok = (count >= 12 * (k + 2)) & np.isfinite(value) & (spread_a > 1e-12) & (spread_b > 1e-12)
        correlations[ok] += value[ok]
        weights[ok] += 1
    return _safe_divide(correlations, weights)


def join_attributes(
    features: pd.DataFrame, sheets: dict[str, pd.DataFrame], config: DemandFeatureConfig
) -> pd.DataFrame:
    """Add DFU and item attributes: each join takes ``columns`` from ``sheet``, matched on ``key``
    (``key``: a column of the DFU table built so far, default the DFU ID). Attributes are
    optional: a join whose sheet was not given (or whose key came from such a sheet) is
    skipped and named in ``attrs["skipped_attributes"]``."""
    table = features
    skipped = []
    for join in config.attributes:
        key = join.key or config.id_column
        if join.sheet not in sheets or (key != config.id_column and key not in table.columns and skipped):
            skipped.append(join.sheet)
            continue
        other = sheets[join.sheet]
        needed = [key, *join.columns]
        missing = [c for c in needed if c not in other.columns]
        if missing:
            raise UserInputError(f"sheet '{join.sheet}' has no column(s) {', '.join(missing)}.")
        if key != config.id_column and key not in table.columns:
            raise UserInputError(f"features.attributes: '{key}' must be joined from another sheet first.")
        lookup = other[needed].drop_duplicates(key).set_index(key)
        lookup.index = lookup.index.astype(str)
        left = table.index.to_series() if key == config.id_column else table[key].astype(str)
        for column in join.columns:
            table[column] = left.map(lookup[column]).to_numpy()
    table.attrs["skipped_attributes"] = skipped
    return table


def demand_features(
    sheets: dict[str, pd.DataFrame], config: DemandFeatureConfig
) -> tuple[pd.DataFrame, list[str]]:
    """The DFU feature table (ID as a column) and the IDs dropped for short history."""
    if config.sales_sheet not in sheets:
        raise UserInputError(f"Sheet '{config.sales_sheet}' with monthly sales was not found.")
    grid = demand_grid(sheets[config.sales_sheet], config, config.sales_sheet)
    if not len(grid.ids):
        raise UserInputError(
            f"{config.sales_sheet}: no DFU has at least {config.min_months} months of history in the "
            f"{config.window_months}-month window. Lower features.min_months or widen the window."
        )
    aggregates, months, dropped = grid_aggregates(grid), grid.months, grid.dropped
    del grid  # the grid's memory is free for what follows (192 MB at 1M DFUs x 24 months)
    features = join_attributes(finish_features(aggregates, months), sheets, config)
    table = features.reset_index()
    table.attrs["skipped_attributes"] = features.attrs["skipped_attributes"]
    return table, dropped
