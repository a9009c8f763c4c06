"""A fresh demo DFU warehouse on SQLite, DuckDB and a throwaway PostgreSQL server."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from clustering.demo import dfu_demo
from clustering.io.database import connect
from clustering.io.dbwrite import demo_warehouse

ENGINES = ["sqlite", "duckdb", "postgresql"]


@pytest.fixture(scope="module")
def dfu_sheets():
    return dfu_demo(400, 36, seed=5)


@pytest.fixture(params=ENGINES)
def warehouse(request, tmp_path, dfu_sheets):
    """A fresh demo DFU warehouse on each engine."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'demo.db'}"
    elif request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'demo.duckdb'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = connect(url, create=True)
    with engine.begin() as connection:
        for name in ("segment_assignments", "fact_sales_monthly", "dim_dfu", "dim_item"):
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    demo_warehouse(engine, "dfu", dfu_sheets)
    yield engine
    engine.dispose()
