"""Writing to a database: a frame as a table, the indexes and keys the write-back's lookups
need, and the demo warehouses (``demo store|dfu --database``).
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine


def write_frame(engine: Engine, name: str, frame: pd.DataFrame) -> None:
    """Create (or replace) a table from a frame; DuckDB gets a fast bulk path."""
    if engine.dialect.name == "duckdb":
        with engine.begin() as connection:
            raw = connection.connection.driver_connection
            raw = getattr(raw, "_ConnectionWrapper__c", raw)
            raw.register("_incoming", frame)
            raw.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _incoming')
            raw.unregister("_incoming")
        return
    frame.to_sql(name, engine, if_exists="replace", index=False, chunksize=10_000)


def index_name(table: str, column: str) -> str:
    return f"idx_{table}_{column}"


def ensure_index(connection: Connection, table: str, column: str, schema: str | None = None) -> None:
    """Create the index on ``table.column`` (``idx_<table>_<column>``) when it is missing, so that
    reads filtered by segment (the cluster summary API) stay fast."""
    target = sa.Table(table, sa.MetaData(), sa.Column(column), schema=schema)
    index = sa.Index(index_name(table, column), target.c[column])
    connection.execute(sa.schema.CreateIndex(index, if_not_exists=True))


def ensure_key(connection: Connection, table: str, column: str) -> None:
    """Make ``column`` the key of ``table``: a primary key where the dialect can add one to an
    existing table (PostgreSQL, DuckDB), a unique index on SQLite (which cannot)."""
    quote = connection.dialect.identifier_preparer.quote
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {quote('key_' + table)} ON {quote(table)} ({quote(column)})"
        )
    else:
        connection.exec_driver_sql(f"ALTER TABLE {quote(table)} ADD PRIMARY KEY ({quote(column)})")


def demo_warehouse(engine: Engine, kind: str, sheets: dict[str, pd.DataFrame]) -> list[str]:
    """Write demo sheets as warehouse tables; returns the table names.

    Stores: ``dim_store`` (keyed on ``store_id``, with an empty ``cluster_assignment`` text
    column), ``store_internal``, ``store_external``. DFUs: ``fact_sales_monthly``, ``dim_dfu``
    (keyed on ``dfu_id``, with ``cluster_assignment``), ``dim_item``.
    """
    empty = pd.Series(pd.NA, dtype="string")
    if kind == "store":
        internal, external = sheets["internal"], sheets["external"]
        ids = pd.Index(internal["store_id"]).union(pd.Index(external["store_id"]))
        dim = pd.DataFrame({"store_id": ids.astype(str)})
        dim["format"] = dim["store_id"].map(internal.set_index("store_id")["format"]).astype("string")
        dim["region"] = dim["store_id"].map(external.set_index("store_id")["region"]).astype("string")
        dim["cluster_assignment"] = empty.reindex(dim.index)
        frames = {"dim_store": dim, "store_internal": internal, "store_external": external}
    else:
        dim_dfu = sheets["dim_dfu"].copy()
        dim_dfu["cluster_assignment"] = empty.reindex(dim_dfu.index)
        frames = {
            "fact_sales_monthly": sheets["sales_monthly"],
            "dim_dfu": dim_dfu,
            "dim_item": sheets["dim_item"],
        }
    for name, frame in frames.items():
        write_frame(engine, name, frame)
    target, key = ("dim_store", "store_id") if kind == "store" else ("dim_dfu", "dfu_id")
    with engine.begin() as connection:
        ensure_key(connection, target, key)
        ensure_index(connection, target, "cluster_assignment")
    return list(frames)
