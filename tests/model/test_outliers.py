"""Entities far from every other: the handful a run sets aside before choosing k, and what
it leaves alone (a continuum's tails, a small real group)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clustering.config import config_from_dict
from clustering.model.outliers import far_entities
from clustering.pipeline import run


def with_far_rows(rng: np.random.Generator, n: int = 300) -> np.ndarray:
    cloud = np.column_stack([rng.normal(0, 1, n), rng.normal(0, 1, n), rng.normal(0, 1, n)])
    far = np.array([[0.0, 0.0, 40.0], [0.5, 0.0, -35.0], [30.0, 1.0, 0.0]])
    return np.vstack([cloud, far])


def test_the_far_rows_are_found_with_the_columns_they_are_extreme_on():
    X = with_far_rows(np.random.default_rng(1))
    found = far_entities(X, ["sales", "margin", "area"], random_state=0)
    assert np.flatnonzero(found.mask).tolist() == [300, 301, 302]
    assert found.columns == {300: ["area"], 301: ["area"], 302: ["sales"]}


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng: rng.normal(size=(500, 4)),
        lambda rng: rng.uniform(size=(500, 4)),
        lambda rng: np.log1p(rng.lognormal(size=(500, 4))),
        lambda rng: np.vstack([rng.normal(0, 1, (460, 3)), rng.normal(20, 0.5, (40, 3))]),  # a small group
    ],
    ids=["normal", "uniform", "logged lognormal", "a small far group"],
)
def test_a_continuum_or_a_real_group_has_no_far_entity(draw):
    for seed in range(10):
        X = draw(np.random.default_rng(seed))
        assert far_entities(X, [f"c{j}" for j in range(X.shape[1])], random_state=seed).count == 0


def stores_with_far_ones() -> pd.DataFrame:
    """60 stores in two groups and three far ones (a small table: clipping at the 1st and 99th
    percentiles leaves them far, as with the 60 Dutch supermarkets)."""
    rng = np.random.default_rng(4)
    X = np.vstack([rng.normal(0, 1, (30, 3)), rng.normal(6, 1, (30, 3))])
    X = np.vstack([X, [[0, 0, 900.0], [6, 6, -800.0], [3, 700.0, 3]]])
    frame = pd.DataFrame(X, columns=["sales", "margin", "area"])
    frame.insert(0, "store_id", [f"S{i:03d}" for i in range(len(frame))])
    return frame


def config(policy: str | None):
    cluster = {} if policy is None else {"far_entities": policy}
    return config_from_dict(
        {
            "datasets": {"stores": {"cluster": cluster}},
            "labels": {"pattern": "none", "market_column": None},
            "stability": {"resamples": 5},
        }
    )


def test_far_stores_are_set_aside_named_and_assigned_with_a_flag():
    frame = stores_with_far_ones()
    result = run(config(None), {"stores": frame})  # set_aside is the default
    far = result.assignments.set_index("store_id")["stores_far"]
    assert far[far].index.tolist() == ["S060", "S061", "S062"]
    assert result.assignments["final_cluster"].notna().all() and len(result.assignments) == len(frame)
    assert result.clustered["stores"].k == 2  # the two real groups, the far stores in them
    note = next(n for n in result.clustered["stores"].notes if "far from every other" in n)
    assert "S060 (area)" in note and "S062 (margin)" in note and "own_segment" in note
    assert (result.stability["jaccard_mean"] >= 0.75).all()


def test_far_stores_can_be_a_segment_of_their_own_or_be_included():
    frame = stores_with_far_ones()
    own = run(config("own_segment"), {"stores": frame})
    labels = own.assignments.set_index("store_id")["final_cluster"]
    assert labels[["S060", "S061", "S062"]].nunique() == 1
    assert (labels == labels["S060"]).sum() == 3 and own.clustered["stores"].k == 3
    included = run(config("include"), {"stores": frame})
    assert "stores_far" not in included.assignments.columns
