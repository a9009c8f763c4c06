"""Connecting to a database through SQLAlchemy, safely whatever the URL: DuckDB opens with
external access disabled and its configuration locked, SQLite refuses ``ATTACH`` and
extension loading, and neither creates a database file on connect unless asked
(``create=True``: the demo warehouse). Passwords never appear in messages: URLs are shown
with the password masked (``masked``). Reading is ``io.dbread``, writing ``io.dbwrite``, the
check of a typed query ``io.sqlguard``, which databases a session may open ``io.access``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

from clustering.errors import UserInputError
from clustering.io.hosting import SECRETS, read_secrets

URL_VARIABLE = "CLUSTERING_DB_URL"
DUCKDB_URL_OPTIONS = frozenset({"access_mode", "threads", "memory_limit"})  # none loosens the locks
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
