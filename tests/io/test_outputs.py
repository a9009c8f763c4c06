"""The DFU framework's files: written by one run, or stage by stage from the CLI, with the same
content; and item and DFU attributes entering the clustering when the analyst wants them to."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from clustering.cli import main
from clustering.config import load_config
from clustering.demo import dfu_demo
from clustering.io.database import connect
from clustering.io.dbwrite import demo_warehouse
from clustering.pipeline import run

FILES = {
    "clustering_features.csv",
    "cluster_assignments.csv",
    "cluster_centroids.csv",
    "cluster_metadata.json",
    "cluster_labels.csv",
    "cluster_profiles.json",
    "k_selection.png",
    "clusters.png",
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('w') / 'w.db'}"
    demo_warehouse(connect(url, create=True), "dfu", dfu_demo(900, 36, seed=5))
    return url


def test_stages_write_every_file_and_update_writes_the_labels(warehouse, tmp_path, capsys):
    out = str(tmp_path / "stages")
    assert main(["train", "--output-dir", out]) == 2
    assert "clustering_features.csv is missing: run the 'features' stage first" in capsys.readouterr().err
    assert main(["features", "--database", warehouse, "--output-dir", out]) == 0
    assert main(["train", "--output-dir", out]) == 0
    assert main(["update", "--database", warehouse, "--output-dir", out]) == 2
    assert "has no labels yet: run the 'label' stage first" in capsys.readouterr().err
    assert main(["label", "--output-dir", out]) == 0
    assert {p.name for p in (tmp_path / "stages").iterdir()} == FILES

    features = pd.read_csv(tmp_path / "stages" / "clustering_features.csv")
    assert {"mean_demand", "cv_demand", "zero_demand_pct", "growth_rate", "category", "region"} <= set(
        features.columns
    )
    assignments = pd.read_csv(tmp_path / "stages" / "cluster_assignments.csv")
    assert (
        list(assignments.columns[:3]) == ["dfu_id", "cluster", "label"] and assignments["label"].notna().all()
    )
    centroids = pd.read_csv(tmp_path / "stages" / "cluster_centroids.csv")
    assert set(centroids["units"]) == {"original", "scaled"}
    assert centroids.groupby("units")["cluster"].nunique().nunique() == 1
    metadata = json.loads((tmp_path / "stages" / "cluster_metadata.json").read_text())
    assert metadata["datasets"]["dfu"]["k"] == assignments["cluster"].nunique()
    assert metadata["config"]["labeling"]["cv_thresholds"] == {"steady": 0.3, "volatile": 0.8}
    profiles = json.loads((tmp_path / "stages" / "cluster_profiles.json").read_text())
    labels = pd.read_csv(tmp_path / "stages" / "cluster_labels.csv").set_index("cluster")
    assert {c: p["label"] for c, p in profiles.items()} == labels["label"].to_dict()
    assert all("mean_demand" in p["features"] for p in profiles.values())

    assert main(["update", "--database", warehouse, "--output-dir", out, "--dry-run"]) == 0
    assert "would change" in capsys.readouterr().out
    assert main(["update", "--database", warehouse, "--output-dir", out]) == 0
    written = pd.read_sql("SELECT dfu_id, cluster_assignment FROM dim_dfu", connect(warehouse)).set_index(
        "dfu_id"
    )
    expected = assignments.set_index("dfu_id")["label"]
    assert (written["cluster_assignment"].reindex(expected.index) == expected).all()


def test_one_run_writes_the_same_files_as_the_stages(warehouse, tmp_path):
    whole, staged = str(tmp_path / "whole"), str(tmp_path / "staged")
    for stage in ("features", "train", "label"):
        options = ["--database", warehouse] if stage == "features" else []
        assert main([stage, *options, "--output-dir", staged]) == 0
    assert (
        main(
            [
                "run",
                "--config",
                "dfu",
                "--database",
                warehouse,
                "--output",
                str(tmp_path / "r.xlsx"),
                "--output-dir",
                whole,
                "--no-track",
            ]
        )
        == 0
    )
    for name in (
        "clustering_features.csv",
        "cluster_assignments.csv",
        "cluster_centroids.csv",
        "cluster_labels.csv",
    ):
        left = pd.read_csv(f"{whole}/{name}")
        right = pd.read_csv(f"{staged}/{name}")
        pd.testing.assert_frame_equal(left, right, check_dtype=False, rtol=1e-9), name
    assert (tmp_path / "whole" / "k_selection.png").read_bytes() == (
        tmp_path / "staged" / "k_selection.png"
    ).read_bytes()


def test_attributes_can_enter_the_clustering_one_hot_or_famd():
    sheets = dfu_demo(600, 36, seed=2)
    config = load_config("dfu")
    config.stability.enabled = False
    preprocess = config.datasets["dfu"].preprocess
    preprocess.exclude = [c for c in preprocess.exclude if c not in ("category", "unit_price")]
    result = run(config, sheets)
    names = result.prepared["dfu"].preprocessor.feature_names_out_
    assert "unit_price" in names and any(n.startswith("category=") for n in names)
    preprocess.famd_components = 5
    famd = run(config, sheets)
    contributions = famd.prepared["dfu"].report.famd_contributions
    assert {"category", "unit_price"} <= set(contributions.index)


def test_the_dfu_files_neutralize_formula_ids_and_the_next_stage_reads_them_back(tmp_path):
    from clustering.demo import dfu_demo
    from clustering.io.database import connect
    from clustering.io.dbwrite import demo_warehouse

    sheets = dfu_demo(300, 36, seed=4)
    evil = '=HYPERLINK("http://evil.example")'
    first = sheets["dim_dfu"]["dfu_id"].iloc[0]
    for name in ("sales_monthly", "dim_dfu"):
        sheets[name]["dfu_id"] = sheets[name]["dfu_id"].replace(first, evil)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    demo_warehouse(connect(url, create=True), "dfu", sheets)
    out = str(tmp_path / "stages")
    for stage in ("features", "train", "label"):
        assert main([stage, *(["--database", url] if stage == "features" else []), "--output-dir", out]) == 0
    for name in ("clustering_features.csv", "cluster_assignments.csv"):
        ids = pd.read_csv(tmp_path / "stages" / name, dtype=str)["dfu_id"]
        assert "'" + evil in set(ids) and not ids.str.startswith("=").any(), name
    assert main(["update", "--database", url, "--output-dir", out]) == 0
    from clustering.io.export import read_csv

    labels = read_csv(tmp_path / "stages" / "cluster_assignments.csv").set_index("dfu_id")["label"]
    written = pd.read_sql("SELECT dfu_id, cluster_assignment FROM dim_dfu", connect(url)).set_index("dfu_id")
    assert written.loc[evil, "cluster_assignment"] == labels[evil]  # the ID came back as it was
