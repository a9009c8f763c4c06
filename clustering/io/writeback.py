"""Write segments back to the database, all or nothing, with a history to restore from.

One write-back is one transaction: it appends every row to the history table
(``run_id``, entity id, segment, label, ``written_at``; the table is created if missing)
and sets the target column of the target table (``dim_dfu.cluster_assignment`` by
default) for every entity. It is set-based, so its time grows with the rows, not their
square: the new values are bulk-loaded into a temporary staging table (PostgreSQL's
``COPY``, DuckDB's columnar insert, executemany elsewhere) and one ``UPDATE ... FROM`` joins
it to the target. If anything fails mid-way, or the process is killed, the transaction
rolls back and both tables are exactly as before. A dry run reports how many rows would change from which
value to which, and writes nothing. ``restore`` writes an earlier run's values back from
the history, the same way.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from clustering.config import WriteBackConfig
from clustering.errors import UserInputError
from clustering.io.database import ensure_index, table_ref, tables

BATCH = 5_000
STAGE = "_segment_stage"


class InjectedFailure(RuntimeError):
    """Raised on purpose by tests, to prove a failed write-back leaves no trace."""


@dataclass
class WriteBackReport:
    run_id: str
    changes: pd.DataFrame
    rows: int
    written: bool


def history_table(name: str) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(200), nullable=False),
        sa.Column("segment", sa.String(200)),
        sa.Column("label", sa.String(500)),
        sa.Column("written_at", sa.DateTime, nullable=False),
    )


def new_run_id(values: pd.Series) -> str:
    """A readable, unique run id: the UTC time, a hash of what is written, and a random part
    (the same labels written twice within a second are two write-backs)."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(values, index=True).to_numpy().tobytes()).hexdigest()[
        :8
    ]
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{digest}-{secrets.token_hex(2)}"


def _target(engine: Engine, config: WriteBackConfig, key: str) -> sa.TableClause:
    table = table_ref(engine, config.table)
    for column in (key, config.column):
        if column not in table.c:
            raise UserInputError(
                f"Table '{config.table}' has no column '{column}'. Set database.write_back.key_column and column."
            )
    return table


def _current(
    connection: Connection, table: sa.TableClause, key: str, column: str
) -> tuple[pd.Series, dict[str, object]]:
    """Current values by entity id (as text), and each id's value as the database types it."""
    rows = connection.execute(sa.select(table.c[key], table.c[column])).all()
    return pd.Series({str(k): v for k, v in rows}, dtype=object), {str(k): k for k, _ in rows}


def plan_changes(current: pd.Series, values: pd.Series) -> pd.DataFrame:
    """From -> to counts for the entities whose value changes ((empty) for no value)."""
    before = current.reindex(values.index).astype(object).where(lambda s: s.notna(), "(empty)")
    after = values.astype(object)
    changed = before != after
    table = pd.DataFrame({"from": before[changed], "to": after[changed]})
    if table.empty:
        return pd.DataFrame(columns=["from", "to", "rows"])
    return (
        table.value_counts()
        .rename("rows")
        .reset_index()
        .sort_values(["rows", "from", "to"], ascending=[False, True, True])
    )


def write_back(
    engine: Engine,
    assignments: pd.DataFrame,
    config: WriteBackConfig,
    key: str,
    *,
    dry_run: bool = False,
    run_id: str | None = None,
    fail_after: int | None = None,
) -> WriteBackReport:
    """Write ``assignments`` (entity id column ``key``, ``final_cluster``, ``segment_name``).
    ``fail_after`` (tests only): when set, fail after the one UPDATE and before the commit;
    its value is not a row count any more, the update being a single statement."""
    ids = assignments[key].astype(str)
    segment = assignments["final_cluster"].astype(str).set_axis(ids)
    label = assignments["segment_name"].astype(str).set_axis(ids)
    values = label if config.value == "label" else segment
    table = _target(engine, config, config.key_column or key)
    run_id = run_id or new_run_id(values)
    with engine.begin() as connection:
        current, native = _current(connection, table, config.key_column or key, config.column)
        unknown = values.index.difference(current.index)
        if len(unknown):
            raise UserInputError(
                f"{len(unknown)} entities are not in table '{config.table}' (e.g. {', '.join(unknown[:5])}): "
                f"add them there first, or write back to another table."
            )
        changes = plan_changes(current, values)
        if dry_run:
            connection.rollback()
            return WriteBackReport(run_id, changes, len(values), written=False)
        history = history_table(config.history_table)
        history.create(connection, checkfirst=True)
        now = datetime.now(UTC).replace(tzinfo=None)
        records = pd.DataFrame(
            {"run_id": run_id, "entity_id": ids.to_numpy(), "segment": segment.to_numpy()}
        ).assign(label=label.to_numpy(), written_at=now)
        bulk_insert(connection, history, records)
        _update(connection, table, config, config.key_column or key, values, native, fail_after)
        ensure_index(connection, config.table, config.column)
    return WriteBackReport(run_id, changes, len(values), written=True)


def bulk_insert(connection: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """Insert a frame's rows (columns named as the table's) inside the open transaction:
    PostgreSQL's COPY, DuckDB's columnar insert from the frame, executemany elsewhere."""
    dialect = connection.dialect.name
    quote = connection.dialect.identifier_preparer.quote
    into = f"{quote(table.name)} ({', '.join(quote(str(c)) for c in frame.columns)})"
    if dialect == "postgresql":
        driver = connection.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(f"COPY {into} FROM STDIN") as copy:
            for row in frame.itertuples(index=False, name=None):
                copy.write_row(row)
    elif dialect == "duckdb":
        raw = connection.connection.driver_connection
        raw = getattr(raw, "_ConnectionWrapper__c", raw)
        raw.register("_incoming_rows", frame)
        raw.execute(f"INSERT INTO {into} SELECT * FROM _incoming_rows")
        raw.unregister("_incoming_rows")
    else:  # the driver's executemany, past SQLAlchemy's per-row parameter handling (10x faster)
        marks = ", ".join(_placeholder(connection.dialect.paramstyle, i) for i in range(len(frame.columns)))
        rows = list(zip(*(_driver_values(connection, table, frame, c) for c in frame.columns), strict=True))
        for start in range(0, len(rows), BATCH):
            connection.exec_driver_sql(f"INSERT INTO {into} VALUES ({marks})", rows[start : start + BATCH])


def _placeholder(paramstyle: str, position: int) -> str:
    return {"qmark": "?", "numeric": f":{position + 1}"}.get(paramstyle, "%s")


def _driver_values(connection: Connection, table: sa.Table, frame: pd.DataFrame, column: str) -> list:
    """A column's values as the driver takes them (the column type's own bind conversion, such
    as SQLite's text for a timestamp), as plain Python objects."""
    values = frame[column].astype(object).where(frame[column].notna(), None).tolist()
    processor = table.c[column].type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
    if processor is None:
        return values
    converted = {v: processor(v) for v in set(values)}  # a history's timestamp is one value
    return [converted[v] for v in values]


def _key_type(keys: list[object]) -> sa.types.TypeEngine:
    """The staging column's type, from the key values as the database returned them."""
    kinds = {type(k) for k in keys}
    if kinds and all(issubclass(k, int) and not issubclass(k, bool) for k in kinds):
        return sa.BigInteger()
    if kinds and all(issubclass(k, int | float) and not issubclass(k, bool) for k in kinds):
        return sa.Float()
    return sa.String()


def _update(
    connection: Connection,
    table: sa.TableClause,
    config: WriteBackConfig,
    key: str,
    values: pd.Series,
    native: dict[str, object],
    fail_after: int | None,
) -> None:
    """Stage the new values in a temporary table and set them with one UPDATE ... FROM."""
    keys = [native[i] for i in values.index]
    stage = sa.Table(
        STAGE,
        sa.MetaData(),
        sa.Column("entity", _key_type(keys), primary_key=True),
        sa.Column("value", sa.String),
        prefixes=["TEMPORARY"],
    )
    stage.drop(connection, checkfirst=True)
    stage.create(connection)
    frame = pd.DataFrame(
        {"entity": [native[i] for i in values.index], "value": values.to_numpy(dtype=object)}
    )
    bulk_insert(connection, stage, frame)
    statement = sa.update(table).values({config.column: stage.c.value}).where(table.c[key] == stage.c.entity)
    connection.execute(statement)
    if fail_after is not None:
        raise InjectedFailure(f"failure injected after the update of {len(frame)} rows, before the commit")
    stage.drop(connection)


def runs(engine: Engine, config: WriteBackConfig) -> pd.DataFrame:
    """Earlier write-backs: run id, rows, when."""
    if config.history_table not in tables(engine):
        return pd.DataFrame(columns=["run_id", "rows", "written_at"])
    history = history_table(config.history_table)
    query = (
        sa.select(
            history.c.run_id,
            sa.func.count().label("rows"),
            sa.func.max(history.c.written_at).label("written_at"),
        )
        .group_by(history.c.run_id)
        .order_by(sa.func.max(history.c.written_at).desc(), history.c.run_id.desc())
    )
    with engine.connect() as connection:
        return pd.read_sql(query, connection)


def restore(
    engine: Engine, config: WriteBackConfig, key: str, run_id: str, *, dry_run: bool = False
) -> WriteBackReport:
    """Write an earlier run's values back (recorded as a new run 'restore-of-<id>')."""
    if config.history_table not in tables(engine):
        raise UserInputError(f"No write-back history yet: table '{config.history_table}' does not exist.")
    history = history_table(config.history_table)
    with engine.connect() as connection:
        rows = pd.read_sql(sa.select(history).where(history.c.run_id == run_id), connection)
    if rows.empty:
        known = ", ".join(runs(engine, config)["run_id"].head(5))
        raise UserInputError(f"Run '{run_id}' is not in the history. Recent runs: {known or 'none'}.")
    assignments = pd.DataFrame(
        {key: rows["entity_id"], "final_cluster": rows["segment"], "segment_name": rows["label"]}
    )
    return write_back(engine, assignments, config, key, dry_run=dry_run, run_id=f"restore-of-{run_id}"[:64])
