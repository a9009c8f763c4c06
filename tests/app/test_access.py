"""Who may use the app: local without a login, a team's server only behind one; uploads and
database choices that would reach the server's files or environment are refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.app.conftest import button, errors, new_app, no_exceptions, workspace
from ui.serving import auth_problem, refusal

ROOT = Path(__file__).resolve().parents[2]
AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "a long random string",
    "client_id": "clustering-studio",
    "client_secret": "client secret",
    "server_metadata_url": "http://127.0.0.1:9400/.well-known/openid-configuration",
}


def test_the_login_settings_are_checked_key_by_key():
    assert auth_problem({}).startswith("no [auth] section")
    assert "has no cookie_secret" in auth_problem({"auth": {**AUTH, "cookie_secret": ""}})
    assert "names no provider" in auth_problem({"auth": {k: v for k, v in AUTH.items() if k != "client_id"}})
    provider = {k: AUTH[k] for k in ("client_id", "client_secret", "server_metadata_url")}
    named = {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": "x", "company": provider}
    assert auth_problem({"auth": named}) is None
    assert auth_problem({"auth": AUTH}) is None


def test_serving_beyond_this_machine_needs_the_login():
    assert refusal("127.0.0.1", {}, {}) is None
    reason = refusal("0.0.0.0", {}, {})
    assert reason.startswith("Refusing to serve 0.0.0.0 without a login: no [auth] section")
    assert refusal("0.0.0.0", {"auth": AUTH}, {}) is None
    assert refusal("127.0.0.1", {}, {"CLUSTERING_TEAM_MODE": "1"}).startswith("Refusing")


def test_the_launcher_refuses_to_start_in_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "ui.serving", "--address", "0.0.0.0", "--port", "1"],
        cwd=tmp_path,  # no .streamlit/secrets.toml here
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Refusing to serve 0.0.0.0 without a login")
    assert done.stdout == ""


def test_make_run_binds_to_this_machine_only():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    run_recipe = makefile.split("\nrun:")[1].split("\n\n")[0]
    assert "--address 127.0.0.1" in run_recipe
    config = (ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8")
    assert 'address = "127.0.0.1"' in config


def test_a_team_server_without_a_login_shows_nothing_but_the_refusal(monkeypatch):
    monkeypatch.setenv("CLUSTERING_TEAM_MODE", "1")
    monkeypatch.setenv("CLUSTERING_DEMO", "store")
    at = new_app().run()
    no_exceptions(at)
    assert [e.startswith("Refusing to serve 127.0.0.1 without a login") for e in errors(at)] == [True]
    assert "ws" not in at.session_state  # no workspace, no demo data: the page stopped first
    assert not at.dataframe and not at.button


def test_a_team_server_asks_for_the_login_before_any_page(monkeypatch):
    monkeypatch.setenv("CLUSTERING_TEAM_MODE", "1")
    at = new_app()
    at.secrets["auth"] = AUTH
    at.run()
    no_exceptions(at)
    assert [b.label for b in at.button] == ["Log in"]
    assert "ws" not in at.session_state
    assert any("log in with your company account" in m.value for m in at.markdown)


def test_typing_a_database_url_is_off_unless_the_server_allows_it(app, monkeypatch):
    monkeypatch.delenv("CLUSTERING_ALLOW_TYPED_DB_URLS", raising=False)
    monkeypatch.setenv("CLUSTERING_DB_URL", "sqlite:///demo.db")
    app.switch_page("pages/data.py").run()
    app.radio(key="data_source").set_value("Database").run()
    no_exceptions(app)
    assert app.selectbox(key="db_connection").options == ["default"]
    assert not [t for t in app.text_input if t.key == "db_url"]


def test_a_typed_file_database_outside_the_folder_is_refused_in_the_app(app, monkeypatch, tmp_path):
    mlflow_store = tmp_path / "mlruns.db"
    mlflow_store.write_bytes(b"")
    monkeypatch.delenv("CLUSTERING_DB_URL", raising=False)
    monkeypatch.setenv("CLUSTERING_ALLOW_TYPED_DB_URLS", "1")
    monkeypatch.setenv("CLUSTERING_DATABASE_FOLDER", str(tmp_path / "allowed"))
    app.switch_page("pages/data.py").run()
    app.radio(key="data_source").set_value("Database").run()
    app.selectbox(key="db_connection").set_value("(type a URL)").run()
    for url in (f"sqlite:///{mlflow_store}", "sqlite:////any/path/new.db"):
        app.text_input(key="db_url").set_value(url).run()
        no_exceptions(app)
        assert any("outside the server's database folder" in e for e in errors(app))
    assert not Path("/any/path/new.db").exists()


@pytest.fixture
def duckdb_session(app, monkeypatch, tmp_path):
    from clustering.io.database import connect
    from clustering.io.dbwrite import write_frame

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    write_frame(connect(url, create=True), "stores", __import__("pandas").DataFrame({"store_id": ["S1"]}))
    monkeypatch.setenv("CLUSTERING_DB_URL", url)
    app.switch_page("pages/data.py").run()
    app.radio(key="data_source").set_value("Database").run()
    return app


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv_auto('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM '/etc/passwd'",
    ],
)
def test_a_select_reading_a_server_file_is_refused_in_the_app(duckdb_session, sql):
    app = duckdb_session
    app.text_area(key="db_sql").set_value(sql).run()
    button(app, "Preview").click().run()
    no_exceptions(app)
    assert any("query the database's own tables only" in e for e in errors(app))
    assert not any("root:" in str(d.value) for d in app.dataframe)


def test_an_uploaded_config_that_reads_the_environment_is_refused_and_changes_nothing(app, monkeypatch):
    monkeypatch.setenv("CLUSTERING_DB_URL", "postgresql://analyst:s3cret@db/retail")
    app.switch_page("pages/export.py").run()
    ws = workspace(app)
    before = ws.config.to_yaml()
    upload = b'name: "${env:CLUSTERING_DB_URL}"\n'
    app.file_uploader[0].set_value(("evil.yml", upload, "application/x-yaml")).run()
    button(app, "Use this config").click().run()
    no_exceptions(app)
    assert any("'name' refers to an environment variable" in e for e in errors(app))
    assert ws.config.to_yaml() == before
    everything = str([e.value for e in (*app.markdown, *app.caption, *app.error, *app.success)])
    assert "s3cret" not in everything


@pytest.mark.parametrize(
    ("upload", "refused"),
    [
        (
            b"database:\n  write_back: {table: app_users, key_column: user_id, column: role,"
            b" uncovered: label, uncovered_label: admin}\n",
            "'database.write_back.table' is the server's setting",
        ),
        (
            b"database:\n  statement_timeout_seconds: .inf\n",
            "'database.statement_timeout_seconds' is the server's",
        ),
        (b'columns:\n  "${env:HOME}": {label: x}\n', "refers to an environment variable"),
    ],
)
def test_an_uploaded_config_that_sets_the_servers_settings_is_refused_and_changes_nothing(
    app, upload, refused
):
    app.switch_page("pages/export.py").run()
    ws = workspace(app)
    before = ws.config.to_yaml()
    app.file_uploader[0].set_value(("evil.yml", upload, "application/x-yaml")).run()
    button(app, "Use this config").click().run()
    no_exceptions(app)
    assert any(refused in e for e in errors(app)), errors(app)
    assert ws.config.to_yaml() == before


def test_a_team_server_refuses_a_superuser_connection_on_the_data_page(monkeypatch, postgres_url):
    import streamlit as st

    st.cache_resource.clear()
    monkeypatch.setenv("CLUSTERING_TEAM_MODE", "1")
    monkeypatch.setenv("CLUSTERING_DB_URL", postgres_url)  # the throwaway server's superuser
    at = new_app()
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "ana@example.com"}
    at.run()
    at.switch_page("pages/data.py").run()
    at.radio(key="data_source").set_value("Database").run()
    no_exceptions(at)
    assert any("a superuser" in e and "a team's server refuses it" in e for e in errors(at)), errors(at)
    assert not any(e.label.startswith("Browse") for e in at.expander)  # nothing of the database shown


def test_the_runs_page_never_shows_the_tracking_stores_password(app, monkeypatch):
    pytest.importorskip("mlflow")
    from clustering import tracking

    uri = "postgresql+psycopg://mlflow:s3cret@127.0.0.1:1/mlflow"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)

    def unreachable(store: str):  # as the store's driver says it, URL and all
        raise RuntimeError(f"could not connect to {store}: connection refused")

    monkeypatch.setattr(tracking, "list_runs", unreachable)
    app.switch_page("pages/runs.py").run()
    no_exceptions(app)
    shown = str([e.value for e in (*app.markdown, *app.caption, *app.error, *app.warning, *app.info)])
    assert "mlflow:***@127.0.0.1:1/mlflow" in shown
    assert "s3cret" not in shown
