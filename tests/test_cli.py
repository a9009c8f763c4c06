import subprocess
import sys

import pandas as pd
import pytest

from clustering.cli import main
from clustering.io.export import write_workbook
from tests.profiles import quick_config_file

# Tracking is tested in tests/tracking; here each run has --no-track (a tracked run starts
# MLflow in a process of its own). Runs whose k range is not what is checked use the quick profile.


def test_demo_then_run_writes_every_sheet(tmp_path, capsys):
    demo = tmp_path / "demo.xlsx"
    assert main(["demo", "store", "--stores", "400", "--seed", "3", "--output", str(demo)]) == 0
    result = tmp_path / "result.xlsx"
    args = [
        "run",
        "--config",
        "config/store.yml",
        "--input",
        str(demo),
        "--output",
        str(result),
        "--no-track",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "segments in" in out and f"wrote {result}" in out
    assert "k scenarios of internal" in out and "k scenarios of external" in out
    assert out.count("Recommended: k = ") == 2
    assignments = pd.read_excel(result, sheet_name="assignments", engine="calamine")
    assert len(assignments) == 400
    scenarios = pd.read_excel(result, sheet_name="k_scenarios", engine="calamine")
    assert set(scenarios["dataset"]) == {"internal", "external"} and scenarios["recommended"].sum() == 2
    assert scenarios.groupby("dataset")["k"].apply(list).map(lambda ks: ks == list(range(2, 13))).all()


def test_a_nested_config_runs_from_the_cli_with_each_groups_scenarios(tmp_path, capsys, demo_workbook):
    from tests.profiles import quick_preset

    config = quick_preset("store")
    config.datasets["internal"].group_by = "format"
    config.stability.enabled = False
    path = tmp_path / "nested.yml"
    path.write_text(config.to_yaml())
    result = tmp_path / "result.xlsx"
    args = [
        "run",
        "--config",
        str(path),
        "--input",
        str(demo_workbook),
        "--output",
        str(result),
        "--no-track",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    formats = set(pd.read_excel(demo_workbook, sheet_name="internal", engine="calamine")["format"].dropna())
    assert {f"k scenarios of internal, group {f}" for f in formats} <= {
        line.split(" (pick")[0] for line in out.splitlines()
    }
    sheets = pd.read_excel(result, sheet_name=None, engine="calamine")
    assert set(sheets["k_scenarios"].dropna(subset=["group"])["group"]) == formats
    names = sheets["assignments"]["segment_name"]
    assert names.str.split(" · ").str[0].str.lower().isin(formats | {"(missing)"}).all()


def test_csv_format_writes_the_assignments(tmp_path, demo_workbook):
    out = tmp_path / "assignments.csv"
    quick = quick_config_file(tmp_path)
    args = ["run", "--config", str(quick), "--input", str(demo_workbook), "--output", str(out)]
    code = main([*args, "--format", "csv", "--seed", "5", "--no-track"])
    assert code == 0
    assert "final_cluster" in pd.read_csv(out).columns


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--input", "missing.xlsx", "--output", "x.xlsx"], "error: missing.xlsx: file not found"),
        (
            ["run", "--config", "nope.yml", "--input", "a.xlsx", "--output", "x.xlsx"],
            "error: Config file 'nope.yml'",
        ),
        (["demo", "store", "--output", "demo.csv"], "error: demo.csv: the demo writes an Excel workbook"),
    ],
)
def test_user_errors_exit_2_with_one_line(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message)
    assert "\n" not in err and "Traceback" not in err


def test_module_entry_point_reports_validation_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"store": ["a", "b"], "revenue": [1, 2]}).to_csv(bad, index=False)
    config = tmp_path / "one.yml"
    config.write_text("datasets:\n  internal: {}\n")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "clustering",
            "run",
            "--config",
            str(config),
            "--input",
            str(bad),
            "--output",
            str(tmp_path / "o.xlsx"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: bad.csv: ID column 'store_id' is missing")


def test_previous_results_carry_analyst_names_to_a_rerun(tmp_path, demo_workbook):
    first, quick = tmp_path / "first.xlsx", str(quick_config_file(tmp_path))
    assert (
        main(["run", "--config", quick, "--input", str(demo_workbook), "--output", str(first), "--no-track"])
        == 0
    )
    sheets = {
        name: pd.read_excel(first, sheet_name=name, engine="calamine") for name in ["assignments", "labels"]
    }
    target = sheets["labels"].loc[0, "segment"]
    sheets["labels"].loc[0, ["label", "source"]] = ["Flagship corridor", "analyst"]
    edited = tmp_path / "edited.xlsx"
    write_workbook(sheets, edited)
    second = tmp_path / "second.xlsx"
    args = ["run", "--config", quick, "--input", str(demo_workbook), "--output", str(second), "--no-track"]
    args += ["--seed", "11", "--previous", str(edited)]
    assert main(args) == 0
    before = sheets["assignments"].set_index("store_id")["final_cluster"]
    after = pd.read_excel(second, sheet_name="assignments", engine="calamine").set_index("store_id")
    named = after.index[after["segment_name"] == "Flagship corridor"]
    original = before.index[before == target]
    assert len(named.intersection(original)) / len(original) >= 0.95


def test_previous_file_that_is_not_a_results_workbook(tmp_path, demo_workbook, capsys):
    args = [
        "run",
        "--input",
        str(demo_workbook),
        "--output",
        str(tmp_path / "o.xlsx"),
        "--previous",
        str(demo_workbook),
    ]
    assert main(args) == 2
    assert "has no sheet 'assignments'" in capsys.readouterr().err


def test_a_demo_folder_runs_as_a_folder_or_through_one_of_its_files(tmp_path, capsys):
    folder = tmp_path / "stores"
    assert main(["demo", "store", "--stores", "400", "--seed", "3", "--output", str(folder)]) == 0
    outputs, quick = {}, str(quick_config_file(tmp_path))
    for name, given in {"folder": folder, "file": folder / "internal.parquet"}.items():
        outputs[name] = tmp_path / f"{name}.parquet"
        args = ["run", "--config", quick, "--input", str(given), "--output", str(outputs[name]), "--no-track"]
        assert main(args) == 0
    by_folder, by_file = (pd.read_parquet(path) for path in outputs.values())
    assert by_folder["external_cluster"].notna().any()  # external.parquet was found beside internal
    assert len(by_folder) == 400
    pd.testing.assert_frame_equal(by_folder, by_file)


def test_a_folder_without_a_table_names_the_file_it_needs(tmp_path, capsys):
    (tmp_path / "internal.csv").write_text("store_id,revenue\nS1,10\n")
    assert main(["run", "--input", str(tmp_path), "--output", str(tmp_path / "o.parquet"), "--no-track"]) == 2
    error = capsys.readouterr().err
    assert f"{tmp_path}: no external.parquet or external.csv in this folder (it holds internal.csv)" in error


def test_a_workbook_reads_its_own_sheets_whatever_files_sit_beside_it(tmp_path, demo_workbook, capsys):
    workbook = tmp_path / "stores.xlsx"
    workbook.write_bytes(demo_workbook.read_bytes())
    (tmp_path / "internal.csv").write_text("store_id,revenue\nX1,1\nX2,2\n")  # a stray file
    output, quick = tmp_path / "o.parquet", str(quick_config_file(tmp_path))
    assert (
        main(["run", "--config", quick, "--input", str(workbook), "--output", str(output), "--no-track"]) == 0
    )
    assert not pd.read_parquet(output)["store_id"].isin(["X1", "X2"]).any()


def test_the_top_level_help_says_what_the_tool_does_in_whole_sentences(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Segment retail stores and demand units (DFUs): demo data, a whole run," in text
    assert "and the cluster summary API (serve)." in text
    description = text.split("positional arguments:")[0]
    assert description.rstrip().endswith(".")  # not cut mid-sentence


@pytest.mark.parametrize("command", ["run", "assign", "serve"])
def test_the_help_and_the_docs_name_the_same_flags(command, capsys):
    import re
    from pathlib import Path

    with pytest.raises(SystemExit):
        main([command, "--help"])
    helped = set(re.findall(r"(?m)^\s+(--[a-z][a-z-]*)", capsys.readouterr().out)) - {"--help"}
    table = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text(encoding="utf-8")
    row = next(line for line in table.splitlines() if line.startswith(f"| `{command}` |"))
    documented = set(re.findall(r"(--[a-z][a-z-]*)", row))
    assert helped - documented <= {"--tracking-uri"} and documented <= helped, (helped, documented)


def test_a_large_input_starts_the_engine_workers_before_the_read_and_stops_them(
    tmp_path, demo_workbook, monkeypatch
):
    from clustering.model import threads

    monkeypatch.setattr("clustering.model.threads.os.cpu_count", lambda: 2)
    monkeypatch.setattr("clustering.model.threads.PROCESS_CELLS", 1)  # the demo counts as large
    monkeypatch.setattr("clustering.cli.run.WORKER_INPUT_BYTES", demo_workbook.stat().st_size)
    started, seen = [], []
    monkeypatch.setattr(threads, "start_workers", lambda module: started.append(module))
    original = threads._workers
    monkeypatch.setattr(threads, "_workers", lambda count: seen.append(original(count)) or seen[-1])
    out, quick = tmp_path / "result.csv", str(quick_config_file(tmp_path))
    args = ["run", "--config", quick, "--input", str(demo_workbook), "--output", str(out), "--format", "csv"]
    assert main([*args, "--no-track"]) == 0
    assert started == ["clustering.pipeline.run"]
    assert seen and threads._pools == []  # the run used a worker process, and it was stopped after
    with pytest.raises(RuntimeError):
        seen[-1].submit(len, [])  # shut down


def test_a_small_input_starts_no_worker(tmp_path, demo_workbook, monkeypatch):
    from clustering.model import threads

    started = []
    monkeypatch.setattr(threads, "start_workers", lambda module: started.append(module))
    out, quick = tmp_path / "result.csv", str(quick_config_file(tmp_path))
    args = ["run", "--config", quick, "--input", str(demo_workbook), "--output", str(out), "--format", "csv"]
    assert main([*args, "--no-track"]) == 0
    assert started == [] and threads._pools == []
