"""Assignment as one SQL query run by the warehouse: on SQLite, DuckDB and PostgreSQL the
nearest-centroid labels and names equal the in-memory ``assign`` for every DFU; what the
query cannot reproduce is refused with the reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from clustering.assign import fit_segmentation
from clustering.errors import UserInputError
from clustering.io.dbread import fetch_frame, table_ref
from clustering.io.sqlassign import affine_tail, assignment_query, check_sql_assignable
from clustering.pipeline import run
from tests.profiles import quick_preset


@pytest.fixture(scope="module")
def dfu_run(dfu_sheets):
    config = quick_preset("dfu")
    config.stability.enabled = False
    return run(config, dfu_sheets)


def features_table(engine, frame: pd.DataFrame) -> sa.TableClause:
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS dfu_features"))
    frame.to_sql("dfu_features", engine, index=False)
    return table_ref(engine, "dfu_features")


def test_the_warehouse_assigns_exactly_as_assign_does(warehouse, dfu_run):
    segmentation = fit_segmentation(dfu_run)
    fitted = segmentation.datasets["dfu"]
    check_sql_assignable(fitted.preprocessor, fitted.model)
    features = dfu_run.prepared["dfu"].table.frame.reset_index()
    features.loc[features.index[:5], "cv_demand"] = np.nan  # a missing value takes the fitted fill
    table = features_table(warehouse, features)
    labels = [f"{fitted.prefix}{k + 1}" for k in range(len(fitted.model.cluster_centers_))]
    query = assignment_query(
        table, "dfu_id", fitted.preprocessor, fitted.model.cluster_centers_, labels, segmentation.names
    )
    with warehouse.connect() as connection:
        got = fetch_frame(connection, query)
    got = got.assign(dfu_id=got["dfu_id"].astype(str)).set_index("dfu_id").sort_index()
    codes = fitted.model.predict(fitted.preprocessor.transform(features.set_index("dfu_id")))
    expected = pd.Series([labels[c] for c in codes], index=features["dfu_id"].astype(str)).sort_index()
    assert got["final_cluster"].tolist() == expected.tolist()
    assert got["segment_name"].tolist() == expected.map(segmentation.names).tolist()
    ran = dfu_run.assignments.set_index("dfu_id")["final_cluster"].astype(str)
    untouched = ran.index.difference(features["dfu_id"].head(5).astype(str))
    assert got.loc[untouched, "final_cluster"].tolist() == ran.loc[untouched].tolist()


def test_the_affine_tail_is_the_preprocessors_own(dfu_run):
    preprocessor = dfu_run.prepared["dfu"].preprocessor
    slopes, offset = affine_tail(preprocessor)
    values = np.random.default_rng(0).normal(size=(7, len(preprocessor.numeric_out_)))
    np.testing.assert_allclose(values @ slopes + offset, preprocessor.linear_tail(values), atol=1e-12)


def test_what_sql_cannot_reproduce_is_refused(demo_result):
    segmentation = fit_segmentation(demo_result)
    fitted = segmentation.datasets["internal"]  # stores: a text column (format) is one-hot
    with pytest.raises(UserInputError, match=r"numeric columns only.*format"):
        check_sql_assignable(fitted.preprocessor, fitted.model)

    class Mixture:
        algorithm = "gmm"

    with pytest.raises(UserInputError, match=r"nearest-centroid segments.*gmm"):
        check_sql_assignable(fitted.preprocessor, Mixture())
