"""Write-back: the rows a run does not cover, and the history that traces each write to the
tracked run and its approver, on SQLite, DuckDB and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from clustering.config import WriteBackConfig
from clustering.io.dbread import read_table
from clustering.io.writeback import Provenance, restore, runs, write_back
from tests.profiles import quick_preset


def covering(engine, share: float = 0.75) -> pd.DataFrame:
    """Assignments for the first ``share`` of dim_dfu's DFUs: the rest are not covered."""
    ids = sorted(read_table(engine, "dim_dfu", ["dfu_id"])["dfu_id"].astype(str))
    ids = ids[: int(len(ids) * share)]
    clusters = [f"D{i % 3 + 1}" for i in range(len(ids))]
    names = {"D1": "Steady", "D2": "Seasonal", "D3": "Intermittent"}
    return pd.DataFrame(
        {"dfu_id": ids, "final_cluster": clusters, "segment_name": [names[c] for c in clusters]}
    )


def labels(engine) -> pd.Series:
    frame = read_table(engine, "dim_dfu", ["dfu_id", "cluster_assignment"])
    return frame.set_index(frame["dfu_id"].astype(str))["cluster_assignment"]


def stale(engine, value: str = "old_label") -> None:
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE dim_dfu SET cluster_assignment = :v"), {"v": value})


def test_rows_the_run_leaves_out_get_the_configured_label_and_the_dry_run_says_so(warehouse):
    stale(warehouse)
    frame = covering(warehouse)
    config = WriteBackConfig(uncovered_label="insufficient_history")
    preview = write_back(warehouse, frame, config, "dfu_id", dry_run=True)
    left_out = 400 - len(frame)
    assert preview.uncovered == left_out and not preview.written
    assert (
        f"{left_out:,} rows of dim_dfu not covered by this run: their cluster_assignment will be set to "
        "'insufficient_history'" in preview.lines()
    )
    assert set(labels(warehouse)) == {"old_label"}  # the dry run wrote nothing

    write_back(warehouse, frame, config, "dfu_id")
    after = labels(warehouse)
    outside = after.drop(frame["dfu_id"])
    assert len(outside) == left_out and set(outside) == {"insufficient_history"}
    assert "old_label" not in set(after)


def test_left_out_rows_can_be_cleared_or_kept_as_configured(warehouse):
    stale(warehouse)
    frame = covering(warehouse)
    cleared = write_back(warehouse, frame, WriteBackConfig(uncovered="clear"), "dfu_id")
    assert cleared.lines()[1].endswith("their cluster_assignment were cleared (NULL)")
    assert labels(warehouse).drop(frame["dfu_id"]).isna().all()

    stale(warehouse)
    kept = write_back(warehouse, frame, WriteBackConfig(uncovered="keep"), "dfu_id", dry_run=True)
    assert kept.lines()[1].endswith("their cluster_assignment is kept as it is")
    write_back(warehouse, frame, WriteBackConfig(uncovered="keep"), "dfu_id")
    assert set(labels(warehouse).drop(frame["dfu_id"])) == {"old_label"}


def test_the_history_traces_each_write_to_the_tracked_run_and_its_approver(warehouse):
    frame = covering(warehouse, 1.0)
    provenance = Provenance("0123456789abcdef0123456789abcdef", "lead@example.com", "ana@example.com")
    report = write_back(warehouse, frame, WriteBackConfig(), "dfu_id", provenance=provenance)
    history = read_table(warehouse, "segment_assignments")
    assert set(history["write_back_id"]) == {report.write_back_id}
    assert set(history["tracked_run_id"]) == {provenance.tracked_run_id}
    assert set(history["approved_by"]) == {"lead@example.com"}
    assert set(history["written_by"]) == {"ana@example.com"}
    listed = runs(warehouse, WriteBackConfig()).iloc[0]
    assert listed["write_back_id"] == report.write_back_id
    assert (
        listed["tracked_run_id"] == provenance.tracked_run_id and listed["approved_by"] == "lead@example.com"
    )

    restored = restore(warehouse, WriteBackConfig(), "dfu_id", report.write_back_id, written_by="ops")
    history = read_table(warehouse, "segment_assignments")
    again = history[history["write_back_id"] == restored.write_back_id]
    assert len(again) == 400
    assert set(again["tracked_run_id"]) == {provenance.tracked_run_id}  # the same labels, the same run
    assert set(again["written_by"]) == {"ops"}


def test_a_restore_brings_back_the_left_out_rows_of_that_write(warehouse):
    frame = covering(warehouse)
    first = write_back(warehouse, frame, WriteBackConfig(uncovered_label="insufficient_history"), "dfu_id")
    before = labels(warehouse)
    write_back(warehouse, covering(warehouse, 1.0), WriteBackConfig(), "dfu_id")
    assert "insufficient_history" not in set(labels(warehouse))
    restore(warehouse, WriteBackConfig(), "dfu_id", first.write_back_id)
    pd.testing.assert_series_equal(labels(warehouse).sort_index(), before.sort_index())


def test_an_older_history_table_gains_the_new_columns_and_its_writes_stay_restorable(warehouse):
    frame = covering(warehouse, 1.0)
    with warehouse.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE TABLE segment_assignments (run_id VARCHAR(64) NOT NULL, entity_id VARCHAR(200) NOT NULL, "
                "segment VARCHAR(200), label VARCHAR(500), written_at TIMESTAMP NOT NULL)"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO segment_assignments (run_id, entity_id, segment, label, written_at) "
                "VALUES ('20250101T000000-old', :entity, 'D1', 'Legacy', '2025-01-01 00:00:00')"
            ),
            [{"entity": entity} for entity in frame["dfu_id"]],
        )
    report = write_back(warehouse, frame, WriteBackConfig(), "dfu_id", provenance=Provenance("abc"))
    history = read_table(warehouse, "segment_assignments")
    assert {"write_back_id", "tracked_run_id", "approved_by", "written_by"} <= set(history.columns)
    assert "run_id" not in history.columns
    assert set(runs(warehouse, WriteBackConfig())["write_back_id"]) == {
        "20250101T000000-old",
        report.write_back_id,
    }
    restore(warehouse, WriteBackConfig(), "dfu_id", "20250101T000000-old")
    assert set(labels(warehouse)) == {"Legacy"}


def test_a_nested_dfu_run_writes_its_segments_named_after_their_group(warehouse, dfu_sheets):
    from clustering.pipeline import run

    config = quick_preset("dfu")
    config.stability.enabled = False
    config.datasets["dfu"].group_by = "category"
    result = run(config, dfu_sheets)
    categories = set(dfu_sheets["dim_item"]["category"].astype(str))
    assert set(result.clustered["dfu"].group_table["group"]) <= categories
    frame = result.assignments[["dfu_id", "final_cluster", "segment_name"]]
    write_back(warehouse, frame, config.database.write_back, "dfu_id")
    written = labels(warehouse).reindex(frame["dfu_id"])
    assert written.tolist() == frame["segment_name"].tolist()
    assert all(name.split(" · ")[0].lower() in {c.lower() for c in categories} for name in written)
