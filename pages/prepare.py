"""Prepare: every preprocessing option per dataset, and what each step did."""

import streamlit as st

from clustering.config import PreprocessConfig
from clustering.explain.profiling import correlation_matrix
from ui import charts
from ui.memory import BOUNDED
from ui.numbers import table
from ui.state import checked_tables, held, prepared, stage_key
from ui.widgets import attempt, choice, page, require

ws = page(
    "prepare", "Prepare", "Choose columns, imputation, outliers, scaling and reduction for each dataset."
)
require(ws, "loaded", "Load data first.")
tables, _ = checked_tables(ws)


@st.cache_data(show_spinner=False, max_entries=8, **BOUNDED)
def _correlations(key: str, _frame) -> object:
    return correlation_matrix(_frame)


def options(name: str, preprocess: PreprocessConfig, columns: list[str]) -> dict:
    """Widgets for every preprocessing option; returns the chosen values. Long on purpose: a
    form, one widget per option in the order the page shows them."""
    k = ws.widget_key(name, "")
    left, middle, right = st.columns(3)
    chosen = {}
    with left:
        st.markdown("**Columns**")
        include = st.multiselect(
            "Use only these columns (empty: all)",
            columns,
            default=preprocess.include or [],
            key=k + "include",
        )
        chosen["include"] = include or None
        chosen["exclude"] = st.multiselect(
            "Never use", columns, default=[c for c in preprocess.exclude if c in columns], key=k + "exclude"
        )
        chosen["categorical"] = choice(
            "Text columns",
            ["onehot", "drop"],
            preprocess.categorical,
            k + "cat",
        )
        chosen["max_categories"] = st.number_input(
            "Levels kept per text column", 2, 200, preprocess.max_categories, key=k + "maxcat"
        )
        chosen["drop_constant"] = st.checkbox(
            "Drop constant columns", preprocess.drop_constant, key=k + "const"
        )
        chosen["near_zero_variance"] = st.checkbox(
            "Drop near-zero-variance columns", preprocess.near_zero_variance, key=k + "nzv"
        )
        corr_on = st.checkbox(
            "Drop one of each highly correlated pair",
            preprocess.correlation_threshold is not None,
            key=k + "corr_on",
        )
        threshold = st.slider(
            "|r| above",
            0.5,
            0.999,
            preprocess.correlation_threshold or 0.95,
            key=k + "corr",
            disabled=not corr_on,
        )
        chosen["correlation_threshold"] = threshold if corr_on else None
    with middle:
        st.markdown("**Values**")
        methods = ["median", "mean", "most_frequent", "knn"]
        chosen["impute"] = choice("Impute missing values with", methods, preprocess.impute, k + "impute")
        chosen["knn_neighbors"] = st.number_input(
            "KNN neighbours",
            1,
            50,
            preprocess.knn_neighbors,
            key=k + "knn",
            disabled=chosen["impute"] != "knn",
        )
        chosen["log_transform"] = st.checkbox(
            "log1p right-skewed columns", preprocess.log_transform, key=k + "log"
        )
        chosen["skew_threshold"] = st.slider(
            "Skewness above",
            0.0,
            5.0,
            preprocess.skew_threshold,
            key=k + "skew",
            disabled=not chosen["log_transform"],
        )
        outliers = ["none", "clip", "isolation_forest"]
        chosen["outliers"] = choice(
            "Outliers",
            outliers,
            preprocess.outliers,
            k + "out",
            help="clip: cap at quantiles; isolation_forest: flag, fit without them, then assign them. No row is dropped.",
        )
        low, high = st.slider(
            "Clip at quantiles",
            0.0,
            1.0,
            tuple(preprocess.clip_quantiles),
            step=0.005,
            key=k + "clipq",
            disabled=chosen["outliers"] != "clip",
        )
        chosen["clip_quantiles"] = (low, high)
        chosen["contamination"] = st.slider(
            "Share flagged",
            0.001,
            0.2,
            preprocess.contamination,
            key=k + "cont",
            disabled=chosen["outliers"] != "isolation_forest",
        )
    with right:
        st.markdown("**Scale and reduce**")
        scalers = ["standard", "robust", "minmax", "none"]
        chosen["scaler"] = choice("Scaler", scalers, preprocess.scaler, k + "scaler")
        reductions = ["none", "PCA", "FAMD (mixed data)"]
        current_reduction = 2 if preprocess.famd_components else 1 if preprocess.pca_variance else 0
        reduction = st.radio("Reduction", reductions, index=current_reduction, key=k + "reduction")
        variance = st.slider(
            "PCA: keep this share of variance",
            0.5,
            0.99,
            preprocess.pca_variance or 0.9,
            key=k + "pca",
            disabled=reduction != "PCA",
        )
        components = st.number_input(
            "FAMD components",
            1,
            50,
            preprocess.famd_components or 5,
            key=k + "famd",
            disabled=not reduction.startswith("FAMD"),
        )
        chosen["pca_variance"] = variance if reduction == "PCA" else None
        chosen["famd_components"] = int(components) if reduction.startswith("FAMD") else None
    chosen["weights"] = weight_sliders(name, preprocess, columns)
    return chosen


def weight_sliders(name: str, preprocess: PreprocessConfig, columns: list[str]) -> dict[str, float]:
    """One slider per column: its weight in the distances after scaling (1: as any other)."""
    k = ws.widget_key(name, "weight_")
    weighted = {c: w for c, w in preprocess.weights.items() if w != 1.0}
    title = "Attribute weights" + (f" ({len(weighted)} set)" if weighted else "")
    chosen = {}
    with st.expander(title, expanded=bool(weighted)):
        st.caption(
            "Multiplies a column's scaled values (a text column's levels, or its FAMD coding) in the "
            "distances: 2 counts it twice, 0 leaves it out. Recorded in the config and the tracked run."
        )
        grid = st.columns(3)
        for position, column in enumerate(columns):
            current = float(preprocess.weights.get(column, 1.0))
            top = max(5.0, current)
            value = grid[position % 3].slider(column, 0.0, top, current, step=0.25, key=k + column)
            if value != 1.0:
                chosen[column] = value
    # a weight the analyst wrote in the YAML for another column stays
    return {**{c: w for c, w in preprocess.weights.items() if c not in columns}, **chosen}


for tab, name in zip(st.tabs(list(ws.config.datasets)), ws.config.datasets, strict=True):
    with tab:
        checked = tables[name]
        dataset = ws.config.datasets[name]
        chosen = options(name, dataset.preprocess, [c for c in checked.frame.columns])
        new = attempt(lambda chosen=chosen: PreprocessConfig(**chosen))
        if new is not None and new != dataset.preprocess:
            dataset.preprocess = new
        if st.button(f"Prepare {name}", type="primary", key=ws.widget_key(name, "run")):
            attempt(lambda name=name: prepared(ws, name), spinner=f"Preparing {name}…")
        result = held(ws, "prepared", name)
        if result is None:
            st.info("Press **Prepare** to apply these options.")
            continue
        report = result.report
        a, b, c, d = st.columns(4)
        a.metric("Rows", f"{len(result.matrix):,}")
        b.metric("Columns in", len(report.features_in))
        c.metric("Features out", len(report.features_out))
        d.metric("Outlier rows flagged", int(result.outliers.sum()))
        st.markdown("**What each step did**")
        table(report.to_frame())
        if report.famd_explained:
            explained = report.famd_contributions.T.assign(explained=[100 * v for v in report.famd_explained])
            st.plotly_chart(
                charts.bars(
                    explained.reset_index(names="component"),
                    "component",
                    "explained",
                    "FAMD: % of inertia per component",
                )
            )
            st.plotly_chart(
                charts.heatmap(
                    report.famd_contributions, "FAMD: contribution of each variable (%)", diverging=False
                )
            )
        corr = _correlations(stage_key(ws, "prepared", name), checked.frame)
        if len(corr) > 1:
            st.plotly_chart(charts.heatmap(corr, "Correlation of the numeric columns (Pearson)", zmax=1.0))

if all(held(ws, "prepared", n) is not None for n in ws.config.datasets):
    st.page_link("pages/cluster.py", label="Next: cluster", icon=":material/arrow_forward:")
