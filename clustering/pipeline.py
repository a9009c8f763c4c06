"""One run, stage by stage: load, validate, prepare, cluster, merge, profile.

Each stage is a function the app can call on its own (and cache); ``run`` chains them
for the CLI. Results are plain dataclasses of pandas frames and numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from clustering.config import (
    ClusterConfig,
    DatabaseConfig,
    DatasetConfig,
    PreprocessConfig,
    RunConfig,
    StabilityConfig,
    resolve_size,
)
from clustering.errors import UserInputError, where
from clustering.explain.labels import PreviousRun, automatic_labels, segment_names
from clustering.explain.profiling import (
    Surrogate,
    feature_tests,
    indicator_table,
    original_features,
    segment_profiles,
    surrogate_rules,
    top_features,
)
from clustering.io.sources import WORKBOOK_SUFFIXES, list_sheets, match_sheet
from clustering.io.sources import read_table as read_file
from clustering.io.validation import (
    Finding,
    ValidatedTable,
    align_id_case,
    check_shared_ids,
    check_table,
    compare_ids,
)
from clustering.merging import MergeResult, apply_overrides, merge_segments
from clustering.model.clusterability import Clusterability, assess_clusterability
from clustering.model.density import MAX_EXACT_DIMENSIONS, DensityResult, fit_density
from clustering.model.kselection import KSelection, select_k
from clustering.model.metrics import same_partition, separation_scores, silhouette_many
from clustering.model.models import SegmentModel
from clustering.model.stability import segment_stability
from clustering.model.threads import in_parallel
from clustering.prep.features import demand_features, join_attributes
from clustering.prep.preprocessing import Preprocessor, PreprocessReport

if TYPE_CHECKING:  # the database layer (SQLAlchemy, sqlglot) loads only for a database run
    from sqlalchemy.engine import Engine

LOW_SILHOUETTE = 0.1
REASSIGNED_SHARE = 0.2
UNSTABLE_JACCARD = 0.6
ONE_FEATURE_EFFECT, OTHER_FEATURES_EFFECT = 2.0, 0.5


@dataclass
class PreparedDataset:
    """A validated table and its prepared matrix (rows in the table's ID order)."""

    name: str
    table: ValidatedTable
    preprocessor: Preprocessor
    matrix: pd.DataFrame
    outliers: np.ndarray

    @property
    def report(self) -> PreprocessReport:
        return self.preprocessor.report_


@dataclass
class ClusteredDataset:
    """Segment labels of one dataset ('I1', 'I2'...) and how k was chosen."""

    name: str
    labels: pd.Series
    k: int
    centers: np.ndarray
    selection: KSelection | None
    metrics: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    density: DensityResult | None = None
    inferred: pd.Series | None = None
    model: SegmentModel | None = None
    clusterability: Clusterability | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def silhouette(self) -> float:
        """The sampled silhouette of these segments (NaN when undefined)."""
        rows = self.metrics[self.metrics["metric"].str.startswith("silhouette")]
        return float(rows["after"].iloc[0]) if len(rows) else float("nan")


@dataclass
class Explanation:
    """What describes the final segments: profiles, tests, surrogate rules and names."""

    profiles: pd.DataFrame
    feature_tests: pd.DataFrame
    surrogate: Surrogate
    names: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def overview(self, stability: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per segment: name, size, share, top features, rule, and stability where the
        segments are one dataset's own."""
        sizes = self.profiles.drop_duplicates("segment").set_index("segment")[["size", "share"]]
        table = self.names.set_index("segment")[["label", "source"]].join(sizes)
        table["top_features"] = top_features(self.profiles)
        rules = self.surrogate.rules.set_index("segment")
        table["rule"], table["rule_precision"] = rules["rule"], rules["precision"]
        if stability is not None and not stability.empty:
            table = table.join(stability.set_index("segment")[["jaccard_mean", "stable"]])
        return table.reset_index()


@dataclass
class RunResult:
    """Everything a run produced, ready for the UI and for export."""

    config: RunConfig
    prepared: dict[str, PreparedDataset]
    clustered: dict[str, ClusteredDataset]
    merge: MergeResult | None
    assignments: pd.DataFrame
    explanation: Explanation
    stability: pd.DataFrame
    findings: list[Finding]
    final_metrics: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def profiles(self) -> pd.DataFrame:
        return self.explanation.profiles

    @property
    def names(self) -> pd.DataFrame:
        """Each final segment's name: segment, label, auto_label, source, previous_segment, overlap."""
        return self.explanation.names

    @property
    def k_selection(self) -> pd.DataFrame:
        """Every dataset's k sweep in one table."""
        frames = [
            c.selection.scores.assign(dataset=name) for name, c in self.clustered.items() if c.selection
        ]
        if not frames:
            return pd.DataFrame(columns=["dataset", "k"])
        table = pd.concat(frames, ignore_index=True)
        return table[["dataset", *[c for c in table.columns if c != "dataset"]]]

    @property
    def metrics(self) -> pd.DataFrame:
        """Per-dataset quality and the merge's before/after metrics."""
        frames = [c.metrics for c in self.clustered.values()]
        if self.merge is not None:
            frames.append(self.merge.metrics)
        if not self.final_metrics.empty:
            frames.append(self.final_metrics)
        table = pd.concat(frames, ignore_index=True)
        return table[["scope", "metric", "before", "after"]]

    @property
    def k_consensus(self) -> pd.DataFrame:
        """Every criterion's preferred k per dataset, and which criterion decided."""
        frames = [c.selection.consensus.assign(dataset=n) for n, c in self.clustered.items() if c.selection]
        if not frames:
            return pd.DataFrame(columns=["dataset", "criterion", "preferred_k", "rule", "decides"])
        table = pd.concat(frames, ignore_index=True)
        return table[["dataset", "criterion", "preferred_k", "rule", "decides"]]

    @property
    def reduction(self) -> pd.DataFrame:
        """FAMD per dataset: explained inertia (%) and each variable's contribution (%) per component."""
        frames = []
        for name, prepared in self.prepared.items():
            report = prepared.report
            if report.famd_contributions is None:
                continue
            table = report.famd_contributions.reset_index()
            explained = [*(np.asarray(report.famd_explained) * 100)]
            header = pd.DataFrame([["(explained inertia %)", *explained]], columns=table.columns)
            frames.append(pd.concat([header, table], ignore_index=True).assign(dataset=name))
        if not frames:
            return pd.DataFrame()
        table = pd.concat(frames, ignore_index=True)
        return table[["dataset", *[c for c in table.columns if c != "dataset"]]]

    @property
    def quality(self) -> pd.DataFrame:
        """Per dataset: the clusterability tests, their verdict, and the silhouette of its segments."""
        frames = [
            c.clusterability.tests.assign(
                dataset=name, verdict=c.clusterability.verdict, silhouette=c.silhouette
            )
            for name, c in self.clustered.items()
            if c.clusterability is not None
        ]
        if not frames:
            return pd.DataFrame(
                columns=["dataset", "test", "statistic", "p_value", "rows", "verdict", "silhouette"]
            )
        table = pd.concat(frames, ignore_index=True)
        return table[["dataset", "test", "statistic", "p_value", "rows", "verdict", "silhouette"]]

    @property
    def merge_log(self) -> pd.DataFrame:
        if self.merge is None:
            return pd.DataFrame(columns=["source", "target", "moved"])
        return self.merge.log

    @property
    def preprocessing(self) -> pd.DataFrame:
        """What preprocessing did, for every dataset."""
        frames = [p.report.to_frame().assign(dataset=name) for name, p in self.prepared.items()]
        table = pd.concat(frames, ignore_index=True)
        return table[["dataset", "step", "column", "detail"]]


def dataset_sources(
    config: RunConfig, input_path: str | Path | None = None, beside: bool = True
) -> dict[str, tuple[str, str | None]]:
    """Every table a run reads, by key: (file, sheet). A plain dataset reads one sheet (default:
    its name); a DFU dataset reads its sales sheet and the sheets its attributes join from.
    A CSV or Parquet file has one table, keyed by the dataset's name (or sales sheet); with
    ``beside``, the other datasets and a DFU dataset's attribute tables are the files of their
    names beside it, and a folder holds one file per table."""
    sources: dict[str, tuple[str, str | None]] = {}
    for name, dataset in config.datasets.items():
        path = dataset.path or (str(input_path) if input_path else None) or config.input
        if not path:
            raise UserInputError(
                f"Dataset '{name}' has no file: pass --input, or set 'input' or 'datasets.{name}.path'."
            )
        table = dataset.features.sales_sheet if dataset.features is not None else dataset.sheet or name
        if beside and Path(path).is_dir():
            path = str(_file_in_folder(Path(path), table))
        elif beside and len(config.datasets) > 1 and _one_table_file(path) and Path(path).stem != table:
            path = str(sibling_table(Path(path), table) or path)  # external.parquet beside internal.parquet
        workbook = Path(path).suffix.lower() in WORKBOOK_SUFFIXES
        if dataset.features is not None and workbook:
            for sheet in [dataset.features.sales_sheet, *[j.sheet for j in dataset.features.attributes]]:
                sources[sheet] = (path, sheet)
        elif workbook:
            sheet = dataset.sheet or name
            sources[sheet] = (path, sheet)
        elif dataset.features is not None:  # a file of monthly sales; attribute tables beside it
            sources[dataset.features.sales_sheet] = (path, None)
            for join in dataset.features.attributes if beside else []:  # an upload has nothing beside it
                sibling = sibling_table(Path(path), join.sheet)
                if sibling is not None:
                    sources[join.sheet] = (str(sibling), None)
        else:
            sources[name] = (path, None)
    return sources


def _one_table_file(path: str) -> bool:
    """A CSV or Parquet file (one table), not a workbook whose sheets are the tables."""
    return Path(path).suffix.lower() not in WORKBOOK_SUFFIXES


def _file_in_folder(folder: Path, table: str) -> Path:
    """The Parquet or CSV file of ``table`` in ``folder`` (as ``demo --output FOLDER`` writes)."""
    found = sibling_table(folder / f"{table}.parquet", table)
    if found is None:
        present = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in (".parquet", ".csv"))
        raise UserInputError(
            f"{folder}: no {table}.parquet or {table}.csv in this folder (it holds "
            f"{', '.join(present) or 'no CSV or Parquet file'}). Add the table, or pass its file."
        )
    return found


def sibling_table(path: Path, table: str) -> Path | None:
    """The file holding ``table`` beside a CSV or Parquet file (``dim_dfu.parquet`` beside
    ``sales_monthly.parquet``): same type first, then Parquet, then CSV; None when absent."""
    for suffix in dict.fromkeys([path.suffix.lower(), ".parquet", ".csv"]):
        candidate = path.with_name(f"{table}{suffix}")
        if candidate.is_file():
            return candidate
    return None


def attribute_sheets(config: RunConfig) -> set[str]:
    """Sheets of DFU attributes: optional (a run without them segments on demand alone)."""
    return {
        join.sheet
        for dataset in config.datasets.values()
        if dataset.features is not None
        for join in dataset.features.attributes
    }


def run_sheets(config: RunConfig, sheets: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The sheets a run reads (those ``dataset_sources`` names, and DFU features computed in a
    database), out of everything loaded; their content is the run's data fingerprint."""
    wanted = set(dataset_sources(config, "input.xlsx")) | {precomputed_key(name) for name in config.datasets}
    return {key: frame for key, frame in sheets.items() if key in wanted}


def load_tables(
    config: RunConfig, input_path: str | Path | None = None, content: bytes | None = None
) -> dict[str, pd.DataFrame]:
    """Read every table the run needs, keyed by sheet (see ``dataset_sources``); ``content``
    holds the bytes of an uploaded ``input_path``. Workbook sheets are read side by side (the
    parser releases the GIL: two 100k-row sheets in 1.8 s instead of 2.3 s); Parquet and CSV
    files one after the other (side by side, 1M DFUs' tables took longer and 600 MB more)."""
    optional = attribute_sheets(config)
    sales = {d.features.sales_sheet for d in config.datasets.values() if d.features is not None}
    sheet_names: dict[str, list[str]] = {}  # each workbook's sheets, listed once
    reads, workbook_sheets = {}, set()
    for key, (path, sheet) in dataset_sources(config, input_path, beside=content is None).items():
        source = content if content is not None else path
        if key in optional and sheet is not None:
            if path not in sheet_names:
                sheet_names[path] = list_sheets(source, str(path))
            if match_sheet(sheet, sheet_names[path]) is None:
                continue  # no attribute sheet in the workbook: dataset_tables says so in findings
        reads[key] = partial(read_file, source, sheet, filename=str(path), repeated_text=key in sales)
        if sheet is not None:
            workbook_sheets.add(key)
    tables = in_parallel({key: read for key, read in reads.items() if key in workbook_sheets})
    tables |= {key: read() for key, read in reads.items() if key not in workbook_sheets}
    return {key: tables[key] for key in reads}


def precomputed_key(dataset: str) -> str:
    """Key of a dataset's DFU features computed elsewhere (in the database)."""
    return f"{dataset}.features"


def database_sheets(engine: Engine, config: RunConfig) -> dict[str, pd.DataFrame]:
    """Every table the run needs, read from the database (``database.tables`` maps sheet
    names to tables); DFU features are computed in the database when ``pushdown`` is on."""
    from clustering.io.pushdown import pushdown_features

    db = config.database
    sheets: dict[str, pd.DataFrame] = {}
    for name, dataset in config.datasets.items():
        wanted = [dataset.sheet or name]
        if dataset.features is not None:
            wanted = [j.sheet for j in dataset.features.attributes]
            sales = db.tables.get(dataset.features.sales_sheet, dataset.features.sales_sheet)
            if db.pushdown:
                features, dropped = pushdown_features(engine, sales, dataset.features, db.schema_name)
                features = features.set_index(dataset.features.id_column)
                features.attrs["dropped"] = dropped
                sheets[precomputed_key(name)] = features
            else:
                wanted.append(dataset.features.sales_sheet)
        for sheet in wanted:
            sheets[sheet] = _database_sheet(engine, db, sheet)
    return sheets


def _database_sheet(engine: Engine, db: DatabaseConfig, sheet: str) -> pd.DataFrame:
    """One sheet from the database: its SELECT (``queries``), else its table's chosen columns."""
    from clustering.io.database import read_table, run_select

    if sheet in db.queries:
        frame = run_select(engine, db.queries[sheet], db.max_rows, db.statement_timeout_seconds)
        if len(frame) == db.max_rows:
            raise UserInputError(
                f"The query for '{sheet}' returned {db.max_rows:,} rows or more: narrow it, or raise database.max_rows."
            )
        return frame
    table = db.tables.get(sheet, sheet)
    wanted = db.columns.get(sheet) or None
    return read_table(engine, table, wanted, schema=db.schema_name, timeout=db.statement_timeout_seconds)


def dataset_tables(
    config: RunConfig, sheets: dict[str, pd.DataFrame]
) -> tuple[dict[str, pd.DataFrame], list[Finding]]:
    """One table per dataset: its sheet, or for a DFU dataset the features built from sales."""
    tables, findings = {}, []
    for name, dataset in config.datasets.items():
        if dataset.features is None:
            key = dataset.sheet or name
            if key not in sheets:
                raise UserInputError(f"No table was given for dataset '{name}' (sheet '{key}').")
            tables[name] = sheets[key]
            continue
        precomputed = sheets.get(precomputed_key(name))
        if precomputed is not None:
            joined = join_attributes(precomputed.copy(), sheets, dataset.features)
            table = joined.reset_index()
            table.attrs["skipped_attributes"] = joined.attrs["skipped_attributes"]
            dropped = precomputed.attrs.get("dropped", [])
        else:
            table, dropped = demand_features(sheets, dataset.features)
        skipped = table.attrs.get("skipped_attributes", [])
        table.attrs["source"] = f"{name} (features from '{dataset.features.sales_sheet}')"
        tables[name] = table
        if skipped:
            findings.append(
                Finding(
                    "info",
                    dataset.features.sales_sheet,
                    f"No {' or '.join(repr(s) for s in skipped)} table was given, so the DFUs are described "
                    f"without {'its' if len(skipped) == 1 else 'their'} attributes (the segments come from "
                    f"demand). To add them, load a sheet (or a file beside the sales file) named {skipped[0]}.",
                )
            )
        if dropped:
            findings.append(
                Finding(
                    "warning",
                    dataset.features.sales_sheet,
                    f"{len(dropped)} DFU(s) have fewer than {dataset.features.min_months} months of history "
                    f"in the window and were left out (e.g. {', '.join(dropped[:5])}).",
                )
            )
    return tables, findings


def validate_tables(
    tables: dict[str, pd.DataFrame], config: RunConfig
) -> tuple[dict[str, ValidatedTable], list[Finding]]:
    """Check every table; raise one UserInputError listing all errors, else return the findings."""
    checked = {
        name: check_table(frame, config.id_column, frame.attrs.get("source", name))
        for name, frame in tables.items()
    }
    findings = [f for table in checked.values() for f in table.findings]
    errors = [f.text() for f in findings if f.level == "error"]
    if errors:
        raise UserInputError("\n".join(errors))
    findings += align_id_case(checked) + compare_ids(checked)
    if len(checked) == 2 and config.merge.enabled:
        (first, a), (second, b) = ((name, table.frame.index) for name, table in checked.items())
        check_shared_ids(first, a, second, b, config.id_column)
    return checked, findings


def prepare_dataset(
    name: str, table: ValidatedTable, config: DatasetConfig, random_state: int | None
) -> PreparedDataset:
    """Fit the preprocessing of one dataset and return its matrix."""
    included = set(config.preprocess.include or [])  # an identifier-like column named there is used
    categorical = [*table.categorical, *(c for c in table.identifiers if c in included)]
    preprocessor = Preprocessor(
        _without_absent_attributes(config, table), table.numeric, categorical, random_state
    )
    with where(f"{table.source} (dataset '{name}')"):
        matrix = preprocessor.fit_transform(table.frame)
    frame = pd.DataFrame(matrix, index=table.frame.index, columns=preprocessor.feature_names_out_)
    return PreparedDataset(name, table, preprocessor, frame, preprocessor.outliers_)


def _without_absent_attributes(config: DatasetConfig, table: ValidatedTable) -> PreprocessConfig:
    """The preprocessing config, minus exclusions of DFU attribute columns that were not
    joined (their table was not given): excluding an absent attribute changes nothing."""
    if config.features is None:
        return config.preprocess
    attributes = {c for join in config.features.attributes for c in join.columns}
    absent = {c for c in config.preprocess.exclude if c in attributes and c not in table.frame.columns}
    if not absent:
        return config.preprocess
    kept = [c for c in config.preprocess.exclude if c not in absent]
    return config.preprocess.model_copy(update={"exclude": kept})


def cluster_dataset(
    prepared: PreparedDataset, config: DatasetConfig, prefix: str, random_state: int | None
) -> ClusteredDataset:
    """Choose k (or take the fixed k), fit on a sample of the inliers, assign every row;
    or, for HDBSCAN, find density-based segments and apply the noise policy."""
    with where(f"{prepared.table.source} (dataset '{prepared.name}')"):
        result = _cluster_fit(prepared, config, prefix, random_state)
    result.clusterability = assess_clusterability(
        prepared.matrix.to_numpy()[~prepared.outliers], random_state
    )
    result.warnings = cluster_warnings(result, config.cluster)
    return result


def cluster_warnings(result: ClusteredDataset, cluster: ClusterConfig) -> list[str]:
    """What an expert would raise an eyebrow at in one dataset's segments."""
    warnings = []
    if result.clusterability is not None and not result.clusterability.clear:
        warnings.append(
            f"{result.clusterability.summary()} Treat the segments as a convenient split of one "
            f"continuous population, and check that each is large and stable enough to act on."
        )
    if result.silhouette < LOW_SILHOUETTE:
        warnings.append(
            f"The silhouette of the segments is {result.silhouette:.3f}, below {LOW_SILHOUETTE}: "
            f"entities sit about as close to other segments as to their own."
        )
    selection = result.selection
    if selection is not None and cluster.k is None and cluster.k_min < cluster.k_max:
        if selection.chosen_k == cluster.k_max:
            warnings.append(
                f"k = {selection.chosen_k} is the largest k tried: the best k may lie above the range. "
                f"Raise k_max and look at the k-selection chart."
            )
        elif selection.chosen_k == cluster.k_min:
            warnings.append(
                f"k = {selection.chosen_k} is the smallest k tried: the data may hold fewer natural "
                f"groups than that (see the clusterability verdict)."
            )
    density = result.density
    if (
        density is not None
        and density.noise_before > REASSIGNED_SHARE
        and density.noise_after < density.noise_before
    ):
        how = {
            "random_forest": f"a RandomForest trained on {density.trained_rows:,} confident core rows",
            "nearest": "the nearest segment centroid",
        }[cluster.hdbscan.noise_policy]
        warnings.append(
            f"HDBSCAN labeled {density.noise_before:.0%} of rows noise, and they were reassigned by "
            f"{how}: their segments are inferred, not found (column '{result.name}_inferred'). "
            f"Consider noise_policy 'keep', a smaller min_cluster_size, or KMeans."
        )
    return warnings


def _cluster_fit(
    prepared: PreparedDataset, config: DatasetConfig, prefix: str, random_state: int | None
) -> ClusteredDataset:
    cluster = config.cluster
    if cluster.algorithm == "hdbscan":
        return _cluster_density(prepared, config, prefix, random_state)
    X = prepared.matrix.to_numpy()
    inliers = X[~prepared.outliers]
    min_size = resolve_size(cluster.min_segment_size, len(X))
    selection = select_k(inliers, cluster, min_size, random_state)
    model = final_model(inliers, cluster, selection, random_state)
    codes = model.predict(X)
    notes = list(selection.warnings)
    notes.append(_fit_note(model, selection, len(inliers)))
    if prepared.outliers.any():
        notes.append(
            f"{int(prepared.outliers.sum())} outlier row(s) were left out of the fit, then assigned."
        )
    labels = pd.Series([f"{prefix}{c + 1}" for c in codes], index=prepared.matrix.index, dtype="string")
    silhouette = _sweep_silhouette(selection, codes, len(inliers) == len(X))
    if silhouette is None:
        (silhouette,) = silhouette_many(X, [codes], cluster.silhouette_sample, random_state)
    metrics = _dataset_metrics(prepared.name, X, codes, silhouette, min(len(X), cluster.silhouette_sample))
    if len(model.start_scores_) > 1:
        best, worst = model.start_scores_.min(), model.start_scores_.max()
        label = "inertia" if cluster.algorithm != "gmm" else "negative log-likelihood per row"
        metrics = pd.concat(
            [
                metrics,
                pd.DataFrame(
                    [
                        (f"{label}, best of {len(model.start_scores_)} starts", best),
                        (f"{label}, worst start", worst),
                    ],
                    columns=["metric", "after"],
                ).assign(scope=prepared.name, before=np.nan),
            ],
            ignore_index=True,
        )
    return ClusteredDataset(
        prepared.name,
        labels,
        len(model.cluster_centers_),
        model.cluster_centers_,
        selection,
        metrics,
        notes,
        model=model,
    )


def _sweep_silhouette(selection: KSelection, codes: np.ndarray, no_outliers: bool) -> float | None:
    """The sweep's silhouette of the chosen k when it scored these very rows (no outlier left
    out, no sample drawn) and the final fit found the same partition: the same value (to the
    float32 rounding of the sums), without a second pass over the distances. None otherwise."""
    if not no_outliers or selection.sample_rows != len(codes):
        return None
    sweep = selection.models[selection.chosen_k].labels_
    if not same_partition(sweep, codes):
        return None
    return float(selection.scores.loc[selection.scores["k"] == selection.chosen_k, "silhouette"].iloc[0])


def final_model(
    X: np.ndarray, cluster: ClusterConfig, selection: KSelection, random_state: int | None
) -> SegmentModel:
    """The chosen k fitted on every row with ``n_init`` starts, the best kept; agglomerative
    clustering keeps the sweep's Ward model (deterministic, and fitted on a sample by design)."""
    if cluster.algorithm == "agglomerative":
        return selection.models[selection.chosen_k]
    return SegmentModel(
        cluster.algorithm, selection.chosen_k, random_state, cluster.agglomerative_max_rows, cluster.n_init
    ).fit(X)


def _fit_note(model: SegmentModel, selection: KSelection, rows: int) -> str:
    """How the final model was fitted, with the spread of its starts."""
    if not len(model.start_scores_):
        return (
            f"k was chosen on a fixed-seed sample of {selection.sample_rows:,} of {rows:,} rows; the Ward "
            f"model of that sample assigned every row to its nearest segment centroid."
        )
    scores = model.start_scores_
    text = f"The final model was fitted on all {rows:,} rows"
    if selection.sample_rows < rows:
        text = f"k was chosen on a fixed-seed sample of {selection.sample_rows:,} rows; t" + text[1:]
    if len(scores) == 1:
        return text + " with one start."
    spread = (scores.max() - scores.min()) / abs(scores.min()) if scores.min() else 0.0
    started_on = getattr(model, "start_rows_", rows)  # models saved before it was recorded: all rows
    if started_on < rows:
        return (
            text + f" from the best of {len(scores)} starts on a fixed-seed sample of {started_on:,} rows "
            f"(the worst start scored {spread:.1%} worse on the sample)."
        )
    return (
        text
        + f", best of {len(scores)} starts (the worst start scored {spread:.1%} worse"
        + (": single-start fits land in poorer local optima here)." if spread > 0.01 else ").")
    )


def _cluster_density(
    prepared: PreparedDataset, config: DatasetConfig, prefix: str, random_state: int | None
) -> ClusteredDataset:
    """HDBSCAN on every row; noise is segment 0 when kept, else reassigned and flagged."""
    X = prepared.matrix.to_numpy()
    density = fit_density(X, config.cluster.hdbscan, random_state)
    codes = density.labels
    labels = pd.Series([f"{prefix}{c + 1}" for c in codes], index=prepared.matrix.index, dtype="string")
    clustered = codes >= 0
    (silhouette,) = silhouette_many(
        X[clustered], [codes[clustered]], config.cluster.silhouette_sample, random_state
    )
    metrics = _dataset_metrics(
        prepared.name,
        X[clustered],
        codes[clustered],
        silhouette,
        min(int(clustered.sum()), config.cluster.silhouette_sample),
    )
    extra = pd.DataFrame(
        [
            ("noise share before policy", density.noise_before),
            ("noise share after policy", density.noise_after),
            ("relative validity", density.relative_validity),
            (f"DBCV (sample of {density.dbcv_rows})", density.dbcv),
        ],
        columns=["metric", "after"],
    ).assign(scope=prepared.name, before=np.nan)
    notes = [
        f"HDBSCAN (min_cluster_size {density.min_cluster_size}) labeled {density.noise_before:.1%} of rows noise; "
        f"policy '{config.cluster.hdbscan.noise_policy}' leaves {density.noise_after:.1%}."
    ]
    if density.noise_after > 0:
        notes.append(f"Noise rows form segment {prefix}0.")
    if density.projected_variance is not None:
        notes.append(
            f"The data has {X.shape[1]} prepared columns: HDBSCAN ran on its first "
            f"{MAX_EXACT_DIMENSIONS} principal components ({density.projected_variance:.1%} of the variance)."
        )
    inferred = pd.Series(density.inferred, index=prepared.matrix.index)
    return ClusteredDataset(
        prepared.name,
        labels,
        len(density.centers),
        density.centers,
        None,
        pd.concat([metrics, extra], ignore_index=True),
        notes,
        density,
        inferred,
    )


def _dataset_metrics(
    name: str, X: np.ndarray, codes: np.ndarray, silhouette: float, silhouette_rows: int
) -> pd.DataFrame:
    """Quality of one dataset's segments. The silhouette is the k sweep's, on its sample."""
    ch, db = separation_scores(X, codes)
    rows = [
        ("segments", float(len(np.unique(codes)))),
        ("smallest segment", float(np.bincount(codes).min())),
        (f"silhouette (sample of {silhouette_rows})", float(silhouette)),
        ("calinski_harabasz", ch),
        ("davies_bouldin", db),
    ]
    return pd.DataFrame(rows, columns=["metric", "after"]).assign(scope=name, before=np.nan)


@dataclass
class Combined:
    """The final segment of every entity: the merge of two labelings (or one dataset's labels),
    then the analyst's overrides (``config.overrides``), with what the overrides did."""

    assignments: pd.DataFrame
    merge: MergeResult | None
    notes: list[str] = field(default_factory=list)
    metrics: pd.DataFrame = field(default_factory=pd.DataFrame)


def combine_segments(
    clustered: dict[str, ClusteredDataset],
    prepared: dict[str, PreparedDataset],
    config: RunConfig,
) -> Combined:
    """Assignments of every ID (the index): the merge of two labelings, or one dataset's
    labels as final; with a ``<dataset>_inferred`` flag where HDBSCAN noise was reassigned,
    and an ``override`` flag where the analyst moved an entity."""
    if len(clustered) == 2 and config.merge.enabled:
        (first, a), (second, b) = ((name, c.labels.index) for name, c in clustered.items())
        check_shared_ids(first, a, second, b, config.id_column)
        merge = merge_segments(
            {name: c.labels for name, c in clustered.items()},
            {name: p.matrix for name, p in prepared.items()},
            config.merge,
            config.random_state,
        )
        assignments = merge.assignments
    else:
        merge = None
        assignments = pd.concat([c.labels.rename(f"{name}_cluster") for name, c in clustered.items()], axis=1)
        assignments["final_cluster"] = assignments.iloc[:, 0].astype("string")
    assignments = _add_inferred_flags(assignments, clustered)
    assignments.index.name = config.id_column
    if merge is not None:
        silhouette = merge.metrics.loc[merge.metrics["metric"].str.startswith("silhouette"), "after"]
        if len(silhouette) and float(silhouette.iloc[0]) < LOW_SILHOUETTE:
            merge.warnings.append(
                f"The silhouette of the final segments is {float(silhouette.iloc[0]):.3f}, below "
                f"{LOW_SILHOUETTE}: in the combined space, stores sit about as close to other segments "
                f"as to their own."
            )
    assignments, notes = apply_overrides(assignments, config.overrides)
    metrics = pd.DataFrame()
    if assignments["override"].any():
        space, index = (
            (merge.space, merge.assignments.index)
            if merge is not None
            else (next(iter(prepared.values())).matrix.to_numpy(), next(iter(prepared.values())).matrix.index)
        )
        final = assignments["final_cluster"].reindex(index).to_numpy(dtype=str)
        present = ~np.isnan(space).any(axis=1)
        codes = pd.factorize(final[present])[0]
        (silhouette,) = silhouette_many(
            space[present], [codes], config.merge.metrics_sample, config.random_state
        )
        metrics = _dataset_metrics(
            "final (with overrides)",
            space[present],
            codes,
            silhouette,
            min(int(present.sum()), config.merge.metrics_sample),
        )
    return Combined(assignments, merge, notes, metrics)


def _add_inferred_flags(assignments: pd.DataFrame, clustered: dict[str, ClusteredDataset]) -> pd.DataFrame:
    """A ``<dataset>_inferred`` column for each dataset whose noise points were reassigned."""
    for name, result in clustered.items():
        if result.inferred is not None:
            assignments[f"{name}_inferred"] = (
                result.inferred.reindex(assignments.index).fillna(False).astype(bool)
            )
    return assignments


def explain_segments(
    final: pd.Series,
    checked: dict[str, ValidatedTable],
    config: RunConfig,
    previous: PreviousRun | None = None,
) -> Explanation:
    """Profiles, feature tests, surrogate rules and names of the final segments."""
    tables = {name: table.features for name, table in checked.items()}
    features = original_features(tables).reindex(final.index)  # joined once for every step
    indicators = indicator_table(features)
    parts = in_parallel(
        {
            "surrogate": partial(surrogate_rules, final, indicators, config.random_state),
            "tests": partial(feature_tests, final, features),
            "profiles": partial(segment_profiles, final, indicators),
        }
    )
    profiles, tests, surrogate = parts["profiles"], parts["tests"], parts["surrogate"]
    labels = config.labels
    notes = []
    if labels.enabled:
        if labels.volume_column and labels.volume_column not in features:
            notes.append(
                f"labels.volume_column '{labels.volume_column}' is not a column of the data, so the "
                f"labels have no volume tier. Pick one of: {', '.join(features.select_dtypes('number').columns)}."
            )
            labels = labels.model_copy(update={"volume_column": None})
        automatic = automatic_labels(final, features, profiles, labels, config.labeling)
    else:
        automatic = pd.Series(sorted(final.unique()), index=sorted(final.unique()), dtype="string")
    names = segment_names(final, automatic, labels.overrides, previous)
    return Explanation(profiles, tests, surrogate, names, notes, one_feature_segments(profiles))


def one_feature_segments(profiles: pd.DataFrame) -> list[str]:
    """Segments set apart by a single feature (|Cohen's d| >= 2 on it, < 0.5 on every other):
    often a group of outliers in that column rather than a kind of entity."""
    notes = []
    for segment, rows in profiles.dropna(subset=["effect_size"]).groupby("segment", sort=True):
        effects = rows.set_index("feature")["effect_size"]
        ranked = effects.abs().sort_values(ascending=False)
        if (
            len(ranked)
            and ranked.iloc[0] >= ONE_FEATURE_EFFECT
            and (ranked.iloc[1:] < OTHER_FEATURES_EFFECT).all()
        ):
            feature = ranked.index[0]
            notes.append(
                f"Segment {segment} differs from the rest in one feature only ({feature}, d = "
                f"{effects[feature]:+.1f}; every other |d| < {OTHER_FEATURES_EFFECT}): it may be a group of "
                f"outliers in that column rather than a segment. Check {feature} for extreme values."
            )
    return notes


def refit_function(config: DatasetConfig, k: int) -> Callable[[np.ndarray, int], np.ndarray]:
    """(rows, seed) -> labels: the dataset's clustering rerun, for the stability check."""
    cluster = config.cluster
    if cluster.algorithm == "hdbscan":
        return lambda rows, seed: fit_density(rows, cluster.hdbscan, seed).labels
    return lambda rows, seed: (
        SegmentModel(cluster.algorithm, k, seed, cluster.agglomerative_max_rows).fit(rows).labels_
    )


def assess_stability(
    prepared: PreparedDataset, clustered: ClusteredDataset, config: RunConfig
) -> pd.DataFrame:
    """Per segment of one dataset: bootstrap Jaccard (mean, min), stable flag, and the mean ARI."""
    inliers = ~prepared.outliers
    X = prepared.matrix.to_numpy()[inliers]
    labels = clustered.labels.to_numpy(dtype=object)[inliers]
    refit = refit_function(config.datasets[prepared.name], clustered.k)
    result = segment_stability(X, labels, refit, config.stability, config.random_state)
    table = result.segments.rename(columns={"code": "segment"})
    table.insert(0, "dataset", prepared.name)
    table["size"] = table["segment"].map(clustered.labels.value_counts()).fillna(0).astype(int)
    table = table.assign(ari_mean=result.ari_mean, ari_std=result.ari_std, rows=result.rows)
    return table.assign(failed_refits=result.failed)


def check_sheets(
    config: RunConfig, sheets: dict[str, pd.DataFrame]
) -> tuple[dict[str, ValidatedTable], list[Finding]]:
    """Build each dataset's table (DFU features included) and validate it."""
    tables, built = dataset_tables(config, sheets)
    checked, findings = validate_tables(tables, config)
    return checked, built + findings


def with_segment_names(assignments: pd.DataFrame, names: pd.DataFrame) -> pd.DataFrame:
    """Assignments with a ``segment_name`` column after ``final_cluster``."""
    named = assignments.drop(columns="segment_name", errors="ignore")
    labels = named["final_cluster"].map(names.set_index("segment")["label"])
    named.insert(named.columns.get_loc("final_cluster") + 1, "segment_name", labels)
    return named


def stability_findings(stability: pd.DataFrame, config: StabilityConfig) -> list[Finding]:
    """Findings for unstable segments, and for datasets whose refits failed (each counted as a
    Jaccard of 0)."""
    if stability.empty or "failed_refits" not in stability:
        return []
    findings = [
        Finding(
            "warning",
            f"stability of {row.dataset}",
            f"Segment {row.segment} is unstable: its mean bootstrap Jaccard is {row.jaccard_mean:.2f} "
            f"(below {config.threshold}), so it does not reliably come back when the data is resampled. "
            f"Consider fewer segments, or treat it as provisional.",
        )
        for row in stability[~stability["stable"]].itertuples()
    ]
    failed = stability.groupby("dataset", sort=False)["failed_refits"].first()
    findings += [
        Finding(
            "warning",
            f"stability of {dataset}",
            f"{int(n)} of {config.resamples} refits on subsamples found no segments; each counts as a "
            f"Jaccard of 0 for every segment, so the segments are less stable than they look.",
        )
        for dataset, n in failed.items()
        if n
    ]
    return findings


def check_stability(
    prepared: dict[str, PreparedDataset], clustered: dict[str, ClusteredDataset], config: RunConfig
) -> pd.DataFrame:
    """Bootstrap stability of every dataset's segments (empty when turned off)."""
    if not config.stability.enabled:
        return pd.DataFrame()
    tables = in_parallel({n: partial(assess_stability, prepared[n], clustered[n], config) for n in clustered})
    return pd.concat(tables.values(), ignore_index=True)


def assemble_result(
    config: RunConfig,
    prepared: dict[str, PreparedDataset],
    clustered: dict[str, ClusteredDataset],
    combined: Combined,
    explanation: Explanation,
    stability: pd.DataFrame,
    findings: list[Finding],
) -> RunResult:
    """A RunResult from the stages' outputs: named assignments, every stage's warnings among the findings."""
    named = with_segment_names(combined.assignments, explanation.names).reset_index()
    merge = combined.merge
    notes = [Finding("warning", name, w) for name, result in clustered.items() for w in result.warnings]
    if merge is not None:
        notes += [Finding("warning", "merge", w) for w in merge.warnings]
    notes += [Finding("warning", "overrides", note) for note in combined.notes]
    notes += [Finding("warning", "labels", note) for note in explanation.notes]
    notes += [Finding("warning", "segments", note) for note in explanation.warnings]
    notes += stability_findings(stability, config.stability)
    return RunResult(
        config, prepared, clustered, merge, named, explanation, stability, findings + notes, combined.metrics
    )


def run(config: RunConfig, sheets: dict[str, pd.DataFrame], previous: PreviousRun | None = None) -> RunResult:
    """Validate, prepare, cluster, merge, explain, name and check the stability of the segments.

    ``sheets`` holds the input tables by sheet name (see ``load_tables``); others are ignored.
    ``previous`` (the last run's assignments and analyst names) keeps names on the same
    entities across reruns.
    """
    checked, findings = check_sheets(config, sheets)
    datasets = in_parallel(
        {name: partial(_prepare_and_cluster, name, t, config) for name, t in checked.items()}
    )
    prepared = {name: p for name, (p, _) in datasets.items()}
    clustered = {name: c for name, (_, c) in datasets.items()}

    def merge_and_explain() -> tuple[Combined, Explanation]:
        combined = combine_segments(clustered, prepared, config)
        return combined, explain_segments(combined.assignments["final_cluster"], checked, config, previous)

    after = in_parallel(
        {"explained": merge_and_explain, "stability": partial(check_stability, prepared, clustered, config)}
    )
    combined, explanation = after["explained"]
    return assemble_result(config, prepared, clustered, combined, explanation, after["stability"], findings)


def _prepare_and_cluster(
    name: str, table: ValidatedTable, config: RunConfig
) -> tuple[PreparedDataset, ClusteredDataset]:
    """One dataset's prepare and cluster stages (the datasets run side by side in ``run``)."""
    prepared = prepare_dataset(name, table, config.datasets[name], config.random_state)
    return prepared, cluster_dataset(
        prepared, config.datasets[name], config.prefix(name), config.random_state
    )
