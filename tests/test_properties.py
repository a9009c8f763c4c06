"""Property: whatever table an analyst gives, a run either completes with every ID exactly once
or stops with a UserInputError. Hypothesis draws the shape of messy tables (column kinds, sizes,
magnitudes, missing and infinite cells, duplicates, partial ID overlap); numpy fills them from a
drawn seed, so each example is cheap and the suite is deterministic and bounded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from clustering.config import config_from_dict
from clustering.errors import UserInputError
from clustering.io.validation import normalize_ids
from clustering.pipeline import run

ALGORITHMS = ("kmeans", "hdbscan", "gmm", "agglomerative", "minibatch_kmeans")
REDUCTIONS = ({}, {"pca_variance": 0.9}, {"famd_components": 3}, {"outliers": "isolation_forest"})
KINDS = (
    "normal",
    "integer",
    "constant",
    "mostly_missing",
    "with_inf",
    "huge",
    "tiny",
    "category",
    "text_numbers",
    "boolean",
)


def column(kind: str, n: int, rng: np.random.Generator) -> pd.Series:
    """One column of ``kind`` with ``n`` rows."""
    if kind == "normal":
        return pd.Series(rng.normal(rng.uniform(-5, 5), rng.uniform(0.1, 10), n))
    if kind == "integer":
        return pd.Series(rng.integers(0, rng.integers(1, 6), n))
    if kind == "constant":
        return pd.Series(np.full(n, rng.normal()))
    if kind == "mostly_missing":
        values = rng.normal(size=n)
        values[rng.random(n) < 0.9] = np.nan
        return pd.Series(values)
    if kind == "with_inf":
        values = rng.normal(size=n)
        values[rng.random(n) < 0.1] = np.inf
        values[rng.random(n) < 0.05] = -np.inf
        return pd.Series(values)
    if kind == "huge":
        return pd.Series(rng.normal(size=n) * 10.0 ** rng.integers(100, 300))
    if kind == "tiny":
        return pd.Series(rng.normal(size=n) * 10.0 ** -rng.integers(100, 320))
    if kind == "category":
        return pd.Series(rng.choice(["a", "b", "c", None], n), dtype="string")
    if kind == "text_numbers":
        texts = [f"{v:,.2f}%" if i % 3 else f"${v:,.2f}" for i, v in enumerate(rng.normal(50, 500, n))]
        return pd.Series(texts, dtype="string")
    return pd.Series(rng.random(n) < 0.5)


@st.composite
def messy_tables(draw: st.DrawFn) -> tuple[dict[str, pd.DataFrame], dict]:
    """One or two tables, IDs with partial overlap and maybe duplicates, and the run's options
    (algorithm and reduction drawn too)."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    two = draw(st.booleans())
    tables = {}
    for name in ("internal", "external") if two else ("internal",):
        rows = draw(st.sampled_from([60, 500, 1, 4, 25, 150])) + draw(st.integers(0, 9))
        width = draw(st.sampled_from([1, 2, 3, 5, 8, 30, 200, 2000]))
        kinds = draw(st.lists(st.sampled_from(KINDS), min_size=min(width, 12), max_size=min(width, 12)))
        frame = pd.DataFrame({f"c{j}": column(kinds[j % len(kinds)], rows, rng) for j in range(width)})
        start = draw(st.integers(0, len(tables["internal"]) + 5)) if name == "external" else 0
        ids = [f"S{i}" for i in range(start, start + rows)]
        if rows > 2 and draw(st.sampled_from([False] * 9 + [True])):
            ids[1] = ids[0]  # a duplicated ID: must be an error, not a silent drop
        frame.insert(0, "store_id", ids)
        tables[name] = frame
    dataset = {
        # every step of the default, with two starts per stability refit (ten by default):
        # the property is that a run completes or explains, not how stable its segments are
        "cluster": {"algorithm": draw(st.sampled_from(ALGORITHMS)), "stable_starts": 2},
        "preprocess": draw(st.sampled_from(REDUCTIONS)),
    }
    options = {
        "labels": {"pattern": "none", "market_column": None},
        "stability": {"resamples": 2, "max_rows": 500},
        "datasets": {name: dataset for name in tables},
        "merge": {"enabled": two},
    }
    return tables, options


PARTS = 5  # the examples in five tests of their own, so that they run on several cores


@pytest.mark.slow
@pytest.mark.parametrize("part", range(PARTS))
def test_a_run_completes_with_every_id_once_or_says_what_is_wrong(part):
    """The profile's example count (tests/conftest.py: 30 in make test) shared by the parts;
    each part draws its own examples (its own seed)."""
    examples = -(-settings.default.max_examples // PARTS)

    @seed(part)
    @settings(max_examples=examples)
    @given(messy_tables())
    def completes_or_explains(drawn):
        tables, options = drawn
        config = config_from_dict(options)
        try:
            result = run(config, tables)
        except UserInputError as error:
            assert str(error).strip()
            return
        ids = result.assignments["store_id"]
        expected = set().union(*(set(normalize_ids(t["store_id"])) for t in tables.values()))
        assert ids.is_unique
        assert set(ids) == expected
        assert result.assignments["final_cluster"].notna().all()

    completes_or_explains()
