"""Write segments back to the database, all or nothing, with a history to restore from.

One write-back is one transaction: it appends every row to the history table
(``write_back_id``, entity id, segment, label, ``written_at``, and where the labels come
from: ``tracked_run_id``, the tracking store's run, ``approved_by`` and ``written_by``; the
table is created if missing, and an older one gains the columns) and sets the target column
of the target table (``dim_dfu.cluster_assignment`` by default) for every entity. Rows of
the target table that the run does not cover get the configured ``uncovered`` treatment
(a label such as ``insufficient_history``, NULL, or kept as they are), so no row keeps a
stale label unnoticed. A write-back ID (``20261201T123804-54f4e16a-1f2e``) names one
write; a tracked run ID (MLflow's) names the run whose labels were written. It is set-based, so its time grows with the rows, not their
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
from clustering.io.dbread import columns, table_ref, tables
from clustering.io.dbwrite import ensure_index

BATCH = 5_000
STAGE = "_segment_stage"


class InjectedFailure(RuntimeError):
    """Raised on purpose by tests, to prove a failed write-back leaves no trace."""


@dataclass(frozen=True)
class Provenance:
    """Where written labels come from: the tracked run (the tracking store's run ID), who
    approved it, and who wrote them. Any may be unknown (an untracked run)."""

    tracked_run_id: str | None = None
    approved_by: str | None = None
    written_by: str | None = None


@dataclass(frozen=True)
class Destination:
    """Where a run's labels go: the database, whether only to show what would change, and
    who writes them (the ``written`` stage's input)."""

    engine: Engine
    dry_run: bool = False
    written_by: str | None = None


@dataclass
class WriteBackReport:
    write_back_id: str
    changes: pd.DataFrame
    rows: int
    written: bool
    table: str = ""
    column: str = ""
    uncovered: int = 0  # rows of the target table that the run does not cover
    uncovered_value: str | None = None  # what they get (None: NULL); unused when kept
    uncovered_kept: bool = False

    def lines(self) -> list[str]:
        """What was (or would be) written, in words, the rows the run does not cover included."""
        verb = "changed" if self.written else "would change"
        changed = int(self.changes["rows"].sum()) if not self.changes.empty else 0
        lines = [f"write-back {self.write_back_id}: {_rows(self.rows)} of {self.table}, {changed:,} {verb}"]
        if self.uncovered:
            will = "were" if self.written else "will be"
            if self.uncovered_kept:
                fate = f"their {self.column} {'was' if self.written else 'is'} kept as it is"
            elif self.uncovered_value is None:
                fate = f"their {self.column} {will} cleared (NULL)"
            else:
                fate = f"their {self.column} {will} set to '{self.uncovered_value}'"
            lines.append(f"{_rows(self.uncovered)} of {self.table} not covered by this run: {fate}")
        return lines


def _rows(count: int) -> str:
    return f"{count:,} row" + ("" if count == 1 else "s")


def history_table(name: str) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("write_back_id", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(200), nullable=False),
        sa.Column("segment", sa.String(200)),
        sa.Column("label", sa.String(500)),
        sa.Column("written_at", sa.DateTime, nullable=False),
        sa.Column("tracked_run_id", sa.String(64)),
        sa.Column("approved_by", sa.String(200)),
        sa.Column("written_by", sa.String(200)),
    )


def _upgrade_history(connection: Connection, history: sa.Table) -> None:
    """Create the history table, or bring an older one up to date inside the transaction:
    its ``run_id`` column becomes ``write_back_id`` and the provenance columns are added."""
    if history.name not in tables(connection):
        history.create(connection)
        return
    present = set(columns(connection, history.name))
    quote = connection.dialect.identifier_preparer.quote
    if "write_back_id" not in present and "run_id" in present:
        connection.exec_driver_sql(
            f"ALTER TABLE {quote(history.name)} RENAME COLUMN {quote('run_id')} TO {quote('write_back_id')}"
        )
    for column in history.columns:
        if column.name not in present | {"write_back_id"}:
            kind = column.type.compile(dialect=connection.dialect)
            connection.exec_driver_sql(
                f"ALTER TABLE {quote(history.name)} ADD COLUMN {quote(column.name)} {kind}"
            )


def new_write_back_id(values: pd.Series) -> str:
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
    after = values.astype(object).where(values.notna(), "(empty)")
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
    provenance: Provenance = Provenance(),
    write_back_id: str | None = None,
    fail_after: int | None = None,
) -> WriteBackReport:
    """Write ``assignments`` (entity id column ``key``, ``final_cluster``, ``segment_name``), and
    give the target table's other rows the ``uncovered`` treatment of ``config``.
    ``fail_after`` (tests only): when set, fail after the one UPDATE and before the commit;
    its value is not a row count any more, the update being a single statement."""
    ids = assignments[key].astype(str)
    segment = _as_text(assignments["final_cluster"]).set_axis(ids)
    label = _as_text(assignments["segment_name"]).set_axis(ids)
    values = label if config.value == "label" else segment
    table = _target(engine, config, config.key_column or key)
    write_back_id = write_back_id or new_write_back_id(values)
    with engine.begin() as connection:
        current, native = _current(connection, table, config.key_column or key, config.column)
        unknown = values.index.difference(current.index)
        if len(unknown):
            raise UserInputError(
                f"{len(unknown)} entities are not in table '{config.table}' (e.g. {', '.join(unknown[:5])}): "
                f"add them there first, or write back to another table."
            )
        uncovered = current.index.difference(values.index)
        outside = None if config.uncovered == "clear" else config.uncovered_label
        if config.uncovered != "keep":
            values, segment, label = (
                _extended(values, uncovered, outside),
                _extended(segment, uncovered, None),
                _extended(label, uncovered, outside),
            )
        report = WriteBackReport(
            write_back_id,
            plan_changes(current, values),
            len(values),
            written=not dry_run,
            table=config.table,
            column=config.column,
            uncovered=len(uncovered),
            uncovered_value=outside,
            uncovered_kept=config.uncovered == "keep",
        )
        if dry_run:
            connection.rollback()
            return report
        history = history_table(config.history_table)
        _upgrade_history(connection, history)
        bulk_insert(connection, history, _history_rows(write_back_id, segment, label, provenance))
        _update(connection, table, config, config.key_column or key, values, native, fail_after)
        ensure_index(connection, config.table, config.column)
    return report


def _extended(values: pd.Series, entities: pd.Index, value: str | None) -> pd.Series:
    """``values`` with ``value`` for each of ``entities`` (the rows the run does not cover)."""
    if not len(entities):
        return values
    return pd.concat([values, pd.Series(value, index=entities, dtype=object)])


def _history_rows(
    write_back_id: str, segment: pd.Series, label: pd.Series, provenance: Provenance
) -> pd.DataFrame:
    """One history row per entity written, with where its label came from."""
    return pd.DataFrame(
        {
            "write_back_id": write_back_id,
            "entity_id": segment.index.to_numpy(),
            "segment": segment.to_numpy(dtype=object),
            "label": label.to_numpy(dtype=object),
            "written_at": datetime.now(UTC).replace(tzinfo=None),
            "tracked_run_id": provenance.tracked_run_id,
            "approved_by": provenance.approved_by,
            "written_by": provenance.written_by,
        }
    )


def _as_text(values: pd.Series) -> pd.Series:
    """Values as text, a missing one staying missing (written as NULL, never 'None')."""
    return values.astype(object).map(lambda v: None if v is None or pd.isna(v) else str(v))


def bulk_insert(connection: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """Insert a frame's rows (columns named as the table's) inside the open transaction:
    PostgreSQL's COPY, DuckDB's columnar insert from the frame, executemany elsewhere. A
    missing value is NULL whatever the column's dtype (pandas' text columns hold NaN)."""
    frame = frame.astype(object).where(frame.notna(), None)
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


WRITE_BACK_COLUMNS = ["write_back_id", "rows", "written_at", "tracked_run_id", "approved_by", "written_by"]


def runs(engine: Engine, config: WriteBackConfig) -> pd.DataFrame:
    """Earlier write-backs, newest first: write-back ID, rows, when, and where the labels
    came from (tracked run ID, approver, writer; empty for a history written before these
    were recorded)."""
    if config.history_table not in tables(engine):
        return pd.DataFrame(columns=WRITE_BACK_COLUMNS)
    table = table_ref(engine, config.history_table)
    present = set(table.c.keys())
    written = table.c.write_back_id if "write_back_id" in present else table.c.run_id
    extra = [
        sa.func.max(table.c[name]).label(name) if name in present else sa.null().label(name)
        for name in ("tracked_run_id", "approved_by", "written_by")
    ]
    query = (
        sa.select(
            written.label("write_back_id"),
            sa.func.count().label("rows"),
            sa.func.max(table.c.written_at).label("written_at"),
            *extra,
        )
        .group_by(written)
        .order_by(sa.func.max(table.c.written_at).desc(), written.desc())
    )
    with engine.connect() as connection:
        return pd.read_sql(query, connection)


def restore(
    engine: Engine,
    config: WriteBackConfig,
    key: str,
    write_back_id: str,
    *,
    dry_run: bool = False,
    written_by: str | None = None,
) -> WriteBackReport:
    """Write an earlier write-back's values again, row for row (recorded as a new write-back
    'restore-of-<id>' with the same tracked run and approver). Rows it did not write keep
    their value."""
    history = runs(engine, config)
    known = history["write_back_id"].astype(str)
    if write_back_id not in set(known):
        raise UserInputError(
            f"Write-back '{write_back_id}' is not in the history ('{config.history_table}'). "
            f"Recent write-backs: {', '.join(known.head(5)) or 'none'}."
        )
    table = table_ref(engine, config.history_table)
    written = table.c.write_back_id if "write_back_id" in table.c else table.c.run_id
    query = sa.select(table.c.entity_id, table.c.segment, table.c.label).where(written == write_back_id)
    with engine.connect() as connection:
        rows = pd.read_sql(query, connection)
    assignments = pd.DataFrame(
        {key: rows["entity_id"], "final_cluster": rows["segment"], "segment_name": rows["label"]}
    )
    earlier = history.set_index("write_back_id").loc[write_back_id]
    provenance = Provenance(_text(earlier["tracked_run_id"]), _text(earlier["approved_by"]), written_by)
    return write_back(
        engine,
        assignments,
        config.model_copy(update={"uncovered": "keep"}),
        key,
        dry_run=dry_run,
        provenance=provenance,
        write_back_id=f"restore-of-{write_back_id}"[:64],
    )


def _text(value: object) -> str | None:
    return None if value is None or pd.isna(value) else str(value)
