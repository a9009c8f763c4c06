"""Databases through SQLAlchemy: connect, browse, read safely, and write demo warehouses.

Safety rules: table and column names are only ever taken from what the database itself
lists (so a name can't smuggle SQL in), filter values are bound parameters, and a typed
query must be one read-only SELECT (checked by parsing it with sqlglot) that calls no
function reading or writing the server's files or reaching other servers (DuckDB's
``read_*``/``glob``, PostgreSQL's ``pg_read_file``/``lo_import``/``dblink``, SQLite's
``load_extension``/``readfile``...) and names no file as a table; it then runs in a
read-only transaction where the dialect has one (PostgreSQL, SQLite), with a statement
timeout, fetching at most the preview row limit. Whatever the URL, DuckDB opens with
external access disabled and its configuration locked, SQLite refuses ``ATTACH`` and
extension loading, and neither creates a database file on connect unless asked
(``create=True``: the demo warehouse). Passwords never appear in messages: URLs are shown
with the password masked.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import sqlalchemy as sa
import sqlglot
from sqlalchemy.engine import Connection, Engine, make_url
from sqlglot import exp

from clustering.errors import UserInputError
from clustering.io.hosting import SECRETS, read_secrets

URL_VARIABLE = "CLUSTERING_DB_URL"
DUCKDB_URL_OPTIONS = frozenset({"access_mode", "threads", "memory_limit"})  # none loosens the locks
FILTER_OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "like")
WRITES = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.TruncateTable,
)
# Functions that read or write the server's files, run programs or reach other servers; a
# name is refused when it is listed or starts with one of the prefixes (any dialect: a
# DuckDB name is refused on PostgreSQL too, which costs nothing).
FILE_FUNCTIONS = frozenset(
    {
        "glob",
        "query_table",
        "query",
        "sniff_csv",
        "getvariable",
        "lo_import",
        "lo_export",
        "lo_get",
        "lo_from_bytea",
        "load_extension",
        "readfile",
        "writefile",
        "edit",
        "fsdir",
        "current_setting",
        "set_config",
        "pg_file_write",
        "pg_logdir_ls",
        "copy_from",
        "postgres_scan",
        "sqlite_scan",
        "mysql_scan",
        "iceberg_scan",
        "delta_scan",
    }
)
FILE_FUNCTION_PREFIXES = (
    "read_",
    "parquet_",
    "pg_read",
    "pg_ls",
    "pg_stat_file",
    "dblink",
    "lo_",
    "iceberg_",
)
# Functions that run SQL held in a string (so the guard never sees it), administer the server
# or change its state: PostgreSQL's query_to_xml family and every pg_* function (reload,
# WAL, backends, advisory locks...), DuckDB's logging, profiling, checkpoints and its
# duckdb_* catalog of settings, secrets and logs.
SERVER_FUNCTIONS = frozenset(
    {
        "json_execute_serialized_sql",
        "enable_logging",
        "disable_logging",
        "truncate_duckdb_logs",
        "enable_profiling",
        "disable_profiling",
        "checkpoint",
        "force_checkpoint",
    }
)
SERVER_FUNCTION_PREFIXES = ("pg_", "duckdb_", "pragma_", "txid_", "gp_")
SQL_IN_A_STRING = re.compile(r"_to_xml")  # query_to_xml, cursor_to_xml, database_to_xml...
SYSTEM_TABLE_PREFIXES = ("pg_", "duckdb_", "sqlite_")  # catalogs: roles, sessions' queries, logs
SYSTEM_SCHEMAS = frozenset({"pg_catalog", "pg_toast", "information_schema"})
FILE_LIKE_TABLE = re.compile(
    r"[/\\:~]|\.(csv|tsv|txt|json|jsonl|ndjson|parquet|gz|zst|db|duckdb|sqlite|xlsx?)$", re.I
)
DIALECTS = {
    "postgresql": "postgres",
    "sqlite": "sqlite",
    "duckdb": "duckdb",
    "mysql": "mysql",
    "trino": "trino",
}


def masked(url: str | sa.URL) -> str:
    """The URL with its password hidden, for messages and the UI."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show nothing of it
        return "(unreadable database URL)"


def resolve_url(explicit: str | None = None, secrets: Path = SECRETS) -> str | None:
    """The database URL: given explicitly, else $CLUSTERING_DB_URL, else secrets.toml's
    ``[connections.sql] url``."""
    if explicit:
        return explicit
    if os.environ.get(URL_VARIABLE):
        return os.environ[URL_VARIABLE]
    return read_secrets(secrets).get("connections", {}).get("sql", {}).get("url")


def connect(url: str, *, create: bool = False) -> Engine:
    """An engine for ``url``, checked with a trivial query; failures name the masked URL.

    DuckDB opens with external access off and its configuration locked; SQLite refuses
    ATTACH and extension loading. A database file that does not exist is an error unless
    ``create`` (the demo warehouse): a typo never leaves an empty file behind.
    """
    try:
        engine = _engine_for(make_url(url), create)
        with engine.connect() as connection:
            connection.execute(sa.select(sa.literal(1)))
        return engine
    except sa.exc.ArgumentError:
        raise UserInputError(
            f"'{masked(url)}' is not a database URL, e.g. sqlite:///demo.db or postgresql+psycopg://user@host/db."
        ) from None
    except sa.exc.NoSuchModuleError:
        raise UserInputError(
            f"No driver for '{masked(url)}': install it (duckdb-engine, psycopg...)."
        ) from None
    except sa.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", error)).splitlines()[0]
        raise UserInputError(f"Cannot connect to {masked(url)}: {reason}") from None


def database_file(url: sa.URL) -> Path | None:
    """The file a SQLite or DuckDB URL opens (None: in memory, or a server database)."""
    if url.get_backend_name() not in ("sqlite", "duckdb"):
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith(":memory:"):
        return None
    return Path(database.removeprefix("file:").split("?")[0])


def _engine_for(url: sa.URL, create: bool) -> Engine:
    path = database_file(url)
    if path is not None and not create and not path.is_file():
        raise UserInputError(
            f"Database file '{path.name}' does not exist ({masked(url)}): check the path; nothing was created."
        )
    backend = url.get_backend_name()
    if backend == "duckdb":
        # duckdb_engine lets a URL's options override connect_args: only harmless ones are kept
        url = url.set(query={k: v for k, v in url.query.items() if k in DUCKDB_URL_OPTIONS})
        locked = {"enable_external_access": False, "lock_configuration": True}
        return sa.create_engine(url, connect_args={"config": locked})
    if backend == "sqlite" and path is not None and not create:
        # mode=rw opens an existing file and never creates one
        url = url.set(database=f"file:{quote(str(path))}?mode=rw", query={"uri": "true"})
    engine = sa.create_engine(url)
    if backend == "sqlite":
        _sqlite_rules(engine)
    return engine


SQLITE_REFUSED_FUNCTIONS = frozenset({"load_extension", "readfile", "writefile", "edit", "fsdir"})


def _sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    """Deny ATTACH/DETACH and file functions on every statement, whatever the SQL guard let by."""
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in SQLITE_REFUSED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _sqlite_rules(engine: Engine) -> None:
    """SQLite rolls back CREATE TABLE with the rest of a transaction (SQLAlchemy's recipe: the
    sqlite3 module would otherwise commit before DDL), and refuses ATTACH and file functions."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _: object) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.set_authorizer(_sqlite_authorizer)

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")


def schemas(engine: Engine) -> list[str]:
    return sorted(sa.inspect(engine).get_schema_names())


def tables(engine: Engine | Connection, schema: str | None = None) -> list[str]:
    inspector = sa.inspect(engine)
    return sorted(inspector.get_table_names(schema=schema) + inspector.get_view_names(schema=schema))


def _checked_table(engine: Engine | Connection, name: str, schema: str | None) -> sa.TableClause:
    known = tables(engine, schema)
    if name not in known:
        raise UserInputError(f"Table '{name}' does not exist. Tables: {', '.join(known) or 'none'}.")
    return sa.table(name, schema=schema)


def columns(engine: Engine | Connection, name: str, schema: str | None = None) -> list[str]:
    """Column names of a listed table, read from an empty result (works on every dialect);
    given a connection, inside its transaction."""
    table = _checked_table(engine, name, schema)
    empty = sa.select(sa.text("*")).select_from(table).where(sa.false())
    if isinstance(engine, Connection):
        return list(engine.execute(empty).keys())
    with engine.connect() as connection:
        return list(connection.execute(empty).keys())


def table_ref(engine: Engine | Connection, name: str, schema: str | None = None) -> sa.TableClause:
    """A table with its real columns, for building queries from known identifiers only."""
    return sa.table(name, *[sa.column(c) for c in columns(engine, name, schema)], schema=schema)


def _filter(table: sa.TableClause, column: str, operator: str, value: object) -> sa.ColumnElement:
    if column not in table.c:
        raise UserInputError(
            f"Column '{column}' is not in table '{table.name}'. Columns: {', '.join(table.c.keys())}."
        )
    if operator not in FILTER_OPERATORS:
        raise UserInputError(
            f"Filter operator '{operator}' is not allowed; use one of {', '.join(FILTER_OPERATORS)}."
        )
    target = table.c[column]
    if operator == "in":
        return target.in_(list(value) if isinstance(value, list | tuple | set) else [value])
    if operator == "like":
        return target.like(str(value))
    return target.op(operator)(sa.bindparam(None, value))


def read_table(
    engine: Engine,
    name: str,
    wanted: Sequence[str] | None = None,
    filters: Sequence[tuple[str, str, object]] = (),
    limit: int | None = None,
    schema: str | None = None,
    timeout: float = 60.0,
) -> pd.DataFrame:
    """Rows of a table: chosen columns, filters as (column, operator, value), optional limit."""
    table = table_ref(engine, name, schema)
    missing = [c for c in wanted or [] if c not in table.c]
    if missing:
        raise UserInputError(f"Table '{name}' has no column(s) {', '.join(missing)}.")
    query = sa.select(*(table.c[c] for c in wanted)) if wanted else sa.select(table)
    query = query.where(*[_filter(table, c, op, v) for c, op, v in filters])
    if limit is not None:
        query = query.limit(limit)
    with read_only(engine, timeout) as connection:
        frame = fetch_frame(connection, query)
    frame.attrs["source"] = f"table '{name}'"
    return frame


def fetch_frame(connection: Connection, query: sa.Select) -> pd.DataFrame:
    """A query's rows as a DataFrame: DuckDB's own columnar fetch on a DuckDB connection (3x
    faster than SQLAlchemy's row-by-row fetch at 300k rows x 39 columns), else pandas through
    SQLAlchemy. Parameters stay bound in both."""
    if connection.dialect.name != "duckdb":
        return pd.read_sql(query, connection)
    compiled = query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    parameters = [compiled.params[name] for name in compiled.positiontup or []]  # $1, $2... in order
    return connection.connection.driver_connection.execute(str(compiled), parameters).df()


def check_select(sql: str, dialect: str = "") -> str:
    """The SQL text if it is exactly one read-only SELECT; else a user error saying why."""
    if not sql.strip():
        raise UserInputError("The query is empty: write one SELECT statement.")
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECTS.get(dialect)) if s is not None]
    except sqlglot.errors.SqlglotError as error:  # a parse error, or text it cannot even split
        reason = str(error).splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserInputError(
            f"The query cannot be parsed ({reason}): check its quotes and comments, then try again."
        ) from None
    if len(statements) != 1:
        raise UserInputError(
            f"Only one statement may run; this text has {len(statements)}. Remove the extra ';' statements."
        )
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise UserInputError(f"Only a SELECT may run here, not {statement.key.upper()}.")
    if any(isinstance(node, WRITES) for node in statement.walk()):
        raise UserInputError(
            "The query writes to the database (INSERT, UPDATE, DELETE, DDL...): only reading is allowed."
        )
    if statement.find(exp.Into) is not None:
        raise UserInputError("SELECT ... INTO creates a table: only reading is allowed.")
    _refuse_file_access(statement)
    _refuse_server_access(statement)
    return sql.strip().rstrip(";")


def _function_name(node: exp.Func) -> str:
    return (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()


def _refuse_file_access(statement: exp.Expression) -> None:
    """Refuse functions that reach the server's files, programs or other servers, and files
    named as tables (DuckDB reads ``FROM 'data.csv'``), on every dialect."""
    for node in statement.find_all(exp.Func):
        name = _function_name(node)
        if name in FILE_FUNCTIONS or name.startswith(FILE_FUNCTION_PREFIXES):
            raise UserInputError(
                f"The query calls {name}(), which reads the server's files or other servers: "
                "query the database's own tables only."
            )
    for table in statement.find_all(exp.Table):
        if FILE_LIKE_TABLE.search(table.name):
            raise UserInputError(
                f"The query reads '{table.name}', which names a file, not a table: "
                "query the database's own tables only."
            )


def _refuse_server_access(statement: exp.Expression) -> None:
    """Refuse SQL held in a string (run where the guard cannot read it), the server's
    administration and state, and its system catalogs (other sessions' queries, roles,
    settings, logs): an analysis reads the database's own tables."""
    for node in statement.find_all(exp.Func):
        name = _function_name(node)
        if (
            SQL_IN_A_STRING.search(name)
            or name in SERVER_FUNCTIONS
            or name.startswith(SERVER_FUNCTION_PREFIXES)
        ):
            raise UserInputError(
                f"The query calls {name}(), which runs other SQL or acts on the database server itself: "
                "query the database's own tables only."
            )
    for table in statement.find_all(exp.Table):
        schema = (table.db or "").lower()
        if table.name.lower().startswith(SYSTEM_TABLE_PREFIXES) or schema in SYSTEM_SCHEMAS:
            raise UserInputError(
                f"The query reads {table.sql()}, a system catalog of the database server: "
                "query the database's own tables only."
            )


@contextmanager
def _timeout(connection: Connection, seconds: float) -> Iterator[None]:
    """Interrupt the running statement after ``seconds`` (PostgreSQL uses statement_timeout)."""
    driver = connection.connection.driver_connection
    driver = getattr(driver, "_ConnectionWrapper__c", driver)  # duckdb_engine wraps the connection
    interrupt = getattr(driver, "interrupt", None)
    timer = threading.Timer(seconds, interrupt) if interrupt is not None else None
    if timer is not None:
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()


@contextmanager
def read_only(engine: Engine, timeout: float = 60.0) -> Iterator[Connection]:
    """A connection in a read-only transaction where the dialect allows, with a timeout."""
    dialect = engine.dialect.name
    with engine.connect() as connection:
        if dialect == "postgresql":
            connection.execute(sa.text("SET TRANSACTION READ ONLY"))
            connection.execute(sa.text(f"SET LOCAL statement_timeout = {int(timeout * 1000)}"))
        elif dialect == "sqlite":
            connection.exec_driver_sql("PRAGMA query_only = ON")
        try:
            with _timeout(connection, timeout):
                yield connection
        except sa.exc.DBAPIError as error:
            text = str(getattr(error, "orig", error)).lower()
            if "interrupt" in text or "timeout" in text or "cancel" in text:
                raise UserInputError(
                    f"The query ran longer than {timeout:g} s and was stopped. Narrow it down."
                ) from None
            raise UserInputError(
                f"The database refused the query: {str(error.orig).splitlines()[0]}"
            ) from None
        finally:
            if dialect == "sqlite":
                connection.exec_driver_sql("PRAGMA query_only = OFF")
            connection.rollback()


def run_select(engine: Engine, sql: str, limit: int = 1000, timeout: float = 60.0) -> pd.DataFrame:
    """Run one read-only SELECT and return at most ``limit`` rows."""
    text = check_select(sql, engine.dialect.name)
    with read_only(engine, timeout) as connection:
        try:
            result = connection.execute(sa.text(text))
            rows = result.fetchmany(limit)
            frame = pd.DataFrame(rows, columns=list(result.keys()))
        except sa.exc.ProgrammingError as error:
            raise UserInputError(
                f"The database refused the query: {str(error.orig).splitlines()[0]}"
            ) from None
    frame.attrs["source"] = "SQL query"
    return frame


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
