"""Which databases a browser session may open: the server's configuration decides.

The administrator names the connections a session may use; the analyst picks one by name
and never sees its URL (only the URL with its password masked). The named connections are
``$CLUSTERING_DB_URL`` (called ``default``) and every ``[connections.<name>] url`` of
``.streamlit/secrets.toml``. Typing any other URL is an opt-in setting
(``[clustering] allow_typed_database_urls = true`` in secrets.toml, or
``$CLUSTERING_ALLOW_TYPED_DB_URLS=1``) and is always off in team mode. A typed SQLite or
DuckDB URL must name an existing file inside the allowed folder
(``[clustering] database_folder`` or ``$CLUSTERING_DATABASE_FOLDER``); with no folder set,
typed file databases are refused. ``connect`` adds the rules that hold whatever the URL
(DuckDB without external access, no file created on connect).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from clustering.errors import UserInputError
from clustering.io.database import DIALECTS, URL_VARIABLE, database_file, masked
from clustering.io.hosting import read_secrets, truthy

TYPED_VARIABLE = "CLUSTERING_ALLOW_TYPED_DB_URLS"
FOLDER_VARIABLE = "CLUSTERING_DATABASE_FOLDER"
DEFAULT_CONNECTION = "default"


@dataclass(frozen=True)
class DatabaseAccess:
    """The connections a session may open, and whether it may type a URL of its own."""

    connections: dict[str, str] = field(default_factory=dict)
    allow_typed: bool = False
    folder: Path | None = None

    def url_of(self, name: str) -> str:
        """The URL of a named connection (the name comes from the browser: checked here)."""
        if name not in self.connections:
            known = ", ".join(self.connections) or "none configured"
            raise UserInputError(f"No database connection named '{name}'. Connections: {known}.")
        return self.connections[name]

    def check_typed(self, url: str) -> str:
        """A URL typed in the browser, if the server allows it; else a message saying why not."""
        if not self.allow_typed:
            raise UserInputError(
                "Typing a database URL is turned off on this server: pick one of the configured "
                "connections, or ask the administrator to add yours."
            )
        try:
            parsed = make_url(url)
        except sa.exc.ArgumentError:
            raise UserInputError(
                f"'{masked(url)}' is not a database URL, e.g. postgresql+psycopg://user@host/db."
            ) from None
        backend = parsed.get_backend_name()
        if backend not in DIALECTS:
            raise UserInputError(
                f"Databases of kind '{backend}' are not supported here; use one of {', '.join(DIALECTS)}."
            )
        path = database_file(parsed)
        if path is not None:
            self._check_inside_folder(path)
        return url

    def _check_inside_folder(self, path: Path) -> None:
        if self.folder is None:
            raise UserInputError(
                f"Database files ('{path.name}') can only be opened from the server's database folder, "
                "and none is set: ask the administrator to set [clustering] database_folder."
            )
        resolved = path.expanduser().resolve()
        if not resolved.is_relative_to(self.folder.resolve()):
            raise UserInputError(
                f"'{path}' is outside the server's database folder: only files inside it can be opened."
            )
        if not resolved.is_file():
            raise UserInputError(
                f"Database file '{path.name}' does not exist in the server's database folder."
            )


# Roles that reach the server's files or programs; a superuser is a member of every role.
PRIVILEGED_ROLES = ("pg_read_server_files", "pg_write_server_files", "pg_execute_server_program")


def refuse_privileged_role(engine: sa.Engine) -> None:
    """On a team's server, a PostgreSQL connection must not log in as a superuser or as a
    member of a role that reads, writes or runs the server's files: whatever the SQL guard
    misses, such a role would let an analyst's query reach the database server itself."""
    if engine.dialect.name != "postgresql":
        return
    members = ", ".join(f"pg_has_role(current_user, '{role}', 'MEMBER')" for role in PRIVILEGED_ROLES)
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(f"SELECT current_user, rolsuper, {members} FROM pg_roles WHERE rolname = current_user")
        ).one()
    user, superuser, *memberships = row
    reasons = ["a superuser"] if superuser else []
    reasons += [
        f"a member of {role}" for role, member in zip(PRIVILEGED_ROLES, memberships, strict=True) if member
    ]
    if reasons:
        raise UserInputError(
            f"This connection logs in as '{user}', {' and '.join(reasons[:2])}: a team's server refuses it. "
            "Administrator: give the connection a role that can only read the analysis tables (docs/deploying.md)."
        )


def database_access(
    team_mode: bool,
    secrets: Mapping | None = None,
    environ: Mapping[str, str] = os.environ,
) -> DatabaseAccess:
    """The server's database policy, from its environment and secrets.toml."""
    secrets = read_secrets() if secrets is None else secrets
    connections: dict[str, str] = {}
    if environ.get(URL_VARIABLE):
        connections[DEFAULT_CONNECTION] = environ[URL_VARIABLE]
    for name, settings in (secrets.get("connections") or {}).items():
        if isinstance(settings, Mapping) and settings.get("url"):
            connections.setdefault(str(name), str(settings["url"]))
    options = secrets.get("clustering") or {}
    typed = truthy(environ.get(TYPED_VARIABLE, options.get("allow_typed_database_urls", False)))
    folder = environ.get(FOLDER_VARIABLE) or options.get("database_folder")
    return DatabaseAccess(connections, typed and not team_mode, Path(folder) if folder else None)
