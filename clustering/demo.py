"""Demo data with planted truth, generated from a seed (nothing is shipped as a file).

``store_demo`` plants 5 internal archetypes (store performance) and 4 external ones
(the market around the store), with the mess of real data: lognormal revenues,
overlapping distributions, category shares that sum to 1, ~3% missing cells, a few
extreme outliers, a constant column, a near-duplicate column, categorical columns, and
a few stores present in only one of the two sheets. The external sheet is shuffled so
that anything matching rows by position instead of by ID fails.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CATEGORIES = ("grocery", "fresh", "beverages", "household", "apparel", "electronics")

# name: (weight, revenue median, selling area median, basket median, category shares, format)
INTERNAL_ARCHETYPES = {
    "urban_convenience": (0.24, 1.2e6, 250, 9.0, (0.25, 0.15, 0.40, 0.10, 0.05, 0.05), "convenience"),
    "hypermarket": (0.13, 4.0e7, 9000, 65.0, (0.35, 0.15, 0.10, 0.15, 0.12, 0.13), "hypermarket"),
    "neighborhood_supermarket": (
        0.27,
        8.0e6,
        1800,
        28.0,
        (0.40, 0.30, 0.12, 0.12, 0.03, 0.03),
        "supermarket",
    ),
    "discounter": (0.22, 6.0e6, 1000, 18.0, (0.50, 0.10, 0.15, 0.20, 0.03, 0.02), "discount"),
    "specialty_flagship": (0.14, 1.5e7, 3000, 90.0, (0.05, 0.02, 0.05, 0.08, 0.45, 0.35), "specialty"),
}

# name: (population 15 min, median income, competitors within 1 km, foot traffic index,
#        share of family households, share aged 65+, urbanicity)
EXTERNAL_ARCHETYPES = {
    "dense_urban": (400_000, 48_000, 12.0, 180.0, 0.20, 0.14, "urban"),
    "suburban_family": (120_000, 62_000, 4.0, 70.0, 0.45, 0.12, "suburban"),
    "rural_town": (25_000, 38_000, 1.0, 25.0, 0.35, 0.26, "rural"),
    "affluent_destination": (200_000, 85_000, 7.0, 120.0, 0.28, 0.18, "suburban"),
}
# How likely each internal archetype sits in each external market (rows follow INTERNAL order).
MARKET_AFFINITY = np.array(
    [
        [0.55, 0.15, 0.10, 0.20],
        [0.10, 0.45, 0.25, 0.20],
        [0.25, 0.35, 0.20, 0.20],
        [0.25, 0.30, 0.30, 0.15],
        [0.35, 0.15, 0.05, 0.45],
    ]
)
REGIONS = ("North", "South", "East", "West", "Central")
MISSING_SHARE = 0.03
OUTLIER_SHARE = 0.003
ONE_SHEET_SHARE = 0.01


def _lognormal(rng: np.random.Generator, median: np.ndarray, sigma: float) -> np.ndarray:
    return median * np.exp(rng.normal(0.0, sigma, size=len(median)))


def _category_shares(rng: np.random.Generator, means: np.ndarray, concentration: float = 60.0) -> np.ndarray:
    """Dirichlet draws around each row's mean shares, rounded to 4 decimals, summing to 1."""
    shares = np.vstack([rng.dirichlet(concentration * m) for m in means])
    shares = np.round(shares, 4)
    largest = shares.argmax(axis=1)
    rows = np.arange(len(shares))
    shares[rows, largest] += 1.0 - shares.sum(axis=1)
    return np.round(shares, 4)


def _noisy_choice(
    rng: np.random.Generator, planted: np.ndarray, options: tuple[str, ...], keep: float
) -> np.ndarray:
    """The planted value with probability ``keep``, else a random option."""
    random = np.asarray(options, dtype=object)[rng.integers(0, len(options), size=len(planted))]
    return np.where(rng.random(len(planted)) < keep, planted, random)


def _internal_sheet(rng: np.random.Generator, ids: np.ndarray, archetype: np.ndarray) -> pd.DataFrame:
    specs = list(INTERNAL_ARCHETYPES.values())
    revenue = _lognormal(rng, np.array([specs[a][1] for a in archetype]), 0.35)
    area = _lognormal(rng, np.array([specs[a][2] for a in archetype]), 0.30)
    basket = _lognormal(rng, np.array([specs[a][3] for a in archetype]), 0.18)
    shares = _category_shares(rng, np.array([specs[a][4] for a in archetype]))
    formats = np.array([specs[a][5] for a in archetype], dtype=object)
    all_formats = tuple(sorted({s[5] for s in specs}))
    frame = pd.DataFrame(
        {
            "store_id": ids,
            "format": _noisy_choice(rng, formats, all_formats, keep=0.85),
            "revenue": np.round(revenue, 2),
            "net_sales": np.round(revenue * 0.83 * (1 + rng.normal(0, 0.004, len(ids))), 2),
            "transactions": np.round(revenue / basket).astype(np.int64),
            "avg_basket": np.round(basket, 2),
            "selling_area_sqm": np.round(area, 1),
            "staff_count": np.maximum(2, np.round(area / 60 * np.exp(rng.normal(0, 0.2, len(ids))))).astype(
                np.int64
            ),
            "fiscal_weeks": np.full(len(ids), 52, dtype=np.int64),
        }
    )
    for j, category in enumerate(CATEGORIES):
        frame[f"share_{category}"] = shares[:, j]
    return frame


def _external_sheet(rng: np.random.Generator, ids: np.ndarray, archetype: np.ndarray) -> pd.DataFrame:
    specs = list(EXTERNAL_ARCHETYPES.values())
    column = np.array([[s[i] for s in specs] for i in range(6)])[:, archetype]
    urbanicity = np.array([specs[a][6] for a in archetype], dtype=object)
    return pd.DataFrame(
        {
            "store_id": ids,
            "region": np.asarray(REGIONS, dtype=object)[rng.integers(0, len(REGIONS), len(ids))],
            "urbanicity": _noisy_choice(rng, urbanicity, ("urban", "suburban", "rural"), keep=0.9),
            "population_15min": np.round(_lognormal(rng, column[0], 0.30)).astype(np.int64),
            "median_income": np.round(_lognormal(rng, column[1], 0.12), -2),
            "competitors_1km": rng.poisson(column[2]).astype(np.int64),
            "foot_traffic_index": np.round(_lognormal(rng, column[3], 0.25), 1),
            "share_family_households": np.round(np.clip(rng.normal(column[4], 0.05), 0.01, 0.95), 3),
            "share_age_65_plus": np.round(np.clip(rng.normal(column[5], 0.035), 0.01, 0.95), 3),
        }
    )


def _plant_outliers(rng: np.random.Generator, frame: pd.DataFrame, columns: list[str]) -> None:
    rows = rng.choice(len(frame), max(1, int(OUTLIER_SHARE * len(frame))), replace=False)
    for column in columns:
        frame.loc[frame.index[rows], column] = frame[column].iloc[rows].to_numpy() * 15


def _plant_missing(rng: np.random.Generator, frame: pd.DataFrame, protected: tuple[str, ...]) -> pd.DataFrame:
    columns = [c for c in frame.columns if c not in protected]
    mask = rng.random((len(frame), len(columns))) < MISSING_SHARE
    values = {c: frame[c].astype("float64") if frame[c].dtype.kind in "iu" else frame[c] for c in columns}
    holed = pd.DataFrame({c: values[c].mask(mask[:, j]) for j, c in enumerate(columns)}, index=frame.index)
    return pd.concat([frame[list(protected)], holed], axis=1)[frame.columns]


def store_demo(n_stores: int = 2000, seed: int = 7) -> dict[str, pd.DataFrame]:
    """Sheets ``internal``, ``external`` and ``truth`` for ``n_stores`` stores."""
    if n_stores < 20:
        raise ValueError("the store demo needs at least 20 stores")
    rng = np.random.default_rng(seed)
    ids = np.array([f"S{i:06d}" for i in range(1, n_stores + 1)], dtype=object)
    weights = np.array([spec[0] for spec in INTERNAL_ARCHETYPES.values()])
    internal_type = rng.choice(len(weights), size=n_stores, p=weights / weights.sum())
    external_type = np.array([rng.choice(4, p=MARKET_AFFINITY[a]) for a in internal_type])
    internal = _internal_sheet(rng, ids, internal_type)
    external = _external_sheet(rng, ids, external_type)
    _plant_outliers(rng, internal, ["revenue", "net_sales", "transactions"])
    _plant_outliers(rng, external, ["population_15min", "foot_traffic_index"])
    internal = _plant_missing(rng, internal, ("store_id", "fiscal_weeks"))
    external = _plant_missing(rng, external, ("store_id",))
    n_only = max(1, int(ONE_SHEET_SHARE * n_stores))
    dropped = rng.choice(n_stores, 2 * n_only, replace=False)
    internal = internal.drop(index=dropped[:n_only]).reset_index(drop=True)
    external = (
        external.drop(index=dropped[n_only:])
        .sample(frac=1.0, random_state=rng.integers(2**31))
        .reset_index(drop=True)
    )
    truth = pd.DataFrame(
        {
            "store_id": ids,
            "true_internal": np.asarray(list(INTERNAL_ARCHETYPES), dtype=object)[internal_type],
            "true_external": np.asarray(list(EXTERNAL_ARCHETYPES), dtype=object)[external_type],
        }
    )
    return {"internal": internal, "external": external, "truth": truth}


DFU_PATTERNS = ("steady_high", "seasonal", "intermittent_low", "growing", "declining", "volatile")
DFU_PATTERN_WEIGHTS = (0.2, 0.2, 0.15, 0.15, 0.15, 0.15)
CATEGORIES_ITEM = ("beverages", "snacks", "household", "personal_care", "frozen", "dairy")
SERVICE_GROUPS = ("A", "B", "C")


def _dfu_series(rng: np.random.Generator, pattern: str, months: int) -> np.ndarray:
    """Monthly units of one planted pattern (before short history and missing months)."""
    t = np.arange(months)
    if pattern == "steady_high":
        level = rng.lognormal(np.log(500), 0.4)
        return level * rng.lognormal(0, 0.08, months)
    if pattern == "seasonal":
        level, peak = rng.lognormal(np.log(200), 0.4), rng.integers(0, 12)
        wave = 1 + 0.7 * np.cos(2 * np.pi * (t - peak) / 12)
        return level * wave * rng.lognormal(0, 0.08, months)
    if pattern == "intermittent_low":
        return (rng.random(months) < 0.35) * rng.poisson(rng.uniform(3, 12), months)
    if pattern == "growing":
        return rng.lognormal(np.log(80), 0.4) * np.exp(0.045 * t) * rng.lognormal(0, 0.08, months)
    if pattern == "declining":
        return rng.lognormal(np.log(400), 0.4) * np.exp(-0.045 * t) * rng.lognormal(0, 0.08, months)
    return rng.lognormal(np.log(150), 0.4) * rng.lognormal(0, 0.75, months)


def dfu_demo(n_dfus: int = 5000, months: int = 36, seed: int = 7) -> dict[str, pd.DataFrame]:
    """Sheets ``sales_monthly``, ``dim_dfu``, ``dim_item`` and ``truth`` with planted demand
    patterns; some DFUs start late (short history) and some months have no row."""
    if n_dfus < 12 or months < 12:
        raise ValueError("the DFU demo needs at least 12 DFUs and 12 months")
    rng = np.random.default_rng(seed)
    weights = np.array(DFU_PATTERN_WEIGHTS)
    patterns = np.asarray(DFU_PATTERNS, dtype=object)[rng.choice(len(DFU_PATTERNS), n_dfus, p=weights)]
    ids = np.array([f"DFU{i:06d}" for i in range(1, n_dfus + 1)], dtype=object)
    units = np.vstack([_dfu_series(rng, p, months) for p in patterns]).round()
    start = np.where(rng.random(n_dfus) < 0.06, rng.integers(months - 20, months - 4, n_dfus), 0)
    present = (np.arange(months)[None, :] >= start[:, None]) & (rng.random((n_dfus, months)) > 0.02)
    row, col = np.nonzero(present)
    calendar = pd.period_range("2023-01", periods=months, freq="M").to_timestamp()
    sales = pd.DataFrame({"dfu_id": ids[row], "month": calendar[col], "units": units[row, col]})
    n_items = max(3, n_dfus // 4)
    item_ids = np.array([f"ITEM{i:05d}" for i in range(1, n_items + 1)], dtype=object)
    dim_item = pd.DataFrame(
        {
            "item_id": item_ids,
            "category": np.asarray(CATEGORIES_ITEM, dtype=object)[
                rng.integers(0, len(CATEGORIES_ITEM), n_items)
            ],
            "class": np.asarray(["core", "seasonal", "promo", "long_tail"], dtype=object)[
                rng.integers(0, 4, n_items)
            ],
            "brand": np.array(
                [f"Brand {chr(65 + i % 20)}" for i in rng.integers(0, 20, n_items)], dtype=object
            ),
            "case_weight_kg": np.round(rng.lognormal(np.log(6), 0.5, n_items), 2),
            "unit_price": np.round(rng.lognormal(np.log(4), 0.6, n_items), 2),
        }
    )
    dim_dfu = pd.DataFrame(
        {
            "dfu_id": ids,
            "item_id": item_ids[rng.integers(0, n_items, n_dfus)],
            "location": np.array([f"DC{i:02d}" for i in rng.integers(1, 13, n_dfus)], dtype=object),
            "region": np.asarray(REGIONS, dtype=object)[rng.integers(0, len(REGIONS), n_dfus)],
            "service_level_group": np.asarray(SERVICE_GROUPS, dtype=object)[rng.integers(0, 3, n_dfus)],
            "lead_time_days": rng.integers(2, 30, n_dfus),
            "min_order_qty": rng.choice([1, 6, 12, 24, 48], n_dfus),
            "cluster_assignment": pd.Series([None] * n_dfus, dtype=object),
        }
    )
    truth = pd.DataFrame({"dfu_id": ids, "true_pattern": patterns})
    return {"sales_monthly": sales, "dim_dfu": dim_dfu, "dim_item": dim_item, "truth": truth}


def demo_for(config: object, size: int, seed: int = 7) -> dict[str, pd.DataFrame]:
    """The demo data a config's kind reads (a ``config.RunConfig``): DFUs (``size`` DFUs, 36
    months) when a dataset builds demand features, else stores."""
    is_dfu = any(dataset.features is not None for dataset in config.datasets.values())
    return dfu_demo(size, 36, seed) if is_dfu else store_demo(size, seed)
