"""The typed results of a run's stages, which every layer may import (the stages make them;
export, tracking, the app and the integrations read them). Plain data: the stages compute,
these classes hold and arrange what they computed; this module imports no layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # types only: this module sits below every layer and imports none of them
    from clustering.config import RunConfig
    from clustering.explain.profiling import Surrogate
    from clustering.io.validation import Finding, ValidatedTable
    from clustering.merging import MergeResult
    from clustering.model.clusterability import Clusterability
    from clustering.model.density import DensityResult
    from clustering.model.kselection import KSelection
    from clustering.model.models import GroupedModel, SegmentModel
    from clustering.prep.preprocessing import Preprocessor, PreprocessReport


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
    model: SegmentModel | GroupedModel | None = None
    clusterability: Clusterability | None = None
    warnings: list[str] = field(default_factory=list)
    # nested segmentation (group_by): each group's own result, and one row per group
    groups: dict[str, ClusteredDataset] | None = None
    group_table: pd.DataFrame | None = None
    segment_group: dict[str, str] = field(default_factory=dict)  # nested: each segment's group
    far: pd.Series | None = None  # entities far from every other (by ID), when any were found

    def selections(self) -> dict[str | None, KSelection]:
        """The k sweeps behind these segments: the dataset's (key None), or each group's."""
        if self.groups is None:
            return {None: self.selection} if self.selection is not None else {}
        return {g: part.selection for g, part in self.groups.items() if part.selection is not None}

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
    distributions: pd.DataFrame = field(default_factory=pd.DataFrame)  # per feature and segment: percentiles
    demand: pd.DataFrame = field(default_factory=pd.DataFrame)  # DFU segments: demand index by month


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
    k_scenarios: pd.DataFrame = field(default_factory=pd.DataFrame)  # every sweep's (stage ``scenarios``)

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
            selection.scores.assign(dataset=name, group=group)
            for name, c in self.clustered.items()
            for group, selection in c.selections().items()
        ]
        if not frames:
            return pd.DataFrame(columns=["dataset", "k"])
        table = pd.concat(frames, ignore_index=True)
        if table["group"].isna().all():
            table = table.drop(columns="group")
        first = [c for c in ("dataset", "group") if c in table]
        return table[[*first, *[c for c in table.columns if c not in first]]]

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
        """Per dataset (a nested dataset: per group): the clusterability tests, their verdict,
        and the silhouette of its segments."""
        columns = [
            "dataset",
            "group",
            "test",
            "statistic",
            "p_value",
            "rows",
            "groups",
            "verdict",
            "silhouette",
        ]
        parts = [
            (name, group, part)
            for name, c in self.clustered.items()
            for group, part in ({None: c} if c.groups is None else c.groups).items()
        ]
        frames = [
            part.clusterability.tests.assign(
                dataset=name, group=group, verdict=part.clusterability.verdict, silhouette=part.silhouette
            )
            for name, group, part in parts
            if part.clusterability is not None
        ]
        if not frames:
            return pd.DataFrame(columns=columns)
        return pd.concat(frames, ignore_index=True)[columns]

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


@dataclass
class Combined:
    """The final segment of every entity: the merge of two labelings (or one dataset's labels),
    then the analyst's overrides (``config.overrides``), with what the overrides did."""

    assignments: pd.DataFrame
    merge: MergeResult | None
    notes: list[str] = field(default_factory=list)
    metrics: pd.DataFrame = field(default_factory=pd.DataFrame)
    splits: dict = field(default_factory=dict)  # split segment -> its sub-segments (pipeline.split)
