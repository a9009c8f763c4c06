"""The DFU clustering framework's output files, so downstream jobs read what they always read.

``--output-dir DIR`` writes, from one run or stage by stage (``features``, ``train``,
``label``):

- ``clustering_features.csv``: one row per entity, every feature and joined attribute;
- ``cluster_assignments.csv``: entity, ``cluster`` (final segment), ``label`` (after the
  label stage), each dataset's segment, ``distance_to_segment``, ``override``;
- ``cluster_centroids.csv``: per cluster, the mean of every numeric feature in original
  units (``units = original``) and of every prepared column (``units = scaled``);
- ``cluster_metadata.json``: k and how it was chosen per dataset, the selection table,
  every metric, the clusterability verdict, stability, and the resolved config;
- ``cluster_labels.csv`` and ``cluster_profiles.json`` (label stage): names, sizes,
  shares, distinguishing features and per-feature statistics of each cluster;
- ``k_selection.png`` and ``clusters.png`` (matplotlib, offline): every criterion against
  k with the chosen k marked, and the clusters on the first two principal components;
- ``cluster_demand.csv`` and ``demand_curves.png`` (DFU runs with the monthly sales in
  memory): each cluster's median demand index by month of the window (1: the DFU's own
  average month) and its 25th to 75th percentiles, one panel per cluster.

The files hold no clock: the same data and config give the same bytes (PNG included).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clustering.errors import UserInputError
from clustering.explain.profiling import segment_overview
from clustering.io.export import read_csv, write_csv

FEATURES = "clustering_features.csv"
ASSIGNMENTS = "cluster_assignments.csv"
CENTROIDS = "cluster_centroids.csv"
METADATA = "cluster_metadata.json"
LABELS = "cluster_labels.csv"
PROFILES = "cluster_profiles.json"
DEMAND = "cluster_demand.csv"
PLOT_SAMPLE = 5_000


def output_folder(path: str | Path) -> Path:
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_stage_file(folder: str | Path, name: str, stage: str) -> pd.DataFrame:
    """A file an earlier stage wrote, or an error that says which stage writes it."""
    path = Path(folder) / name
    if not path.is_file():
        raise UserInputError(f"{path} is missing: run the '{stage}' stage first (it writes {name}).")
    return read_csv(path)


def write_features(tables: dict[str, Any], id_column: str, folder: Path) -> Path:
    """Every dataset's checked table side by side (one dataset: the DFU features)."""
    frames = [table.frame for table in tables.values()]
    joined = frames[0] if len(frames) == 1 else pd.concat(frames, axis=1)
    path = folder / FEATURES
    write_csv(joined.rename_axis(id_column).reset_index(), path)
    return path


def _json(value: Any) -> Any:
    """Plain JSON values (NaN as null)."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return _json(frame.to_dict(orient="records"))


def write_training(
    config: Any,
    tables: dict[str, Any],
    prepared: dict[str, Any],
    clustered: dict[str, Any],
    combined: Any,
    stability: pd.DataFrame,
    folder: Path,
) -> list[Path]:
    """Assignments (without labels yet), centroids, metadata and the two plots."""
    assignments = combined.assignments.rename(columns={"final_cluster": "cluster"}).assign(label=pd.NA)
    assignments = assignments[
        ["cluster", "label", *[c for c in assignments if c not in ("cluster", "label")]]
    ]
    paths = [folder / ASSIGNMENTS]
    write_csv(assignments.reset_index(), paths[0])
    final = combined.assignments["final_cluster"]
    paths.append(_write_centroids(config, tables, prepared, final, folder))
    metadata = {
        "entities": len(final),
        "clusters": int(final.nunique()),
        "datasets": {
            name: {
                "k": c.k,
                "selection": None if c.selection is None else c.selection.rule,
                "k_selection": None if c.selection is None else _records(c.selection.scores),
                "criteria": None if c.selection is None else _records(c.selection.consensus),
                "clusterability": None
                if c.clusterability is None
                else {"verdict": c.clusterability.verdict, "tests": _records(c.clusterability.tests)},
                "warnings": c.warnings,
            }
            for name, c in clustered.items()
        },
        "metrics": _records(
            pd.concat(
                [c.metrics for c in clustered.values()]
                + ([combined.merge.metrics] if combined.merge is not None else [])
                + ([combined.metrics] if not combined.metrics.empty else []),
                ignore_index=True,
            )
        ),
        "stability": _records(stability) if not stability.empty else [],
        "config": config.model_dump(mode="json"),
    }
    paths.append(folder / METADATA)
    paths[-1].write_text(json.dumps(_json(metadata), indent=2, ensure_ascii=False), encoding="utf-8")
    paths += _plots(prepared, clustered, final, folder, config.random_state)
    return paths


def _write_centroids(
    config: Any, tables: dict[str, Any], prepared: dict[str, Any], final: pd.Series, folder: Path
) -> Path:
    original = pd.concat([t.frame.select_dtypes("number") for t in tables.values()], axis=1)
    original = original.loc[:, ~original.columns.duplicated()].reindex(final.index)
    scaled = pd.concat(
        [p.matrix.add_prefix(f"{name}." if len(prepared) > 1 else "") for name, p in prepared.items()], axis=1
    ).reindex(final.index)
    frames = [
        original.groupby(final).mean().assign(units="original"),
        scaled.groupby(final).mean().assign(units="scaled"),
    ]
    table = pd.concat(frames).rename_axis("cluster").reset_index()
    columns = ["cluster", "units", *[c for c in table.columns if c not in ("cluster", "units")]]
    path = folder / CENTROIDS
    write_csv(table[columns].sort_values(["units", "cluster"], kind="stable"), path)
    return path


def _no_sweep(name: str, result: Any) -> str:
    """What the k-selection figure says of a dataset without one k sweep."""
    if result.groups is not None:
        return f"{name}: nested, one k per group ({len(result.groups)} swept; see k_selection)"
    return f"{name}: HDBSCAN (no k to choose)"


def _plots(
    prepared: dict[str, Any], clustered: dict[str, Any], final: pd.Series, folder: Path, seed: int
) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    from clustering.model.metrics import sample_rows

    plt.rcParams["svg.hashsalt"] = "clustering-studio"
    paths = []
    figure, axes = plt.subplots(
        1, max(1, len(clustered)), figsize=(6 * max(1, len(clustered)), 4), squeeze=False
    )
    for axis, (name, result) in zip(axes[0], clustered.items(), strict=False):
        if result.selection is None:
            axis.text(0.5, 0.5, _no_sweep(name, result), ha="center")
            continue
        scores = result.selection.scores
        for column in ("silhouette", "davies_bouldin", "gap"):
            if column in scores:
                axis.plot(scores["k"], scores[column], marker="o", label=column)
        axis.axvline(
            result.selection.chosen_k,
            color="black",
            linestyle="--",
            label=f"chosen k = {result.selection.chosen_k}",
        )
        axis.set_title(f"{name}: k selection")
        axis.set_xlabel("k")
        axis.legend(fontsize=8)
    paths.append(folder / "k_selection.png")
    figure.tight_layout()
    figure.savefig(paths[-1], dpi=100, metadata={"Software": None})
    plt.close(figure)

    name, data = next(iter(prepared.items()))
    matrix = data.matrix.reindex(final.index).dropna()
    rows = sample_rows(len(matrix), PLOT_SAMPLE, seed)
    points = matrix.to_numpy()[rows]
    coordinates = (
        PCA(2, random_state=seed).fit_transform(points) if points.shape[1] > 1 else np.c_[points, points]
    )
    labels = final.reindex(matrix.index).to_numpy(dtype=str)[rows]
    figure, axis = plt.subplots(figsize=(7, 5))
    for cluster in sorted(set(labels)):
        mask = labels == cluster
        axis.scatter(coordinates[mask, 0], coordinates[mask, 1], s=6, label=cluster, alpha=0.7)
    axis.set_title(f"Clusters on the first two principal components of {name} ({len(rows):,} entities)")
    axis.legend(fontsize=7, markerscale=2, ncol=2)
    paths.append(folder / "clusters.png")
    figure.tight_layout()
    figure.savefig(paths[-1], dpi=100, metadata={"Software": None})
    plt.close(figure)
    return paths


def _demand_plot(demand: pd.DataFrame, names: dict[str, str], folder: Path) -> Path:
    """``demand_curves.png``: one small panel per cluster, its median demand index by month
    with the 25th to 75th percentiles shaded, on one shared scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "clustering-studio"
    clusters = sorted(demand["segment"].unique())
    columns = min(3, len(clusters))
    rows = -(-len(clusters) // columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(4.5 * columns, 2.8 * rows), sharey=True, squeeze=False
    )
    for axis, cluster in zip(axes.flat, clusters, strict=False):
        curve = demand[demand["segment"] == cluster]
        x = np.arange(len(curve))
        axis.fill_between(x, curve["p25"], curve["p75"], alpha=0.25)
        axis.plot(x, curve["median"], linewidth=2)
        axis.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        axis.set_title(f"{names.get(cluster, cluster)} ({cluster})", fontsize=8)
        step = max(1, len(curve) // 6)
        axis.set_xticks(x[::step], curve["month"].iloc[::step], fontsize=7, rotation=45)
    for axis in list(axes.flat)[len(clusters) :]:
        axis.set_visible(False)
    figure.supylabel("demand index (1 = the DFU's average month)", fontsize=9)
    figure.tight_layout()
    path = folder / "demand_curves.png"
    figure.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(figure)
    return path


def write_labels(explanation: Any, folder: Path) -> list[Path]:
    """Names and profiles; the assignments file gains its ``label`` column."""
    names = explanation.names.set_index("segment")
    overview = segment_overview(explanation).set_index("segment")
    labels = (
        names.join(overview[["size", "share", "top_features", "rule"]]).rename_axis("cluster").reset_index()
    )
    paths = [folder / LABELS]
    write_csv(labels, paths[0])
    profiles = {}
    for cluster, rows in explanation.profiles.groupby("segment", sort=True):
        profiles[cluster] = {
            "label": names.loc[cluster, "label"],
            "size": int(rows["size"].iloc[0]),
            "share": float(rows["share"].iloc[0]),
            "top_features": overview.loc[cluster, "top_features"],
            "rule": overview.loc[cluster, "rule"],
            "features": {
                row.feature: {
                    "mean": row.mean,
                    "median": row.median,
                    "std": row.std,
                    "overall_mean": row.overall_mean,
                    "z_score": row.z_score,
                    "effect_size": row.effect_size,
                }
                for row in rows.itertuples()
            },
        }
    paths.append(folder / PROFILES)
    paths[-1].write_text(json.dumps(_json(profiles), indent=2, ensure_ascii=False), encoding="utf-8")
    demand = getattr(explanation, "demand", None)
    if demand is not None and not demand.empty:
        paths.append(folder / DEMAND)
        write_csv(demand.rename(columns={"segment": "cluster"}), paths[-1])
        paths.append(_demand_plot(demand, names["label"].to_dict(), folder))
    assignments_path = folder / ASSIGNMENTS
    if assignments_path.is_file():
        assignments = read_csv(assignments_path)
        assignments["label"] = assignments["cluster"].map(names["label"])
        write_csv(assignments, assignments_path)
    return paths


def write_all(result: Any, folder: str | Path) -> list[Path]:
    """Every output file of a finished run (a ``results.RunResult``)."""
    from clustering.results import Combined

    folder = output_folder(folder)
    tables = {name: p.table for name, p in result.prepared.items()}
    combined = Combined(
        result.assignments.set_index(result.config.id_column).drop(columns="segment_name"),
        result.merge,
        [],
        result.final_metrics,
    )
    paths = [write_features(tables, result.config.id_column, folder)]
    paths += write_training(
        result.config, tables, result.prepared, result.clustered, combined, result.stability, folder
    )
    paths += write_labels(result.explanation, folder)
    return paths
