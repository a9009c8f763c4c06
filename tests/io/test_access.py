"""What a browser session can reach: every refusal of the database policy and of the SQL
guard, on real databases. Each test fails if the hole it names reopens."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from clustering.errors import UserInputError
from clustering.io.access import DatabaseAccess, database_access
from clustering.io.database import connect
from clustering.io.dbread import run_select
from clustering.io.dbwrite import write_frame
from clustering.io.hosting import is_loopback, team_mode
from clustering.io.sqlguard import check_select

SECRET_FILE_TEXT = "top secret line"


@pytest.fixture
def server_file(tmp_path):
    """A file on the server that no query may read."""
    path = tmp_path / "private.csv"
    path.write_text(f"secret\n{SECRET_FILE_TEXT}\n", encoding="utf-8")
    return path


FILE_READS = [
    "SELECT * FROM read_csv_auto('{path}')",
    "SELECT * FROM read_csv('{path}')",
    "SELECT * FROM read_text('{path}')",
    "SELECT * FROM read_blob('{path}')",
    "SELECT * FROM read_parquet('{path}')",
    "SELECT * FROM read_json_auto('{path}')",
    "SELECT * FROM glob('{folder}/*')",
    "SELECT * FROM sniff_csv('{path}')",
    "SELECT * FROM '{path}'",
    'SELECT * FROM "{path}"',
    "SELECT * FROM query_table('x')",
    "SELECT pg_read_file('{path}')",
    "SELECT pg_read_binary_file('{path}')",
    "SELECT * FROM pg_ls_dir('/')",
    "SELECT lo_import('{path}')",
    "SELECT * FROM dblink('host=127.0.0.1', 'SELECT 1') AS t(a int)",
    "SELECT load_extension('/tmp/evil.so')",
    "SELECT readfile('{path}')",
    "SELECT writefile('{folder}/new.txt', 'x')",
    "WITH t AS (SELECT * FROM read_csv_auto('{path}')) SELECT * FROM t",
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM read_text('{path}'))",
]
STATEMENTS = [
    "COPY t FROM PROGRAM 'id'",
    "COPY t TO '{folder}/out.csv'",
    "ATTACH '{folder}/other.db' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA query_only = OFF",
    "SET enable_external_access = true",
]


@pytest.mark.parametrize("dialect", ["duckdb", "postgresql", "sqlite"])
@pytest.mark.parametrize("query", FILE_READS + STATEMENTS)
def test_the_select_guard_refuses_file_and_server_access_on_every_dialect(query, dialect, server_file):
    sql = query.format(path=server_file, folder=server_file.parent)
    with pytest.raises(UserInputError) as refused:
        check_select(sql, dialect)
    message = str(refused.value)
    assert SECRET_FILE_TEXT not in message
    assert any(word in message for word in ("files", "file", "Only a SELECT", "cannot be parsed", "writes"))


def test_a_plain_select_still_runs():
    assert check_select("SELECT region, count(*) FROM dim_store GROUP BY region", "duckdb")
    assert check_select("SELECT * FROM schema1.store_internal", "postgres")


def test_duckdb_reads_no_file_even_past_the_guard(server_file):
    engine = connect("duckdb:///:memory:")
    with engine.connect() as connection, pytest.raises(sa.exc.DBAPIError, match="disabled by configuration"):
        connection.execute(sa.text(f"SELECT * FROM read_csv_auto('{server_file}')")).all()
    with engine.connect() as connection, pytest.raises(sa.exc.DBAPIError, match="locked"):
        connection.execute(sa.text("SET enable_external_access = true"))


def test_duckdb_in_memory_through_run_select_is_refused(server_file):
    engine = connect("duckdb:///:memory:")
    with pytest.raises(UserInputError, match="read_csv_auto"):
        run_select(engine, f"SELECT * FROM read_csv_auto('{server_file}')")


def test_a_duckdb_warehouse_still_loads_frames_and_runs_selects(tmp_path):
    engine = connect(f"duckdb:///{tmp_path / 'w.duckdb'}", create=True)
    write_frame(engine, "stores", pd.DataFrame({"store_id": ["S1", "S2"], "sales": [1.0, 2.0]}))
    assert run_select(engine, "SELECT * FROM stores")["store_id"].tolist() == ["S1", "S2"]


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
def test_connecting_never_creates_a_database_file(tmp_path, kind):
    path = tmp_path / f"nothing_here.{kind}"
    with pytest.raises(UserInputError, match="does not exist"):
        connect(f"{kind}:///{path}")
    assert not path.exists()


def test_sqlite_refuses_attach_and_file_functions_past_the_guard(tmp_path):
    path = tmp_path / "w.db"
    connect(f"sqlite:///{path}", create=True).dispose()
    engine = connect(f"sqlite:///{path}")
    with engine.connect() as connection:
        with pytest.raises(sa.exc.DatabaseError, match="not authorized"):
            connection.exec_driver_sql(f"ATTACH '{tmp_path / 'other.db'}' AS other")
        with pytest.raises(sa.exc.DatabaseError, match="not authorized"):
            connection.exec_driver_sql("SELECT load_extension('x')")
    assert not (tmp_path / "other.db").exists()


def test_only_configured_connections_are_offered_and_typing_is_opt_in(tmp_path):
    secrets = {
        "connections": {"warehouse": {"url": "postgresql+psycopg://u:p@db/retail"}, "broken": {}},
        "clustering": {"allow_typed_database_urls": True},
    }
    access = database_access(False, secrets, {"CLUSTERING_DB_URL": "sqlite:///demo.db"})
    assert access.connections == {
        "default": "sqlite:///demo.db",
        "warehouse": "postgresql+psycopg://u:p@db/retail",
    }
    assert access.allow_typed
    with pytest.raises(UserInputError, match="No database connection named 'other'"):
        access.url_of("other")
    assert not database_access(False, {}, {}).allow_typed  # off unless the server opts in
    assert not database_access(
        True, secrets, {"CLUSTERING_ALLOW_TYPED_DB_URLS": "1"}
    ).allow_typed  # team mode


def test_a_typed_url_is_refused_unless_allowed():
    with pytest.raises(UserInputError, match="turned off on this server"):
        DatabaseAccess().check_typed("postgresql+psycopg://u@host/db")


def test_typed_database_files_stay_inside_the_allowed_folder(tmp_path):
    folder = tmp_path / "allowed"
    folder.mkdir()
    (folder / "stores.db").write_bytes(b"")
    mlflow_store = tmp_path / "mlruns.db"
    mlflow_store.write_bytes(b"")
    access = DatabaseAccess(allow_typed=True, folder=folder)
    assert access.check_typed(f"sqlite:///{folder / 'stores.db'}")
    for outside in (mlflow_store, folder / ".." / "mlruns.db", "/etc/passwd"):
        with pytest.raises(UserInputError, match="outside the server's database folder"):
            access.check_typed(f"sqlite:///{outside}")
    with pytest.raises(UserInputError, match="does not exist"):
        access.check_typed(f"duckdb:///{folder / 'new.duckdb'}")
    assert not (folder / "new.duckdb").exists()
    with pytest.raises(UserInputError, match="none is set"):
        DatabaseAccess(allow_typed=True).check_typed(f"sqlite:///{folder / 'stores.db'}")
    with pytest.raises(UserInputError, match="not supported"):
        access.check_typed("mssql+pyodbc://u@host/db")


def test_symlinks_out_of_the_folder_are_refused(tmp_path):
    folder = tmp_path / "allowed"
    folder.mkdir()
    outside = tmp_path / "mlruns.db"
    outside.write_bytes(b"")
    (folder / "link.db").symlink_to(outside)
    with pytest.raises(UserInputError, match="outside"):
        DatabaseAccess(allow_typed=True, folder=folder).check_typed(f"sqlite:///{folder / 'link.db'}")


@pytest.mark.parametrize(
    ("host", "local"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.2", True), ("0.0.0.0", False),
     ("", False), (None, False), ("10.1.2.3", False), ("example.com", False)],
)  # fmt: skip
def test_only_loopback_addresses_are_local(host, local):
    assert is_loopback(host) is local
    assert team_mode(host, {}) is not local


def test_team_mode_can_be_forced_behind_a_proxy():
    assert team_mode("127.0.0.1", {"CLUSTERING_TEAM_MODE": "1"})


# SQL held in a string, the server's administration and state, its catalogs (locked server).
SERVER_REACHES = [
    "SELECT query_to_xml('select pg_read_file(''/etc/hostname'')', true, false, '')",
    "SELECT query_to_xml_and_xmlschema('select 1', true, false, '')",
    "SELECT cursor_to_xml('c', 1, true, false, '')",
    "SELECT database_to_xml(true, false, '')",
    "SELECT pg_catalog.query_to_xml('select 1', true, false, '')",
    "SELECT pg_reload_conf()",
    "SELECT pg_switch_wal()",
    "SELECT pg_terminate_backend(1)",
    'SELECT "pg_cancel_backend"(1)',
    "SELECT * FROM pg_shadow",
    "SELECT usename, query FROM pg_catalog.pg_stat_activity",
    "SELECT * FROM information_schema.tables",
    "SELECT 1 WHERE 1 = (SELECT count(*) FROM pg_roles)",
    "SELECT enable_logging()",
    "SELECT * FROM duckdb_logs()",
    "SELECT * FROM duckdb_settings()",
    "SELECT json_execute_serialized_sql('{}')",
    "SELECT checkpoint()",
]


@pytest.mark.parametrize("dialect", ["duckdb", "postgresql", "sqlite"])
@pytest.mark.parametrize("query", SERVER_REACHES)
def test_the_select_guard_refuses_sql_in_strings_and_the_servers_own_state(query, dialect):
    with pytest.raises(UserInputError) as refused:
        check_select(query, dialect)
    message = str(refused.value)
    assert "acts on the database server itself" in message or "a system catalog" in message, message


def test_an_unterminated_comment_is_a_clear_error():
    with pytest.raises(
        UserInputError, match=r"^The query cannot be parsed \(.*\): check its quotes and comments"
    ):
        check_select("SELECT 1 /* /* */", "postgresql")


def test_a_duckdb_urls_options_cannot_loosen_the_locks(server_file):
    engine = connect("duckdb:///:memory:?enable_external_access=true&lock_configuration=false")
    with engine.connect() as connection:
        settings = connection.execute(
            sa.text("SELECT current_setting('enable_external_access'), current_setting('lock_configuration')")
        ).one()
        assert tuple(settings) == (False, True)
        with pytest.raises(sa.exc.DBAPIError, match="disabled by configuration"):
            connection.execute(sa.text(f"SELECT * FROM read_text('{server_file}')")).all()


def test_query_to_xml_never_reaches_a_real_postgresql(postgres_url):
    engine = connect(postgres_url)
    with pytest.raises(UserInputError, match="query_to_xml"):
        run_select(engine, "SELECT query_to_xml('select pg_read_file(''/etc/hostname'')', true, false, '')")
    engine.dispose()


def test_a_team_server_refuses_a_connection_that_could_read_the_servers_files(postgres_url):
    from sqlalchemy.engine import make_url

    from clustering.io.access import refuse_privileged_role

    admin = connect(postgres_url)  # the throwaway server's own superuser
    with pytest.raises(
        UserInputError, match=r"logs in as 'postgres', a superuser.*: a team's server refuses it"
    ):
        refuse_privileged_role(admin)
    with admin.begin() as connection:
        connection.execute(sa.text("DROP ROLE IF EXISTS analyst_ro"))
        connection.execute(sa.text("CREATE ROLE analyst_ro LOGIN"))
    analyst = connect(make_url(postgres_url).set(username="analyst_ro").render_as_string(hide_password=False))
    refuse_privileged_role(analyst)  # a plain role passes
    with admin.begin() as connection:
        connection.execute(sa.text("GRANT pg_read_server_files TO analyst_ro"))
    with pytest.raises(UserInputError, match="a member of pg_read_server_files"):
        refuse_privileged_role(analyst)
    analyst.dispose()
    with admin.begin() as connection:
        connection.execute(sa.text("DROP ROLE analyst_ro"))
    admin.dispose()
