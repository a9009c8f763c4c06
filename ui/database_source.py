"""The Data page's database source: connect, browse, preview a SELECT, load tables."""

from __future__ import annotations

import streamlit as st

from clustering.io.access import refuse_privileged_role
from clustering.io.database import connect, masked
from clustering.io.dbread import columns, run_select, schemas, tables
from clustering.io.inputs import database_sheets
from ui.access import serving_team, session_database_access
from ui.loading import MODES, NONE, ROLES, database_config, guess_id_column
from ui.memory import TTL_SECONDS
from ui.numbers import table
from ui.state import Workspace, load_checked
from ui.widgets import attempt

ROLE_DEFAULTS = {
    "internal": "store_internal",
    "external": "store_external",
    "sales_monthly": "fact_sales_monthly",
    "dim_dfu": "dim_dfu",
    "dim_item": "dim_item",
}
TYPED = "(type a URL)"


@st.cache_resource(show_spinner=False, max_entries=4, ttl=TTL_SECONDS, on_release=lambda e: e.dispose())
def _engine(url: str, team: bool):
    engine = connect(url)
    if team:
        refuse_privileged_role(engine)
    return engine


def open_database(url: str):
    """The engine of a connection this session may use. On a team's server a connection whose
    role could read or write the server's files is refused, with the reason for the
    administrator (checked when it is first used, then kept with the engine)."""
    return _engine(url, serving_team())


def chosen_url() -> str | None:
    """The URL of the connection the analyst picked (or typed, where the server allows it)."""
    access = session_database_access()
    options = [*access.connections, *([TYPED] if access.allow_typed else [])]
    if not options:
        st.info(
            "No database is configured on this server: the administrator sets $CLUSTERING_DB_URL or "
            "[connections.<name>] url in .streamlit/secrets.toml."
        )
        return None
    picked = st.selectbox("Connection", options, key="db_connection")
    if picked != TYPED:
        return access.url_of(str(picked))
    typed = st.text_input(
        "SQLAlchemy URL",
        type="password",
        key="db_url",
        placeholder="postgresql+psycopg://user@host/db · a database file in the server's database folder",
        help="The password is never shown. Database files open only from the server's database folder.",
    )
    return attempt(lambda: access.check_typed(typed)) if typed else None


def database_source(ws: Workspace) -> None:
    """Pick a connection, browse it, preview a SELECT, and load the chosen tables."""
    url = chosen_url()
    if not url:
        return
    st.caption(f"Database: {masked(url)}")
    engine = attempt(lambda: open_database(url), spinner="Connecting…")
    if engine is None:
        return
    names = attempt(lambda: tables(engine)) or []
    _browse(engine, len(names))
    _preview(ws, engine)
    _load(ws, engine, url, names)


def _browse(engine, count: int) -> None:
    with st.expander(f"Browse: {count} tables"):
        available = attempt(lambda: schemas(engine)) or []
        schema = st.selectbox(
            "Schema", [None, *available], format_func=lambda s: s or "(default)", key="db_schema"
        )
        listed = attempt(lambda: tables(engine, schema)) or []
        picked = st.selectbox("Table", listed, key="db_browse") if listed else None
        if picked:
            st.dataframe({"column": columns(engine, picked, schema)}, hide_index=True)


def _preview(ws: Workspace, engine) -> None:
    limits = ws.config.database
    with st.expander("Preview a SELECT"):
        sql = st.text_area(
            "One read-only SELECT", key="db_sql", placeholder="SELECT * FROM dim_dfu WHERE region = 'North'"
        )
        if st.button("Preview", key="db_preview") and sql:
            preview = attempt(
                lambda: run_select(engine, sql, limits.preview_rows, limits.statement_timeout_seconds)
            )
            if preview is not None:
                st.caption(f"First {len(preview):,} rows (preview limit {limits.preview_rows:,}).")
                table(preview)


def _source_query(ws: Workspace, engine, mode: str) -> tuple[str, dict | None]:
    """The analyst's SELECT for a table of entities ('' when reading tables), and its tables
    and columns (None while the query is missing or refused)."""
    if (
        mode != "table"
        or st.radio("Read from", ["a table", "a SELECT"], horizontal=True, key="db_from") != "a SELECT"
    ):
        return "", {}
    query = st.text_area("One read-only SELECT for the table of entities", key="db_source_sql")
    if not query.strip():
        return query, None
    sample = attempt(lambda: run_select(engine, query, 1, ws.config.database.statement_timeout_seconds))
    if sample is None:
        return query, None
    return query, {
        "chosen": {"entities": "(query)"},
        "columns": {"entities": list(sample.columns)},
        "picked": {},
    }


def _load(ws: Workspace, engine, url: str, names: list[str]) -> None:
    mode = st.selectbox("What do you segment?", list(MODES), format_func=MODES.get, key="db_mode")
    query, from_query = _source_query(ws, engine, mode)
    if from_query is None:
        return
    if query:
        chosen, table_columns, picked_columns = (
            from_query["chosen"],
            from_query["columns"],
            from_query["picked"],
        )
    else:
        chosen, table_columns, picked_columns = _tables_and_columns(engine, mode, names)
    if not chosen:
        return
    main = [r for r in chosen if ROLES[mode][r]]
    shared = [c for c in table_columns[main[0]] if all(c in table_columns[r] for r in main)]
    preferred = {"store": "store_id", "dfu": "dfu_id"}.get(mode, "id")
    id_column = st.selectbox(
        "ID column", shared, index=guess_id_column(shared, preferred), key=f"db_id_{mode}"
    )
    pushdown = st.toggle(
        "Compute DFU features inside the database", True, key="db_pushdown", disabled=mode != "dfu"
    )
    if not st.button("Load from the database", type="primary", key="db_load"):
        return

    def load() -> None:
        config = database_config(mode, str(id_column), chosen, pushdown, table_columns)
        config.database.columns = {
            r: [id_column, *[c for c in cs if c != id_column]] for r, cs in picked_columns.items() if cs
        }
        if query:
            config.database.tables, config.database.queries = {}, {"entities": query}
        sheets = database_sheets(engine, config)
        sources = {role: f"{masked(url)} › {table}" for role, table in chosen.items()}
        load_checked(ws, sheets, sources, "store" if mode == "store" else mode, config)
        ws.database_url = url

    attempt(load, spinner="Reading from the database…")


def _tables_and_columns(
    engine, mode: str, names: list[str]
) -> tuple[dict[str, str], dict[str, list[str]], dict[str, list[str]]]:
    """Per role: the table picked, its columns, and the columns to read (empty: all)."""
    chosen: dict[str, str] = {}
    cols = st.columns(len(ROLES[mode]))
    for i, (role, required) in enumerate(ROLES[mode].items()):
        pool = names if required else [NONE, *names]
        default = ROLE_DEFAULTS.get(role)
        index = pool.index(default) if default in pool else 0
        picked = cols[i].selectbox(f"{role} table", pool, index=index, key=f"db_role_{mode}_{role}")
        if picked and picked != NONE:
            chosen[role] = picked
    table_columns = {role: columns(engine, table) for role, table in chosen.items()}
    picked_columns = {}
    if mode != "dfu":  # DFU sales tables are read by the push-down query, whole
        for role, available in table_columns.items():
            picked_columns[role] = st.multiselect(
                f"{role}: columns to read (empty: all)", available, key=f"db_cols_{mode}_{role}"
            )
    return chosen, table_columns, picked_columns
