"""Typed configuration of a run, loaded from YAML presets in ``config/``.

Every key has a default documented in docs/configuration.md. Unknown keys are errors that name
the key, and ``RunConfig.to_yaml()`` writes the resolved config back so that loading
it reproduces the run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from clustering.errors import UserInputError

PRESET_DIR = Path(__file__).resolve().parent.parent / "config"
ENV_PATTERN = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?:,([^}]*))?\}")
SIZE_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
MAX_ROWS_SPEC = 1_000_000_000  # a size given in rows


def resolve_size(spec: int | str, n_rows: int) -> int:
    """Turn a size spec (30 or '2%') into a row count for a dataset of ``n_rows``."""
    if isinstance(spec, int):
        return spec
    match = SIZE_PATTERN.match(spec)
    if match is None:  # the model validator makes this unreachable for loaded configs
        raise UserInputError(f"Size '{spec}' is neither a whole number nor a percentage like '2%'.")
    return int(-(-float(match.group(1)) * n_rows // 100))  # ceiling


def _check_size(value: int | str) -> int | str:
    if isinstance(value, bool):
        raise ValueError("expected a whole number of rows or a percentage like '2%'")
    if isinstance(value, int):
        if not 0 <= value <= MAX_ROWS_SPEC:
            raise ValueError(f"a size in rows must be between 0 and {MAX_ROWS_SPEC:,}")
        return value
    if isinstance(value, str):
        if value.strip().isdigit():
            return _check_size(int(value))
        match = SIZE_PATTERN.match(value)
        if match and float(match.group(1)) <= 100:
            return value.strip()
    raise ValueError(f"'{value}' is neither a whole number of rows nor a percentage like '2%'")


SizeSpec = Annotated[
    int | str,
    BeforeValidator(_check_size),
    Field(description="A count of rows (30) or a share of all rows as a string ('2%')."),
]


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are errors, and every number is finite (each
    field also states its range)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class PreprocessConfig(StrictModel):
    """How one dataset's columns become the numeric matrix that is clustered."""

    include: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)
    categorical: Literal["onehot", "drop"] = "onehot"
    max_categories: int = Field(20, ge=2, le=1_000)
    categorical_weight: float = Field(0.5, ge=0, le=10)
    drop_constant: bool = True
    near_zero_variance: bool = True
    nzv_freq_ratio: float = Field(19.0, gt=1, le=1_000_000)
    nzv_unique_pct: float = Field(10.0, gt=0, le=100)
    correlation_threshold: float | None = Field(None, gt=0, le=1)
    impute: Literal["median", "mean", "most_frequent", "knn"] = "median"
    knn_neighbors: int = Field(5, ge=1, le=100)
    log_transform: bool = True
    skew_threshold: float = Field(1.0, ge=0, le=100)
    outliers: Literal["none", "clip", "isolation_forest"] = "clip"
    clip_quantiles: tuple[float, float] = (0.01, 0.99)
    contamination: float = Field(0.01, gt=0, le=0.5)
    scaler: Literal["standard", "robust", "minmax", "none"] = "standard"
    pca_variance: float | None = Field(None, gt=0, le=1)
    famd_components: int | None = Field(None, ge=1, le=100)
    # attribute weights, applied after scaling: a column's prepared values (a text column's
    # one-hot or FAMD indicator columns) are multiplied by its weight; 0 leaves it out of the
    # distances, 2 counts it twice as much; unnamed columns weigh 1
    weights: dict[str, Annotated[float, Field(ge=0, le=10)]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_reduction(self) -> PreprocessConfig:
        if self.famd_components and self.pca_variance:
            raise ValueError("set either pca_variance or famd_components, not both")
        return self

    @field_validator("clip_quantiles")
    @classmethod
    def _ordered_quantiles(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 <= low < high <= 1:
            raise ValueError("needs two quantiles with 0 <= low < high <= 1, like [0.01, 0.99]")
        return value


# How k is chosen (clustering.model.kselection): the rules, in the order the app offers them.
Selection = Literal[
    "auto", "stable", "silhouette", "elbow", "calinski_harabasz", "davies_bouldin", "gap", "bic", "consensus"
]


class HdbscanConfig(StrictModel):
    """HDBSCAN's parameters and the policy for the points it labels noise."""

    min_cluster_size: SizeSpec = "2%"
    min_samples: int | None = Field(None, ge=1, le=100_000)
    cluster_selection_epsilon: float = Field(0.0, ge=0, le=1_000_000)
    cluster_selection_method: Literal["eom", "leaf"] = "eom"
    metric: Literal["euclidean", "manhattan", "chebyshev"] = "euclidean"
    noise_policy: Literal["keep", "random_forest", "nearest"] = "random_forest"
    core_probability: float = Field(0.9, gt=0, le=1)
    dbcv_sample: int = Field(5_000, ge=100, le=5_000)


class ClusterConfig(StrictModel):
    """Algorithm and k selection for one dataset."""

    algorithm: Literal["kmeans", "minibatch_kmeans", "agglomerative", "gmm", "hdbscan"] = "kmeans"
    k: int | None = Field(None, ge=2, le=100_000, description="Fixed k; leave empty to select k.")
    k_min: int = Field(2, ge=2, le=1_000)
    k_max: int = Field(12, ge=2, le=1_000)
    selection: Selection = "auto"
    min_segment_size: SizeSpec = "2%"
    n_init: int = Field(20, ge=1, le=100, description="Starts of the final fit; the best is kept.")
    sweep_n_init: int = Field(3, ge=1, le=100, description="Starts of each k's fit in the k sweep.")
    silhouette_sample: int = Field(10_000, ge=100, le=10_000)
    selection_sample: int = Field(10_000, ge=1_000, le=1_000_000)
    gap_references: int = Field(10, ge=0, le=100)
    gap_sample: int = Field(1_000, ge=100, le=20_000)
    stable_sample: int = Field(2_000, ge=200, le=20_000, description="Rows of the per-k stability check.")
    stable_resamples: int = Field(10, ge=2, le=100, description="Refits per k in the stability check.")
    # benchmarks/quality.py --refit-starts (k 2..12 on 14 sets, against 20 starts per refit): one
    # start reads a start's luck as instability (least stable segment's Jaccard 0.14 lower on
    # average, 3.3 k of 11 on the other side of 0.75); five: 0.045 and 1.4; ten: 0.017 and 0.3
    stable_starts: int = Field(10, ge=1, le=100, description="Starts of each refit in the stability checks.")
    agglomerative_max_rows: int = Field(5_000, ge=100, le=20_000)
    # entities far from every other (clustering.model.outliers): set aside from the structure
    # test and the choice of k, then assigned to their nearest segment and flagged; or kept as
    # a segment of their own; or included like any other entity
    far_entities: Literal["set_aside", "own_segment", "include"] = "set_aside"
    hdbscan: HdbscanConfig = Field(default_factory=HdbscanConfig)

    @model_validator(mode="after")
    def _k_range(self) -> ClusterConfig:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) is larger than k_max ({self.k_max})")
        if self.selection == "bic" and self.algorithm != "gmm":
            raise ValueError("selection 'bic' needs algorithm 'gmm'")
        if self.selection == "gap" and self.gap_references == 0:
            raise ValueError("selection 'gap' needs gap_references above 0")
        return self


class AttributeJoin(StrictModel):
    """Columns of another sheet joined to the DFU features (for profiles, or as features)."""

    sheet: str
    key: str | None = None
    columns: list[str]


class DemandFeatureConfig(StrictModel):
    """Build one row per DFU from monthly sales (see clustering.prep.features)."""

    sales_sheet: str = "sales_monthly"
    id_column: str = "dfu_id"
    date_column: str = "month"
    value_column: str = "units"
    window_months: int = Field(36, ge=6, le=240)
    end_month: str | None = None
    min_months: int = Field(12, ge=3, le=240)
    attributes: list[AttributeJoin] = Field(default_factory=list)

    @model_validator(mode="after")
    def _window(self) -> DemandFeatureConfig:
        if self.min_months > self.window_months:
            raise ValueError(f"min_months ({self.min_months}) exceeds window_months ({self.window_months})")
        return self


class LikeEntity(StrictModel):
    """An existing entity a new one resembles, and how much (weights of one new entity's
    like-entities are relative: 3 and 1 count as 75% and 25%)."""

    like: str = Field(min_length=1, max_length=200)
    weight: float = Field(1.0, gt=0)


class PlacementConfig(StrictModel):
    """How ``assign`` places entities the run did not segment: a like-entity mapping first,
    then ``rule``; with ``short_history``, DFUs with too short a history are placed by them
    too (by the mapping, else the largest or most cohesive segment) instead of left out."""

    like: dict[str, list[LikeEntity]] = Field(default_factory=dict)
    rule: Literal["nearest", "largest", "cohesive"] = "nearest"
    short_history: bool = False


class SegmentSplit(StrictModel):
    """One final segment clustered again on its own members: ``k`` sub-segments, or k chosen
    by the dataset's rule when None; codes extend the segment's (``I3`` -> ``I3.1``, ``I3.2``)."""

    k: int | None = Field(None, ge=2, le=12)


class DatasetConfig(StrictModel):
    """One table of entities: where it comes from and how it is prepared and clustered."""

    path: str | None = None
    sheet: str | None = None
    prefix: str | None = None
    features: DemandFeatureConfig | None = None
    group_by: str | None = Field(
        None,
        min_length=1,
        description="Nested segmentation: cluster within each value of this column (a format, a "
        "region), k chosen per group; a group too small for two segments is one.",
    )
    preprocess: PreprocessConfig = Field(default_factory=PreprocessConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)

    @model_validator(mode="after")
    def _nested_needs_k(self) -> DatasetConfig:
        if self.group_by is not None and self.cluster.algorithm == "hdbscan":
            raise ValueError(
                "group_by (nested segmentation) needs a k-based algorithm (kmeans, minibatch_kmeans, "
                "agglomerative, gmm), not hdbscan"
            )
        return self


class MergeConfig(StrictModel):
    """How two labelings combine into merged segments and how small ones are absorbed."""

    enabled: bool = True
    min_segment_size: SizeSpec = "2%"
    separator: str = "-"
    balance_datasets: bool = True
    metrics_sample: int = Field(10_000, ge=100, le=10_000)


class ColumnInfo(StrictModel):
    """What a column means, for segment names: a readable label ("annual sales") and a unit ("$")."""

    label: str | None = Field(None, min_length=1, max_length=80)
    unit: str | None = Field(None, min_length=1, max_length=20)


class LabelsConfig(StrictModel):
    """Business names of the final segments (see clustering.explain.labels)."""

    enabled: bool = True
    volume_column: str | None = None
    tiers: tuple[float, float] = (0.33, 0.67)
    # store and dfu: the presets' rules (names from distinguishing features where the store
    # rules find nothing in the data); features: from distinguishing features always;
    # codes (or none): the bare segment codes
    pattern: Literal["store", "dfu", "features", "codes", "none"] = "store"
    mix_columns: list[str] = Field(default_factory=list)
    market_column: str | None = "urbanicity"
    overrides: dict[str, str] = Field(default_factory=dict)

    @field_validator("tiers")
    @classmethod
    def _ordered_tiers(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 < value[0] < value[1] < 1:
            raise ValueError("needs two quantiles with 0 < low < high < 1, like [0.33, 0.67]")
        return value


class VolumeThresholds(StrictModel):
    """DFU-level quantiles of the volume measure: high at or above ``high``, low at or below ``low``."""

    high: float = Field(0.75, gt=0, lt=1)
    low: float = Field(0.25, gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> VolumeThresholds:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class CvThresholds(StrictModel):
    """Coefficient of variation: steady at or below ``steady``, volatile at or above ``volatile``."""

    steady: float = Field(0.3, ge=0, le=100)
    volatile: float = Field(0.8, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> CvThresholds:
        if self.steady >= self.volatile:
            raise ValueError(f"steady ({self.steady}) must be below volatile ({self.volatile})")
        return self


class LabelingConfig(StrictModel):
    """DFU business labels in the snake_case vocabulary (see clustering.explain.labels)."""

    volume_column: str = "mean_demand"
    volume_thresholds: VolumeThresholds = Field(default_factory=VolumeThresholds)
    cv_thresholds: CvThresholds = Field(default_factory=CvThresholds)
    seasonality_threshold: float = Field(0.4, ge=0, le=1)
    zero_demand_threshold: float = Field(30.0, ge=0, le=100, description="% of months without demand")
    trend_threshold: float = Field(0.015, ge=0, le=10, description="|slope / mean| per month")


class StabilityConfig(StrictModel):
    """Bootstrap stability of each dataset's segments (see clustering.model.stability)."""

    enabled: bool = True
    resamples: int = Field(20, ge=2, le=200)
    fraction: float = Field(0.8, gt=0.1, lt=1)
    max_rows: int = Field(20_000, ge=100, le=1_000_000)
    threshold: float = Field(0.6, gt=0, lt=1)


class WriteBackConfig(StrictModel):
    """Where segments are written back (see clustering.io.writeback)."""

    table: str = "dim_dfu"
    key_column: str | None = None
    column: str = "cluster_assignment"
    value: Literal["label", "segment"] = "label"
    history_table: str = "segment_assignments"
    # rows of the target table that this run does not cover (a DFU with too short a history,
    # a store missing from the run's data): given ``uncovered_label``, cleared to NULL, or kept
    uncovered: Literal["label", "clear", "keep"] = "label"
    uncovered_label: str = Field("not_segmented", min_length=1, max_length=200)


class DatabaseConfig(StrictModel):
    """Tables of a run that reads from a database (the URL is never part of the config)."""

    tables: dict[str, str] = Field(default_factory=dict)
    columns: dict[str, list[str]] = Field(default_factory=dict)
    queries: dict[str, str] = Field(default_factory=dict)
    max_rows: int = Field(5_000_000, ge=1, le=1_000_000_000)
    schema_name: str | None = None
    pushdown: bool = True
    statement_timeout_seconds: float = Field(60.0, gt=0, le=24 * 3600)
    preview_rows: int = Field(1000, ge=1, le=1_000_000)
    write_back: WriteBackConfig = Field(default_factory=WriteBackConfig)


class TrackingConfig(StrictModel):
    """Where runs are tracked (MLflow; see clustering.tracking). The URI may also come from
    $MLFLOW_TRACKING_URI; the default is a SQLite file in the working directory."""

    enabled: bool = True
    uri: str | None = None
    experiment: str | None = None


class ScaleConfig(StrictModel):
    """Beyond one machine (``--engine spark``): the DFU features are computed where the data
    lives, the segmentation is fitted on a fixed-seed sample of ``sample_rows`` DFUs
    (stratified by ``strata``, columns of the features or of the joined attributes, in
    proportion to each stratum's size), and every DFU is assigned where the data lives."""

    sample_rows: int = Field(200_000, ge=1_000, le=2_000_000)
    strata: list[str] = Field(default_factory=list)


class RunConfig(StrictModel):
    """The whole run: one or two datasets keyed by name, the merge, and the seed."""

    name: str = "run"
    id_column: str = "store_id"
    input: str | None = None
    random_state: int = Field(42, ge=0, le=2**32 - 1)
    datasets: dict[str, DatasetConfig] = Field(
        default_factory=lambda: {"internal": DatasetConfig(), "external": DatasetConfig()}
    )
    merge: MergeConfig = Field(default_factory=MergeConfig)
    labels: LabelsConfig = Field(default_factory=LabelsConfig)
    labeling: LabelingConfig = Field(default_factory=LabelingConfig)
    columns: dict[str, ColumnInfo] = Field(
        default_factory=dict, description="Data dictionary: column -> its label and unit, for names."
    )
    stability: StabilityConfig = Field(default_factory=StabilityConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    scale: ScaleConfig = Field(default_factory=ScaleConfig)
    overrides: dict[str, str] = Field(
        default_factory=dict, description="Entity ID -> final segment: the analyst's manual moves."
    )
    placement: PlacementConfig = Field(default_factory=PlacementConfig)
    splits: dict[str, SegmentSplit] = Field(
        default_factory=dict,
        description="Final segment -> how to split it further (its members clustered again on their own).",
    )

    @field_validator("datasets")
    @classmethod
    def _one_or_two(cls, value: dict[str, DatasetConfig]) -> dict[str, DatasetConfig]:
        if not 1 <= len(value) <= 2:
            raise ValueError(f"needs one or two datasets, got {len(value)}")
        for name in value:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
                raise ValueError(f"dataset name '{name}' must be letters, digits and '_'")
        return value

    def weights(self) -> dict[str, float]:
        """Every dataset's attribute weights, by column (a column in both takes the first's)."""
        merged: dict[str, float] = {}
        for dataset in self.datasets.values():
            for column, weight in dataset.preprocess.weights.items():
                merged.setdefault(column, weight)
        return merged

    def entities(self) -> tuple[str, str]:
        """What the rows are, in the domain's words: ('DFU', 'DFUs') for a demand run (a
        dataset built from monthly sales), else ('store', 'stores')."""
        demand = any(dataset.features is not None for dataset in self.datasets.values())
        return ("DFU", "DFUs") if demand else ("store", "stores")

    def prefix(self, dataset: str) -> str:
        """Label prefix of a dataset's segments: 'I' for internal, 'E' for external."""
        return self.datasets[dataset].prefix or dataset[0].upper()

    def to_yaml(self) -> str:
        """The resolved config as YAML; loading it gives an equal config."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def substitute_env(text: str, source: str = "config") -> str:
    """Replace ``${env:VAR,default}`` with the variable's value, or its default."""

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is None:
            raise UserInputError(
                f"{source}: environment variable {name} is not set and '${{env:{name}}}' has "
                f"no default. Set it, or write '${{env:{name},value}}'."
            )
        return default

    return ENV_PATTERN.sub(replace, text)


def _describe(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"unknown key '{where}': remove it or check its spelling")
        else:
            lines.append(f"'{where}': {item['msg']}")
    return f"{source}: " + "; ".join(lines)


def config_from_dict(data: dict[str, Any], source: str = "config") -> RunConfig:
    """Validate a mapping as a run config, with errors that name the key."""
    if not isinstance(data, dict):
        raise UserInputError(f"{source}: the top level must be a mapping of keys, not a list.")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        raise UserInputError(_describe(error, source)) from None


def config_from_yaml(text: str, source: str = "config", expand_env: bool = True) -> RunConfig:
    """Parse YAML text into a run config: for configs the server itself loads (presets,
    ``--config``: ``${env:...}`` substituted) and stores (a tracked run's: ``expand_env``
    False, read as written); a browser's upload goes through ``config_from_upload``."""
    try:
        data = yaml.safe_load(substitute_env(text, source) if expand_env else text) or {}
    except yaml.YAMLError as error:
        raise UserInputError(f"{source} is not valid YAML: {error}") from None
    return config_from_dict(data, source)


# An upload sets the analysis (datasets' columns, preparation, clustering, labels, the
# merge, stability, overrides); where the server reads, writes and waits is the server's.
SERVER_SECTIONS = ("input", "tracking", "database")  # and datasets.<name>.path
PATH_KEYS = ("input", "tracking.uri")  # and datasets.<name>.path
MAX_UPLOAD_CHARACTERS = 1_000_000
MAX_UPLOAD_NODES = 100_000  # values, keys and collections once YAML aliases are expanded


def _env_references(data: Any, where: str = "") -> list[str]:
    """The keys (dotted) whose key or value contains ``${env:`` (at any depth)."""
    if isinstance(data, dict):
        found = []
        for key, value in data.items():
            path = f"{where}.{key}".lstrip(".")
            if "${env:" in str(key):
                found.append(path)
            found += _env_references(value, path)
        return found
    if isinstance(data, list):
        return [k for i, value in enumerate(data) for k in _env_references(value, f"{where}[{i}]")]
    return [where or "(top level)"] if isinstance(data, str) and "${env:" in data else []


def server_paths(config: RunConfig) -> dict[str, str | None]:
    """The keys that point at the server's files or services, by dotted name."""
    paths: dict[str, str | None] = {"input": config.input, "tracking.uri": config.tracking.uri}
    for name, dataset in config.datasets.items():
        paths[f"datasets.{name}.path"] = dataset.path
    return paths


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes ``node`` stands for once every alias is expanded (each shared node
    counted once per use), computed once per node."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(item, sizes) for item in node.value)
    else:
        size = 1
    sizes[id(node)] = min(size, MAX_UPLOAD_NODES + 1)
    return sizes[id(node)]


def _upload_yaml(text: str, source: str) -> Any:
    """The upload's YAML as data, refused before it is built when it is too long or its aliases
    expand beyond ``MAX_UPLOAD_NODES`` (a 'billion laughs' bomb is a few lines of text)."""
    if len(text) > MAX_UPLOAD_CHARACTERS:
        raise UserInputError(
            f"{source} is longer than a config can be ({MAX_UPLOAD_CHARACTERS:,} characters)."
        )
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is not None and _expanded_size(root, {}) > MAX_UPLOAD_NODES:
            raise UserInputError(
                f"{source} expands to more than {MAX_UPLOAD_NODES:,} values through its YAML aliases "
                "(& and *): write the config out plainly."
            )
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise UserInputError(f"{source} is not valid YAML: {error}") from None
    except RecursionError:
        raise UserInputError(f"{source} is nested too deeply to be a config.") from None


def _leaves(data: Any, where: str) -> dict[str, Any]:
    """Every value of ``data`` by its dotted key."""
    if isinstance(data, dict) and data:
        return {k: v for key, value in data.items() for k, v in _leaves(value, f"{where}.{key}").items()}
    return {where: data}


def _server_settings_kept(data: dict, current: RunConfig, source: str) -> None:
    """Refuse an upload that changes a setting of the server's (where it reads, writes or
    waits): each such key must be absent or the value the server already has."""
    own = current.model_dump(mode="json")
    given = {section: data[section] for section in SERVER_SECTIONS if section in data}
    for name, dataset in (data.get("datasets") or {}).items():
        if isinstance(dataset, dict) and "path" in dataset:
            given[f"datasets.{name}.path"] = dataset["path"]
            own[f"datasets.{name}.path"] = (own["datasets"].get(name) or {}).get("path")
    for section, value in given.items():
        for key, leaf in _leaves(value, section).items():
            server = _leaves(own.get(section), section).get(key)
            if leaf is not None and leaf != server:
                path = key in PATH_KEYS or key.endswith(".path")
                what = (
                    "points at the server's files or services"
                    if path
                    else "is the server's setting (where it reads, writes or waits)"
                )
                raise UserInputError(
                    f"{source}: '{key}' {what}; an uploaded config cannot set it. Remove the key "
                    "(the server's own setting is used)."
                )


def config_from_upload(text: str, source: str, current: RunConfig) -> RunConfig:
    """A config the browser sent: data, not code. It may set the analysis; ``${env:`` is
    refused anywhere (keys too, and nothing says whether a variable exists); the server's
    settings (``input``, ``datasets.*.path``, ``tracking``, ``database``: where it reads,
    writes and waits) must be absent or what the server already uses, and the server's own
    values are kept; YAML aliases may not expand beyond ``MAX_UPLOAD_NODES`` values."""
    data = _upload_yaml(text, source)
    references = _env_references(data) or (["(a comment or tag)"] if "${env:" in text else [])
    if references:
        raise UserInputError(
            f"{source}: '{references[0]}' refers to an environment variable (${{env:...}}); an uploaded "
            "config cannot read the server's environment. Write the value itself."
        )
    if not isinstance(data, dict):
        raise UserInputError(f"{source}: the top level must be a mapping of keys, not a list.")
    _server_settings_kept(data, current, source)
    config = config_from_dict(data, source)
    config.input = current.input
    config.tracking = current.tracking.model_copy(deep=True)
    config.database = current.database.model_copy(deep=True)
    for name, dataset in config.datasets.items():
        kept = current.datasets.get(name)
        dataset.path = kept.path if kept is not None else None
    return config


def load_config(path: str | Path) -> RunConfig:
    """Load a YAML config file, or a preset by name ('store', 'dfu')."""
    path = Path(path)
    if not path.exists() and not path.suffix and (PRESET_DIR / f"{path}.yml").exists():
        path = PRESET_DIR / f"{path}.yml"
    if not path.is_file():
        raise UserInputError(f"Config file '{path}' does not exist.")
    return config_from_yaml(path.read_text(encoding="utf-8"), source=str(path))
