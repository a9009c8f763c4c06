"""Cluster: algorithm and parameters per dataset, k selection, and the segments found."""

from typing import get_args

import numpy as np
import pandas as pd
import streamlit as st

from clustering.config import ClusterConfig, HdbscanConfig, Selection
from clustering.explain.dendrogram import fit_tree
from clustering.explain.labels import column_unit, column_words
from clustering.explain.scenarios import recommendation
from clustering.glossary import readable_metrics
from clustering.model.density import warm_up
from clustering.model.metrics import sample_rows, silhouette_values
from clustering.model.stability import PATTERN, STABLE, stability_word
from clustering.prep.reduction import embedding
from ui import charts
from ui.memory import BOUNDED
from ui.numbers import table
from ui.state import (
    checked_tables,
    clustered,
    held,
    held_sweep,
    prepared,
    scenario_pair,
    scenarios,
    stage_key,
)
from ui.widgets import attempt, choice, page, require, sample_note, segment_colors, size_input

PLOT_SAMPLE = 5_000
PARALLEL_LINES = 1_000
ALGORITHMS = {
    "kmeans": "KMeans",
    "minibatch_kmeans": "MiniBatch KMeans (large data)",
    "agglomerative": "Agglomerative (Ward)",
    "gmm": "Gaussian mixture",
    "hdbscan": "HDBSCAN (density, no k)",
}
VIEWS = ("Projection", "Silhouette plot", "Parallel coordinates and distributions")
SELECTIONS = list(get_args(Selection))

ws = page("cluster", "Cluster", "Pick the algorithm and how k is chosen for each dataset, then run.")
require(ws, "prepared", "Prepare every dataset first.")
tables, _ = checked_tables(ws)


@st.cache_resource(show_spinner="Compiling HDBSCAN once (about 10 s the first time)…")
def _warm_hdbscan() -> bool:
    warm_up()
    return True


@st.cache_data(show_spinner=False, max_entries=16, **BOUNDED)
def _embedding(key: str, method: str, dims: int, _matrix: np.ndarray, seed: int):
    return embedding(_matrix, method, dims, PLOT_SAMPLE, seed)


@st.cache_data(show_spinner=False, max_entries=16, **BOUNDED)
def _silhouettes(key: str, _matrix: np.ndarray, _labels: np.ndarray, seed: int):
    return silhouette_values(_matrix, _labels, PLOT_SAMPLE, seed)


@st.cache_data(show_spinner=False, max_entries=16, **BOUNDED)
def _fit_tree(key: str, _matrix: np.ndarray, _labels: np.ndarray, k: int, max_rows: int, seed: int):
    return fit_tree(_matrix, pd.Series(_labels), k, max_rows, seed)


def dendrogram_view(name: str, key: str, matrix: np.ndarray, labels: np.ndarray, colors: dict) -> None:
    """The hierarchical fit's Ward tree, on the fit's own sample, cut at the chosen k."""
    cluster = ws.config.datasets[name].cluster
    tree = _fit_tree(
        key, matrix, labels, len(set(labels)), cluster.agglomerative_max_rows, ws.config.random_state
    )
    sample_note(tree.rows, tree.total, ws.config.entities()[1])
    st.caption(
        "Each leaf is a group of entities merged below it, named by the segment most of them are in; the "
        "dashed line cuts the tree into the segments. A high merge joins groups that are far apart."
    )
    st.plotly_chart(charts.dendrogram_chart(tree, colors, {}, ws.config.entities()[1]), key=f"tree_{name}")


def options(name: str, cluster: ClusterConfig) -> dict:
    """Widgets for the algorithm and its parameters; returns the chosen values. Long on purpose:
    a form, one widget per option, the algorithm's own options shown only for it."""
    k = ws.widget_key(name, "c_")
    chosen = cluster.model_dump()
    left, right = st.columns(2)
    with left:
        chosen["algorithm"] = choice(
            "Algorithm", list(ALGORITHMS), cluster.algorithm, k + "alg", format_func=ALGORITHMS.get
        )
        if chosen["algorithm"] != "hdbscan":
            fixed = st.toggle("Fix k myself", cluster.k is not None, key=k + "fixed")
            if fixed:
                chosen["k"] = int(st.number_input("k", 2, 100, cluster.k or 5, key=k + "k"))
            else:
                chosen["k"] = None
                chosen["k_min"], chosen["k_max"] = st.slider(
                    "Try k from … to …", 2, 30, (cluster.k_min, cluster.k_max), key=k + "range"
                )
                pick = [s for s in SELECTIONS if s != "bic" or chosen["algorithm"] == "gmm"]
                current_pick = cluster.selection if cluster.selection in pick else "auto"
                chosen["selection"] = choice("k is chosen by", pick, current_pick, k + "sel")
    with right:
        chosen["min_segment_size"] = size_input(
            "Smallest acceptable segment", cluster.min_segment_size, k + "min"
        )
        if chosen["algorithm"] == "hdbscan":
            _warm_hdbscan()
            h = cluster.hdbscan
            density = h.model_dump()
            density["min_cluster_size"] = size_input(
                "HDBSCAN min cluster size", h.min_cluster_size, k + "hmin"
            )
            samples = int(
                st.number_input(
                    "min_samples (0 = same as min cluster size)", 0, 1000, h.min_samples or 0, key=k + "hs"
                )
            )
            density["min_samples"] = samples or None
            density["cluster_selection_epsilon"] = st.number_input(
                "cluster_selection_epsilon", 0.0, 10.0, h.cluster_selection_epsilon, key=k + "eps"
            )
            density["cluster_selection_method"] = choice(
                "cluster_selection_method",
                ["eom", "leaf"],
                h.cluster_selection_method,
                k + "meth",
            )
            density["metric"] = choice(
                "metric",
                ["euclidean", "manhattan", "chebyshev"],
                h.metric,
                k + "metric",
            )
            policies = ["keep", "random_forest", "nearest"]
            density["noise_policy"] = choice(
                "Noise points",
                policies,
                h.noise_policy,
                k + "noise",
                help="keep: segment 0; random_forest: predicted from confident core points; nearest: nearest segment centroid",
            )
            chosen["hdbscan"] = density
    return chosen


def more_views(name: str, data, labels: np.ndarray, colors: dict, rows: np.ndarray, k: str) -> None:
    """Parallel coordinates of the prepared features and the distribution of one original
    column per segment, on the plot sample (at most PARALLEL_LINES lines)."""
    features = list(data.matrix.columns)
    chosen = st.multiselect(
        "Parallel coordinates: features", features, default=features[: min(6, len(features))], key=k + "par"
    )
    lines = rows[:PARALLEL_LINES]
    if chosen:
        sample_note(len(lines), len(data.matrix), "lines")
        st.plotly_chart(
            charts.parallel_coordinates(data.matrix.iloc[lines][chosen], labels[lines], colors),
            key=f"par_{name}",
        )
    original = tables[name].frame.select_dtypes("number")
    if not original.empty:
        left, right = st.columns([3, 1])
        feature = left.selectbox("Distribution of", list(original.columns), key=k + "feat")
        violin = right.toggle("Violin", key=k + "violin")
        values = original[feature].reindex(data.matrix.index).iloc[rows]
        words, unit = column_words(feature, ws.config.columns), column_unit(feature, ws.config.columns)
        st.plotly_chart(
            charts.distribution(values, labels[rows], colors, violin, words, unit), key=f"dist_{name}"
        )


def group_by_picker(name: str, dataset, algorithm: str) -> None:
    """Nested segmentation: the column whose values (formats, regions) are segmented apart
    (not with HDBSCAN, which has no k to choose per group)."""
    columns = list(tables[name].categorical)
    if algorithm == "hdbscan" or not columns:
        if dataset.group_by is not None:
            dataset.group_by = None
            st.caption("Nested segmentation needs a k-based algorithm: the grouping is off.")
        return
    current_value = dataset.group_by if dataset.group_by in columns else None
    chosen = st.selectbox(
        "Segment within each value of",
        [None, *columns],
        index=[None, *columns].index(current_value),
        format_func=lambda c: "(no grouping: one segmentation of all rows)" if c is None else c,
        help="Nested segmentation: each group (a format, a region) gets its own segments and its own k; "
        "a group too small for two segments is one.",
        key=ws.widget_key(name, "group_by"),
    )
    if chosen != dataset.group_by:
        dataset.group_by = chosen


def nested_view(name: str, result) -> None:
    """A nested segmentation's groups: rows, k and rule of each, and each group's k sweep."""
    column = ws.config.datasets[name].group_by
    st.markdown(f"**Segments within each {column}**: each group clustered on its own.")
    table(result.group_table)
    for group, selection in result.selections().items():
        with st.expander(f"{column} {group}: k = {selection.chosen_k}"):
            st.plotly_chart(
                charts.k_selection(selection.scores, selection.chosen_k, selection.elbow_k),
                key=f"k_{name}_{group}",
            )
            st.caption(recommendation(selection))
            table(scenarios(ws, name, group))


def k_scenario_picker(name: str, sweep, fitted_k: int) -> None:
    """The k scenarios table from the dataset's sweep, two scenarios side by side, and a k to
    fit (it becomes the dataset's fixed k; the sweep stays, so the way back is one click)."""
    choices = scenarios(ws, name)
    if choices.empty:
        return
    selection = sweep.selection
    st.markdown(f"**What if: every k of the sweep.** {recommendation(selection)}")
    st.caption(
        f"Stability: each segment's mean Jaccard over refits on subsamples (the smallest and the mean); "
        f"{STABLE:.2f} or more is a stable segment, {PATTERN:.2f} to {STABLE:.2f} a pattern. Names are a "
        "preview from the sweep's sample."
    )
    table(choices)
    by_k = choices.set_index("k")
    ks = list(by_k.index)

    def describe(k: int) -> str:
        return (
            f"k = {k} · silhouette {by_k.loc[k, 'silhouette']:.2f} · "
            f"{stability_word(by_k.loc[k, 'jaccard_min'])}"
            + (" · recommended" if by_k.loc[k, "recommended"] else "")
            + (" · fitted" if k == fitted_k else "")
        )

    side_by_side(name, ks, selection.chosen_k, fitted_k, describe)
    left, right = st.columns([3, 1])
    k = left.selectbox(
        "Scenario to fit",
        ks,
        index=ks.index(fitted_k if fitted_k in ks else selection.chosen_k),
        format_func=describe,
        key=ws.widget_key(name, "scenario"),
    )
    if right.button(f"Fit k = {k}", key=ws.widget_key(name, "fit_scenario"), width="stretch"):
        fit_scenario(name, int(k))
    if ws.config.datasets[name].cluster.k is not None and st.button(
        f"Back to the sweep's choice (k = {selection.chosen_k})", key=ws.widget_key(name, "back_to_sweep")
    ):
        fit_scenario(name, None)


def side_by_side(name: str, ks: list[int], recommended: int, fitted_k: int, describe) -> None:
    """Two k scenarios next to each other: segments, shares and stability, and what moves."""
    with st.expander("Two scenarios side by side", expanded=fitted_k != recommended):
        pick_a, pick_b = st.columns(2)
        other = fitted_k if fitted_k != recommended else next((k for k in ks if k > recommended), ks[0])
        first = pick_a.selectbox(
            "Scenario A", ks, ks.index(recommended), format_func=describe, key=ws.widget_key(name, "pair_a")
        )
        second = pick_b.selectbox(
            "Scenario B", ks, ks.index(other), format_func=describe, key=ws.widget_key(name, "pair_b")
        )
        pair = attempt(lambda: scenario_pair(ws, name, (int(first), int(second))))
        if pair is None:
            return
        for where, k in zip((pick_a, pick_b), pair.ks, strict=True):
            jaccard = pair.stability[k]
            where.markdown(
                f"**k = {k}**: least stable segment {stability_word(jaccard)} (Jaccard {jaccard:.2f})"
            )
            table(pair.segments[k][["share", "name"]], where=where)
        st.markdown("**What moves between them** (rows of the sweep's sample)")
        for sentence in pair.moves:
            st.markdown(f"- {sentence}")
        st.plotly_chart(charts.segment_grid(pair.flows, "rows"), key=f"pair_{name}")


def fit_scenario(name: str, k: int | None) -> None:
    """Make ``k`` the dataset's fixed k (None: back to the sweep's choice) and fit it; the
    config records it, so it round-trips."""
    cluster = ws.config.datasets[name].cluster
    ws.config.datasets[name].cluster = cluster.model_copy(update={"k": k})
    ws.generation += 1  # the options' widgets show the fixed k
    shown = f"k = {k}" if k is not None else "the sweep's k"
    attempt(lambda: clustered(ws, name), spinner=f"Fitting {shown} on {name}…")
    st.rerun()


def show_results(name: str, result, data) -> None:
    labels = result.labels.to_numpy(dtype=str)
    colors = segment_colors(list(labels))
    key = stage_key(ws, "clustered", name)
    if result.clusterability is not None:
        shown = st.success if result.clusterability.clear else st.warning
        shown(f"**{result.clusterability.verdict.capitalize()}**", icon=":material/explore:")
        table(result.clusterability.tests, width="content")
        st.caption(result.clusterability.plain(ws.config.entities()[1]))
    for warning in result.warnings:
        if result.clusterability is None or not warning.startswith(
            result.clusterability.verdict.capitalize()
        ):
            st.warning(warning)
    for note in result.notes:
        st.info(note)
    sweep = held_sweep(ws, name)
    if sweep is not None and sweep.selection is not None and result.group_table is None:
        selection, fitted_k = sweep.selection, int(result.labels.nunique())
        if ws.config.datasets[name].cluster.k is None:
            st.markdown(f"**k = {selection.chosen_k}**: {selection.rule}.")
        else:
            st.markdown(
                f"**k = {fitted_k}**, fixed by you; the sweep recommends k = {selection.chosen_k}: {selection.rule}."
            )
        st.plotly_chart(charts.k_selection(selection.scores, fitted_k, selection.elbow_k), key=f"k_{name}")
        st.caption(
            f"Models fitted on {selection.sample_rows:,} rows; silhouette on a fixed-seed sample of {selection.silhouette_rows:,} rows."
        )
        table(selection.consensus)
        k_scenario_picker(name, sweep, fitted_k)
    if result.group_table is not None:
        nested_view(name, result)
    table(readable_metrics(result.metrics, ["after"]).rename(columns={"after": "value"}))
    sizes = result.labels.value_counts().sort_index()
    st.plotly_chart(charts.segment_sizes(sizes, colors, "Segment sizes"), key=f"sizes_{name}")

    result_views(name, result, data, key, colors)


def result_views(name: str, result, data, key: str, colors: dict) -> None:
    """The views as lazy tabs: only the tab on screen draws. Each is thousands of points for
    the browser; drawn together on every visit they made a page switch take a second."""
    matrix = data.matrix.to_numpy()
    labels = result.labels.to_numpy(dtype=str)
    k = ws.widget_key(name, "plot_")
    hierarchical = (
        ws.config.datasets[name].cluster.algorithm == "agglomerative" and result.group_table is None
    )
    views = [*VIEWS, "Dendrogram"] if hierarchical else list(VIEWS)
    projection, silhouette, more, *tree = st.tabs(views, key=k + "view", on_change="rerun")
    with projection:
        if projection.open is not False:
            projection_view(name, key, matrix, labels, colors, data, k)
    with silhouette:
        if silhouette.open:
            positions, silhouettes = _silhouettes(key, matrix, labels, ws.config.random_state)
            sample_note(len(positions), len(matrix), "rows")
            st.plotly_chart(charts.silhouette_plot(silhouettes, labels[positions], colors), key=f"sil_{name}")
    with more:
        if more.open:
            rows = sample_rows(len(matrix), PLOT_SAMPLE, ws.config.random_state)  # the projection's
            more_views(name, data, labels, colors, rows, k)
    for tab in tree:
        with tab:
            if tab.open:
                dendrogram_view(name, key, matrix, labels, colors)


def projection_view(
    name: str, key: str, matrix: np.ndarray, labels: np.ndarray, colors: dict, data, k: str
) -> None:
    """The segments on a 2D or 3D PCA or t-SNE projection of the plot sample."""
    left, middle = st.columns(2)
    method = left.selectbox(
        "Projection", ["pca", "tsne"], format_func=lambda m: "PCA" if m == "pca" else "t-SNE", key=k + "proj"
    )
    dims = middle.radio("Dimensions", [2, 3], horizontal=True, key=k + "dims")
    rows, coords = _embedding(key, method, int(dims), matrix, ws.config.random_state)
    sample_note(len(rows), len(matrix))
    st.plotly_chart(
        charts.scatter(coords, labels[rows], colors, list(data.matrix.index[rows].astype(str))),
        key=f"scatter_{name}",
    )


# Lazy tabs: every tab keeps its options and button, but only the tab on screen draws its
# charts (each is a few thousand points for the browser).
# keyed by the datasets, not the widget generation: fitting a scenario (a new generation, so the
# options show the fixed k) keeps the analyst on the dataset's tab
tab_key = "cluster_tabs_" + "_".join(ws.config.datasets)
tabs = st.tabs(list(ws.config.datasets), key=tab_key, on_change="rerun")
for tab, name in zip(tabs, ws.config.datasets, strict=True):
    with tab:
        dataset = ws.config.datasets[name]
        chosen = options(name, dataset.cluster)
        group_by_picker(name, dataset, chosen["algorithm"])
        new = attempt(
            lambda chosen=chosen: ClusterConfig(**{**chosen, "hdbscan": HdbscanConfig(**chosen["hdbscan"])})
        )
        if new is not None and new != dataset.cluster:
            dataset.cluster = new
        if st.button(f"Run clustering on {name}", type="primary", key=ws.widget_key(name, "run")):
            with st.status(f"Clustering {name}…", expanded=False) as status:
                done = attempt(lambda name=name: clustered(ws, name))
                status.update(
                    label=f"{name}: done" if done is not None else f"{name}: stopped",
                    state="complete" if done is not None else "error",
                )
        result = held(ws, "clustered", name)
        if result is None:
            st.info("Press **Run clustering** to segment this dataset with these options.")
            continue
        if tab.open is not False:
            show_results(name, result, prepared(ws, name))

if all(held(ws, "clustered", n) is not None for n in ws.config.datasets):
    target = "pages/merge.py" if len(ws.config.datasets) == 2 else "pages/profiles.py"
    st.page_link(
        target,
        label="Next: merge and compare" if len(ws.config.datasets) == 2 else "Next: profiles and labels",
        icon=":material/arrow_forward:",
    )
