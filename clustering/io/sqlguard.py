"""The check of a typed query, beside the access rules (``io.access``): it must be one
read-only SELECT (parsed with sqlglot) that calls no function reading or writing the server's
files or reaching other servers (DuckDB's ``read_*``/``glob``, PostgreSQL's
``pg_read_file``/``lo_import``/``dblink``, SQLite's ``load_extension``/``readfile``...), runs
no SQL held in a string (``query_to_xml``) and names no file or system catalog as a table.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp

from clustering.errors import UserInputError
from clustering.io.database import DIALECTS

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
