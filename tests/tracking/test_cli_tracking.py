"""The lifecycle from the command line: run (tracked), runs, assign, compare, approve, and the
write-back of an approved run without refitting."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from clustering.cli import main
from tests.profiles import quick_config_file

mlflow = pytest.importorskip("mlflow")


def tracked_run(capsys, *args: str) -> str:
    assert main(["run", *args]) == 0
    out = capsys.readouterr().out
    match = re.search(r"tracked as run ([0-9a-f]{32}) in sqlite:", out)
    assert match, out
    return match.group(1)


def test_run_runs_assign_compare_approve_and_write_back(store, tmp_path, capsys, demo_workbook):
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    assert main(["demo", "store", "--stores", "2000", "--seed", "7", "--database", url]) == 0
    quick = ["--config", str(quick_config_file(tmp_path)), "--input", str(demo_workbook)]
    first = tracked_run(capsys, *quick, "--output", str(tmp_path / "a.xlsx"))
    second = tracked_run(capsys, *quick, "--output", str(tmp_path / "b.xlsx"), "--seed", "3")

    logged = mlflow.artifacts.download_artifacts(
        run_id=first, artifact_path="results.xlsx", dst_path=str(tmp_path)
    )
    assert Path(logged).read_bytes() == (tmp_path / "a.xlsx").read_bytes()  # the run's own workbook

    assert main(["runs"]) == 0
    listed = capsys.readouterr().out
    assert first in listed and second in listed and "store segmentation" in listed
    header, *rows = listed.splitlines()
    k_at = header.index("k internal")
    assert all(not row[k_at : k_at + 12].strip().endswith(".0") for row in rows)  # k is whole: 4, not 4.0

    assert (
        main(
            ["assign", "--run", first, "--input", str(demo_workbook), "--output", str(tmp_path / "new.xlsx")]
        )
        == 0
    )
    assert "far from every segment" in capsys.readouterr().out
    assigned = pd.read_excel(tmp_path / "new.xlsx", sheet_name="assignments", engine="calamine")
    trained = pd.read_excel(tmp_path / "a.xlsx", sheet_name="assignments", engine="calamine")
    pd.testing.assert_series_equal(
        assigned.set_index("store_id")["final_cluster"], trained.set_index("store_id")["final_cluster"]
    )

    like = tmp_path / "like.csv"
    like.write_text(f"store_id,like,weight\nOPENING,{trained['store_id'].iloc[3]},1\n")
    assign = [
        "assign",
        "--run",
        first,
        "--input",
        str(demo_workbook),
        "--output",
        str(tmp_path / "placed.csv"),
    ]
    assert main([*assign, "--like", str(like), "--rule", "largest"]) == 0
    assert "placed by nearest centre: 2000, like " in capsys.readouterr().out  # the run's own keep theirs
    placed = pd.read_csv(tmp_path / "placed.csv").set_index("store_id")
    segment_of_like = trained.set_index("store_id").loc[trained["store_id"].iloc[3], "final_cluster"]
    assert placed.loc["OPENING", "final_cluster"] == segment_of_like
    assert placed.loc["OPENING", "placed_by"] == f"like {trained['store_id'].iloc[3]}"

    store_id = str(trained["store_id"].iloc[10])
    why = ["why", "--input", str(demo_workbook), "--id", store_id]
    assert main([*why, "--run", first, "--output", str(tmp_path / "why.xlsx")]) == 0
    by_run = capsys.readouterr().out
    assert main([*why, "--workbook", str(tmp_path / "a.xlsx")]) == 0
    by_workbook = capsys.readouterr().out
    segment = trained.set_index("store_id").loc[store_id, "final_cluster"]
    assert by_run.startswith(f"Store {store_id} is in ") and f"({segment}); the next nearest" in by_run
    assert by_run.splitlines()[:7] == by_workbook.splitlines()[:7]  # the model and the workbook agree
    reasons = pd.read_excel(tmp_path / "why.xlsx", sheet_name="why", engine="calamine")
    assert list(reasons.columns)[:2] == ["feature", "this store"] and len(reasons) == 5

    assert main(["compare", first, second, "--output", str(tmp_path / "compare.xlsx")]) == 0
    compared = capsys.readouterr().out
    assert "ARI between the runs" in compared
    assert re.search(r"entities in both runs\s+2000\n", compared)  # a count, not 2000.000000
    sheets = pd.read_excel(tmp_path / "compare.xlsx", sheet_name=None, engine="calamine")
    assert list(sheets) == ["summary", "sizes", "metrics", "transitions", "moved"]

    assert main(["run", "--write-back", "--run", first, "--database", url]) == 2
    assert f"Run {first} is not approved" in capsys.readouterr().err
    assert main(["approve", first]) == 0
    assert main(["run", "--write-back", "--run", first, "--database", url]) == 0
    write_back_id = re.search(r"write-back (\S+): 2,000 rows of dim_store", capsys.readouterr().out).group(1)
    history = pd.read_sql("SELECT * FROM segment_assignments", sa.create_engine(url))
    assert set(history["write_back_id"]) == {write_back_id} != {first}  # two kinds of ID, both kept
    assert set(history["tracked_run_id"]) == {first}
    approver = mlflow.tracking.MlflowClient().get_run(first).data.tags["approved_by"]
    assert set(history["approved_by"]) == {approver} and history["written_by"].notna().all()
    written = pd.read_sql("SELECT store_id, cluster_assignment FROM dim_store", sa.create_engine(url))
    names = trained.set_index("store_id")["segment_name"]
    assert (
        written.set_index("store_id")["cluster_assignment"] == names.reindex(written["store_id"]).to_numpy()
    ).all()


def test_a_broken_tracking_store_warns_and_the_run_completes(tmp_path, monkeypatch, capsys, demo_workbook):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocker}/mlruns.db")
    quick = str(quick_config_file(tmp_path))
    assert (
        main(["run", "--config", quick, "--input", str(demo_workbook), "--output", str(tmp_path / "out.csv")])
        == 0
    )
    captured = capsys.readouterr()
    assert "warning: the run was not tracked" in captured.err
    assert "Traceback" not in captured.err
    assert (tmp_path / "out.csv").exists()


def test_no_track_skips_tracking(store, tmp_path, capsys, demo_workbook):
    args = ["run", "--config", str(quick_config_file(tmp_path)), "--input", str(demo_workbook)]
    assert main([*args, "--output", str(tmp_path / "o.csv"), "--no-track"]) == 0
    assert "tracked as run" not in capsys.readouterr().out
    assert main(["runs"]) == 0
    assert "no tracked runs yet" in capsys.readouterr().out


def test_a_run_that_fails_stops_its_tracking_process(store, tmp_path, monkeypatch, capsys):
    from clustering import tracking

    started = []

    class Recorded(tracking.TrackingProcess):
        def __init__(self, uri: str) -> None:
            super().__init__(uri)
            started.append(self)

    monkeypatch.setattr(tracking, "TrackingProcess", Recorded)
    missing = tmp_path / "no such workbook.xlsx"
    assert main(["run", "--input", str(missing), "--output", str(tmp_path / "out.csv")]) != 0
    assert "no such workbook.xlsx" in capsys.readouterr().err
    assert len(started) == 1 and started[0].process.returncode is not None  # ended, not left behind
    assert main(["runs"]) == 0
    assert "no tracked runs yet" in capsys.readouterr().out


def test_the_tracking_process_yields_the_cores_to_the_engine(tmp_path):
    import os
    import time

    from clustering import tracking
    from clustering.tracking.worker import NICENESS

    process = tracking.TrackingProcess(f"sqlite:///{tmp_path / 'runs.db'}")
    try:
        deadline = time.monotonic() + 60
        while os.getpriority(os.PRIO_PROCESS, process.process.pid) == os.getpriority(os.PRIO_PROCESS, 0):
            assert time.monotonic() < deadline, "the tracking process kept the caller's priority"
            time.sleep(0.05)
        assert os.getpriority(os.PRIO_PROCESS, process.process.pid) == min(
            os.getpriority(os.PRIO_PROCESS, 0) + NICENESS, 19
        )
    finally:
        process.cancel()
