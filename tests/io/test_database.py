"""Databases: the same push-down, write-back, dry-run, failure and restore tests on SQLite,
DuckDB and a real PostgreSQL server. Nothing is mocked at the database boundary."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from clustering.config import DemandFeatureConfig, WriteBackConfig, load_config
from clustering.errors import UserInputError
from clustering.io.database import connect, masked, resolve_url
from clustering.io.dbread import columns, read_only, read_table, run_select, tables
from clustering.io.dbwrite import demo_warehouse
from clustering.io.inputs import database_sheets
from clustering.io.pushdown import monthly_query, pushdown_features
from clustering.io.writeback import InjectedFailure, restore, runs, write_back
from clustering.pipeline import run
from clustering.prep.features import demand_features
from tests.profiles import quick_config_file, quick_preset

SCANS = re.compile(r"(?:FROM|JOIN) fact_sales_monthly(?!\.)", re.IGNORECASE)  # not EXTRACT(... FROM t.col)


def test_pushdown_equals_the_in_memory_builder(warehouse, dfu_sheets):
    config = DemandFeatureConfig()
    expected, dropped = demand_features(dfu_sheets, config)
    got, left_out = pushdown_features(warehouse, "fact_sales_monthly", config)
    expected = expected.set_index("dfu_id")
    got = got.set_index("dfu_id").loc[expected.index]
    assert left_out == dropped
    both_missing = expected.isna() & got.isna()
    assert (expected.isna() == got.isna()).all().all()
    relative = ((got - expected).abs() / expected.abs().clip(lower=1e-12)).where(~both_missing)
    assert relative.max().max() <= 1e-9, relative.max().sort_values().tail(3)


def test_pushdown_sql_is_one_grouped_scan_and_compiles_for_postgresql_and_trino():
    from trino.sqlalchemy.dialect import TrinoDialect

    fact = sa.table("fact_sales_monthly", sa.column("dfu_id"), sa.column("month"), sa.column("units"))
    for dialect in (postgresql.dialect(), TrinoDialect()):
        sql = str(
            monthly_query(fact, DemandFeatureConfig()).compile(
                dialect=dialect, compile_kwargs={"literal_binds": True}
            )
        )
        assert len(SCANS.findall(sql)) == 2  # the window's end (MAX), then the grouped scan
        assert sql.count("GROUP BY") == 1 and "JOIN fact_sales_monthly" not in sql and "OVER" not in sql
        assert sql.count("sum(CASE WHEN") == 36  # one conditional sum per month of the window
    fixed_end = DemandFeatureConfig(end_month="2024-12")
    sql = str(
        monthly_query(fact, fixed_end).compile(
            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
        )
    )
    assert len(SCANS.findall(sql)) == 1


@pytest.mark.parametrize("end_month", [None, "2024-06"])
def test_pushdown_with_a_fixed_window_end_equals_the_in_memory_builder(tmp_path, dfu_sheets, end_month):
    engine = connect(f"duckdb:///{tmp_path / 'demo.duckdb'}", create=True)
    demo_warehouse(engine, "dfu", dfu_sheets)
    config = DemandFeatureConfig(window_months=24, end_month=end_month)
    expected, dropped = demand_features(dfu_sheets, config)
    got, left_out = pushdown_features(engine, "fact_sales_monthly", config)
    assert left_out == dropped
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, atol=1e-12)


def assignments_for(engine, labels: dict[str, str]) -> pd.DataFrame:
    ids = read_table(engine, "dim_dfu", ["dfu_id"])["dfu_id"].astype(str)
    frame = pd.DataFrame({"dfu_id": ids})
    frame["final_cluster"] = [f"D{i % 3 + 1}" for i in range(len(ids))]
    frame["segment_name"] = frame["final_cluster"].map(labels)
    return frame


def snapshot(engine) -> tuple[pd.DataFrame, list[str]]:
    dim = (
        read_table(engine, "dim_dfu", ["dfu_id", "cluster_assignment"])
        .sort_values("dfu_id")
        .reset_index(drop=True)
    )
    return dim, tables(engine)


LABELS = {"D1": "Steady", "D2": "Seasonal", "D3": "Intermittent"}


def test_write_back_is_one_transaction_with_history(warehouse):
    config = WriteBackConfig()
    report = write_back(warehouse, assignments_for(warehouse, LABELS), config, "dfu_id")
    assert report.written and report.rows == 400
    dim, _ = snapshot(warehouse)
    assert set(dim["cluster_assignment"]) == set(LABELS.values())
    history = read_table(warehouse, "segment_assignments")
    assert len(history) == 400 and set(history["write_back_id"]) == {report.write_back_id}
    assert list(history.columns) == [
        "write_back_id",
        "entity_id",
        "segment",
        "label",
        "written_at",
        "tracked_run_id",
        "approved_by",
        "written_by",
    ]
    assert report.changes["from"].eq("(empty)").all() and report.changes["rows"].sum() == 400


def test_dry_run_reports_changes_and_writes_nothing(warehouse):
    config = WriteBackConfig()
    write_back(warehouse, assignments_for(warehouse, LABELS), config, "dfu_id")
    before = snapshot(warehouse)
    renamed = {**LABELS, "D2": "Summer peak"}
    report = write_back(warehouse, assignments_for(warehouse, renamed), config, "dfu_id", dry_run=True)
    assert not report.written
    changes = report.changes.set_index(["from", "to"])["rows"]
    assert changes.to_dict() == {
        ("Seasonal", "Summer peak"): (assignments_for(warehouse, LABELS)["final_cluster"] == "D2").sum()
    }
    after = snapshot(warehouse)
    pd.testing.assert_frame_equal(before[0], after[0])
    assert len(runs(warehouse, config)) == 1


@pytest.mark.parametrize("history_exists", [False, True])
def test_failure_mid_way_leaves_both_tables_as_before(warehouse, history_exists):
    config = WriteBackConfig()
    if history_exists:
        write_back(warehouse, assignments_for(warehouse, LABELS), config, "dfu_id")
    before_dim, before_tables = snapshot(warehouse)
    before_history = read_table(warehouse, "segment_assignments") if history_exists else None
    with pytest.raises(InjectedFailure):
        write_back(
            warehouse,
            assignments_for(warehouse, {**LABELS, "D1": "Changed"}),
            config,
            "dfu_id",
            fail_after=150,
        )
    after_dim, after_tables = snapshot(warehouse)
    pd.testing.assert_frame_equal(before_dim, after_dim)
    assert after_tables == before_tables  # the history table was not left behind
    if history_exists:
        pd.testing.assert_frame_equal(before_history, read_table(warehouse, "segment_assignments"))


def test_a_previous_run_can_be_restored(warehouse):
    config = WriteBackConfig()
    first = write_back(warehouse, assignments_for(warehouse, LABELS), config, "dfu_id")
    write_back(
        warehouse, assignments_for(warehouse, {k: v.upper() for k, v in LABELS.items()}), config, "dfu_id"
    )
    assert set(snapshot(warehouse)[0]["cluster_assignment"]) == {v.upper() for v in LABELS.values()}
    report = restore(warehouse, config, "dfu_id", first.write_back_id)
    assert report.written and report.write_back_id == f"restore-of-{first.write_back_id}"
    assert set(snapshot(warehouse)[0]["cluster_assignment"]) == set(LABELS.values())
    assert len(runs(warehouse, config)) == 3
    with pytest.raises(UserInputError, match="Write-back 'no-such-run' is not in the history"):
        restore(warehouse, config, "dfu_id", "no-such-run")


def test_unknown_entities_are_refused_before_writing(warehouse):
    frame = assignments_for(warehouse, LABELS)
    frame.loc[0, "dfu_id"] = "NOT-A-DFU"
    with pytest.raises(UserInputError, match="1 entities are not in table 'dim_dfu'"):
        write_back(warehouse, frame, WriteBackConfig(), "dfu_id")
    assert "segment_assignments" not in tables(warehouse)


def test_injection_through_names_and_values_is_rejected(warehouse):
    with pytest.raises(UserInputError, match="does not exist"):
        read_table(warehouse, "dim_dfu; DROP TABLE dim_item")
    with pytest.raises(UserInputError, match="has no column"):
        read_table(warehouse, "dim_dfu", ["dfu_id) FROM dim_item --"])
    with pytest.raises(UserInputError, match="is not in table"):
        read_table(warehouse, "dim_dfu", filters=[("1=1 OR dfu_id", "=", "x")])
    with pytest.raises(UserInputError, match="operator"):
        read_table(warehouse, "dim_dfu", filters=[("dfu_id", "= '' OR 1=1 --", "x")])
    hostile = "x'; DROP TABLE dim_item; --"
    assert read_table(warehouse, "dim_dfu", filters=[("dfu_id", "=", hostile)]).empty
    assert "dim_item" in tables(warehouse)
    region = read_table(
        warehouse, "dim_dfu", ["dfu_id", "region"], filters=[("region", "in", ["North", "South"])]
    )
    assert set(region["region"]) <= {"North", "South"} and len(region) > 0


def test_only_one_read_only_select_runs(warehouse):
    frame = run_select(warehouse, "SELECT dfu_id, units FROM fact_sales_monthly", limit=25)
    assert len(frame) == 25 and list(frame.columns) == ["dfu_id", "units"]
    for sql, message in [
        ("SELECT 1; DROP TABLE dim_item", "Only one statement"),
        ("DELETE FROM dim_item", "Only a SELECT"),
        ("UPDATE dim_dfu SET cluster_assignment = 'x'", "Only a SELECT"),
        ("WITH gone AS (DELETE FROM dim_item RETURNING *) SELECT * FROM gone", "writes to the database"),
        ("DROP TABLE dim_item", "Only a SELECT"),
        ("", "empty"),
    ]:
        with pytest.raises(UserInputError, match=message):
            run_select(warehouse, sql)
    assert "dim_item" in tables(warehouse)


def test_read_only_transaction_refuses_writes_where_the_dialect_has_one(warehouse):
    if warehouse.dialect.name == "duckdb":
        pytest.skip("DuckDB has no read-only transactions; the SELECT check guards it")
    with pytest.raises(UserInputError, match="refused"), read_only(warehouse) as connection:
        connection.execute(sa.text("UPDATE dim_dfu SET cluster_assignment = 'x'"))
    assert snapshot(warehouse)[0]["cluster_assignment"].isna().all()


def test_a_slow_query_is_stopped(warehouse):
    slow = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
        "SELECT count(*) FROM n"
    )
    with pytest.raises(UserInputError, match=r"ran longer than 0\.5 s"):
        run_select(warehouse, slow, timeout=0.5)


def test_browsing_lists_tables_and_columns(warehouse):
    assert {"fact_sales_monthly", "dim_dfu", "dim_item"} <= set(tables(warehouse))
    assert columns(warehouse, "fact_sales_monthly") == ["dfu_id", "month", "units"]
    assert "cluster_assignment" in columns(warehouse, "dim_dfu")


def test_a_dfu_run_from_the_database_segments_and_writes_back(warehouse):
    config = quick_preset("dfu")
    config.stability.enabled = False
    result = run(config, database_sheets(warehouse, config))
    report = write_back(warehouse, result.assignments, config.database.write_back, config.id_column)
    dim = snapshot(warehouse)[0].set_index("dfu_id")["cluster_assignment"]
    ran = result.assignments.set_index("dfu_id")["segment_name"]
    assert report.rows == len(dim) and dim.notna().all()
    assert dim.loc[ran.index].tolist() == ran.tolist()
    left_out = dim.drop(ran.index)  # too short a history for the features: said so, not stale
    assert len(left_out) == report.uncovered > 0 and set(left_out) == {"insufficient_history"}


def test_passwords_never_show(monkeypatch, tmp_path):
    url = "postgresql+psycopg://analyst:s3cret@127.0.0.1:1/retail"
    assert "s3cret" not in masked(url) and "***" in masked(url)
    with pytest.raises(UserInputError) as error:
        connect(url)
    assert "s3cret" not in str(error.value) and "analyst:***@127.0.0.1" in str(error.value)


def test_url_comes_from_flag_then_environment_then_secrets(monkeypatch, tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[connections.sql]\nurl = "sqlite:///from-secrets.db"\n')
    monkeypatch.delenv("CLUSTERING_DB_URL", raising=False)
    assert resolve_url(None, secrets) == "sqlite:///from-secrets.db"
    monkeypatch.setenv("CLUSTERING_DB_URL", "sqlite:///from-env.db")
    assert resolve_url(None, secrets) == "sqlite:///from-env.db"
    assert resolve_url("sqlite:///explicit.db", secrets) == "sqlite:///explicit.db"


def test_store_warehouse_and_cli(tmp_path, capsys):
    from clustering.cli import main

    url = f"sqlite:///{tmp_path / 'stores.db'}"
    assert main(["demo", "store", "--stores", "300", "--seed", "4", "--database", url]) == 0
    engine = connect(url, create=True)
    assert {"dim_store", "store_internal", "store_external"} <= set(tables(engine))
    with engine.begin() as connection:  # a store of the dimension that this run's data lacks
        connection.execute(
            sa.text("INSERT INTO dim_store (store_id, cluster_assignment) VALUES ('S999999', 'old')")
        )
    out, quick = tmp_path / "result.xlsx", str(quick_config_file(tmp_path))  # tracking: tests/tracking
    run_args = ["run", "--config", quick, "--database", url, "--output", str(out), "--no-track"]
    assert main([*run_args, "--write-back", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "301 rows of dim_store, 301 would change" in printed
    assert (
        "1 row of dim_store not covered by this run: their cluster_assignment will be set to 'not_segmented'"
        in printed
    )
    assert read_table(engine, "dim_store")["cluster_assignment"].isna().sum() == 300
    assert main([*run_args, "--write-back"]) == 0
    written = read_table(engine, "dim_store").set_index("store_id")["cluster_assignment"]
    assert written.notna().all() and written["S999999"] == "not_segmented"
    written = runs(engine, load_config("store").database.write_back)["write_back_id"].iloc[0]
    assert main([*run_args, "--restore", written]) == 0
    assert f"restore-of-{written}" in capsys.readouterr().out


def test_a_select_or_chosen_columns_can_feed_a_run(warehouse):
    from clustering.config import config_from_dict

    config = config_from_dict(
        {
            "id_column": "dfu_id",
            "datasets": {"entities": {"cluster": {"k": 3}}},
            "merge": {"enabled": False},
            "labels": {"pattern": "none", "market_column": None},
            "stability": {"enabled": False},
            "database": {
                "queries": {
                    "entities": "SELECT dfu_id, lead_time_days, min_order_qty FROM dim_dfu WHERE region <> 'Central'"
                }
            },
        }
    )
    sheets = database_sheets(warehouse, config)
    assert list(sheets["entities"].columns) == ["dfu_id", "lead_time_days", "min_order_qty"]
    result = run(config, sheets)
    assert result.assignments["final_cluster"].nunique() == 3
    config.database.queries = {}
    config.database.tables = {"entities": "dim_dfu"}
    config.database.columns = {"entities": ["dfu_id", "lead_time_days"]}
    assert list(database_sheets(warehouse, config)["entities"].columns) == ["dfu_id", "lead_time_days"]
    config.database.queries = {"entities": "DELETE FROM dim_dfu"}
    with pytest.raises(UserInputError, match="Only a SELECT"):
        database_sheets(warehouse, config)


def test_write_back_is_set_based_one_update_whatever_the_rows(warehouse):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.lstrip().split()[0].upper())

    sa.event.listen(warehouse, "before_cursor_execute", record)
    try:
        write_back(warehouse, assignments_for(warehouse, LABELS), WriteBackConfig(), "dfu_id")
    finally:
        sa.event.remove(warehouse, "before_cursor_execute", record)
    assert statements.count("UPDATE") == 1  # not one per row
    assert set(snapshot(warehouse)[0]["cluster_assignment"]) == set(LABELS.values())
    assert "_segment_stage" not in tables(warehouse)  # the staging table is gone


def test_the_demo_warehouse_tables_are_keyed(warehouse):
    inspector = sa.inspect(warehouse)
    if warehouse.dialect.name == "sqlite":
        keyed = [
            i for i in inspector.get_indexes("dim_dfu") if i["unique"] and i["column_names"] == ["dfu_id"]
        ]
        assert keyed
    elif warehouse.dialect.name == "postgresql":
        assert inspector.get_pk_constraint("dim_dfu")["constrained_columns"] == ["dfu_id"]
    else:  # DuckDB: the key refuses a duplicate
        with pytest.raises(sa.exc.DBAPIError), warehouse.begin() as connection:
            connection.execute(sa.text("INSERT INTO dim_dfu (dfu_id) SELECT dfu_id FROM dim_dfu LIMIT 1"))


KILLED_WRITER = """
import sys
import pandas as pd
from clustering.config import WriteBackConfig
from clustering.io.database import connect
from clustering.io.writeback import write_back
url, label = sys.argv[1], sys.argv[2]
engine = connect(url)
ids = pd.read_sql("SELECT dfu_id FROM dim_dfu", engine)["dfu_id"].astype(str)
frame = pd.DataFrame({"dfu_id": ids, "final_cluster": label, "segment_name": label})
print("ready", flush=True)
while True:  # write until killed: every moment of a write-back is a possible kill point
    write_back(engine, frame, WriteBackConfig(), "dfu_id")
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill_9_during_write_back_leaves_old_or_new_never_a_mix(kind, tmp_path, dfu_sheets, request):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    url = f"sqlite:///{tmp_path / 'demo.db'}" if kind == "sqlite" else request.getfixturevalue("postgres_url")
    engine = connect(url, create=True)
    with engine.begin() as connection:
        for name in ("segment_assignments", "fact_sales_monthly", "dim_dfu", "dim_item"):
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    demo_warehouse(engine, "dfu", dfu_sheets)
    root = Path(__file__).resolve().parents[2]
    for trial, delay in enumerate((0.05, 0.3, 0.8)):
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, url, f"run-{trial}"],
            cwd=root,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        column = read_table(engine, "dim_dfu")["cluster_assignment"]
        labels = {value if isinstance(value, str) else "(empty)" for value in column}
        assert len(labels) == 1, labels  # one whole state: all old, or all one run's labels
        if "segment_assignments" in tables(engine):
            history = read_table(engine, "segment_assignments")
            assert (history.groupby("write_back_id").size() == len(dfu_sheets["dim_dfu"])).all()
    engine.dispose()
