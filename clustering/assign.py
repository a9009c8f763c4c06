"""A fitted segmentation that assigns entities it has never seen (a store opening next month).

``Segmentation`` keeps what a run fitted and nothing of the training data but what assigning
needs: per dataset the preprocessing and the model (for HDBSCAN, the prepared training rows
and their segments: a new entity takes the segment of its nearest training entity, since
density clusters have no other out-of-sample rule), and for two datasets the merge's space
scaling, its large segments and their centroids. ``assign`` runs the same validation,
preparation and merge rules as the run, then the analyst's overrides and names, so for the
run's own entities it reproduces the run's final segments exactly.

Every entity gets a ``distance_to_segment`` (``merging.distance_to_segment``'s definition:
to the centre of its final segment, the training entities' mean, in the combined space of
two datasets or the prepared space of one; for the run's own entities, exactly the run's
value) and ``far_from_segments``: true when the distance is beyond the 99th percentile of
the training entities' distances. With two datasets, ``coverage`` and ``reassigned`` say
which datasets the entity has and whether the merge's rules moved it, as in the run.

The analyst's overrides follow an entity only when it is the training entity: the same ID
and the same data (its point in the assignment space equal to the training one within
``SAME_DATA_TOLERANCE``, by a per-entity fingerprint the model keeps), or when the caller
says the IDs are the same entities (``same_entities``). ``entity_status`` says which each
entity is (``trained``, ``changed``: a training ID whose data differ, ``new``), and the
findings name the changed ones, so new stores numbered like the training ones
(``S000001``...) never take the training overrides silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.neighbors import KNeighborsClassifier

from clustering.config import PlacementConfig, RunConfig
from clustering.errors import UserInputError
from clustering.explain.profiling import original_features
from clustering.explain.why import WhyHere, find_entity, why_here
from clustering.io.validation import Finding
from clustering.merging import (
    SpaceScaling,
    apply_overrides,
    candidates,
    combined_space,
    distances_to_centroids,
    merge_columns,
    merged_labels,
    nearest_centroid,
    segment_centroids,
)
from clustering.model.models import GroupedModel, SegmentModel
from clustering.placement import RULE_WORDS, Reference, placements
from clustering.prep.preprocessing import Preprocessor

FAR_QUANTILE = 0.99
SAME_DATA_TOLERANCE = 1e-6  # in prepared (standardized) units: closer than this is the same data


@dataclass
class FittedDataset:
    """One dataset's preparation and model."""

    prefix: str
    preprocessor: Preprocessor
    model: SegmentModel | GroupedModel | None = None
    neighbours: KNeighborsClassifier | None = None
    columns: list[str] = field(default_factory=list)

    def labels(self, frame: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
        """Segment labels ('I2') of the rows of a validated frame, and their prepared matrix."""
        if isinstance(self.model, GroupedModel) and self.model.column not in frame.columns:
            raise UserInputError(
                f"The segments are nested within '{self.model.column}', which the input does not "
                f"have: add the column (each entity's group) and assign again."
            )
        matrix = pd.DataFrame(
            self.preprocessor.transform(frame),
            index=frame.index,
            columns=self.preprocessor.feature_names_out_,
        )
        values = matrix.to_numpy()
        if isinstance(self.model, GroupedModel):  # nested: each entity within its own group
            codes = self.model.predict(values, frame[self.model.column])
        elif self.model is not None:
            codes = self.model.predict(values)
        else:
            codes = self.neighbours.predict(values)
        return pd.Series([f"{self.prefix}{c + 1}" for c in codes], index=frame.index, dtype="string"), matrix


@dataclass
class FittedMerge:
    """The merge's fitted pieces: space scaling, large segments and their centroids."""

    separator: str
    scaling: dict[str, SpaceScaling]
    large: list[str]
    centroids: np.ndarray
    nests: dict[str, dict[str, str]] = field(default_factory=dict)  # nested datasets: segment -> group


@dataclass
class Segmentation:
    """Everything needed to assign new entities to a run's final segments and names."""

    config: RunConfig
    datasets: dict[str, FittedDataset]
    merge: FittedMerge | None
    names: dict[str, str]
    segment_centroids: np.ndarray
    segments: list[str]
    far_distance: float
    training_rows: int = 0
    notes: list[str] = field(default_factory=list)
    fingerprints: pd.Series | None = None  # training ID -> fingerprint of its point (entity_fingerprints)
    splits: dict[str, list[str]] = field(default_factory=dict)  # split segment -> its sub-segments
    reference: Reference | None = None  # the run's entities' segments and cohesion, for placing by rule

    def sheets_from_frame(self, frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """The sheets ``assign`` reads, cut from one wide frame: each plain dataset takes the ID
        and its own columns, for the rows that have any of them; a DFU dataset takes the frame
        as its sales (and attribute) sheets."""
        from clustering.io.inputs import dataset_sources

        sheets = {}
        for key in dataset_sources(self.config, "input.xlsx"):
            fitted = self.datasets.get(key)
            if fitted is None or self.config.datasets[key].features is not None:
                sheets[key] = frame
                continue
            columns = [c for c in fitted.columns if c in frame.columns]
            part = frame[[self.config.id_column, *columns]]
            sheets[key] = part[
                part[columns].notna().any(axis=1)
            ]  # an entity absent from a dataset has no values
        return sheets

    def assign(
        self,
        sheets: dict[str, pd.DataFrame],
        same_entities: bool = False,
        placement: PlacementConfig | None = None,
    ) -> tuple[pd.DataFrame, list]:
        """Final segment, name, distance, far flag and entity status of every entity in
        ``sheets`` (read as the run read its input); also the findings. The run's overrides
        apply to training entities whose data are unchanged, or to every training ID when
        ``same_entities`` says they are the same entities with updated data. Entities the run
        did not segment are placed by ``placement`` (default: the run's config's): a
        like-entity mapping, then its rule; ``placed_by`` says how."""
        assignments, findings, _, _ = self._assigned(sheets, same_entities, placement)
        return assignments.reset_index(), findings

    def why(self, sheets: dict[str, pd.DataFrame], entity: str) -> WhyHere:
        """Why one entity of ``sheets`` (read as the run read its input) sits in its final
        segment, against the run's own segment centres; its segment's and the runner-up's
        typical values are those of their entities in ``sheets``."""
        assignments, _, space, checked = self._assigned(sheets)
        final = assignments["final_cluster"].astype(str)
        wanted = find_entity(entity, final.index, self.config.entities()[0])
        centres = pd.DataFrame(self.segment_centroids, index=self.segments, columns=space.columns)
        features = original_features({name: table.features for name, table in checked.items()})
        point = space.loc[wanted]
        return why_here(wanted, final[wanted], point, centres, features, final, self.config.columns)

    def _assigned(
        self,
        sheets: dict[str, pd.DataFrame],
        same_entities: bool = False,
        placement: PlacementConfig | None = None,
    ) -> tuple[pd.DataFrame, list, pd.DataFrame, dict]:
        """``assign``'s assignments by ID and findings, with every entity's point in the
        assignment space (named columns) and the checked tables."""
        from clustering.pipeline import check_sheets

        checked, findings = check_sheets(self.config, sheets)
        labels, matrices = {}, {}
        for name, fitted in self.datasets.items():
            if name not in checked:
                raise UserInputError(f"The input has no table for dataset '{name}'.")
            labels[name], matrices[name] = fitted.labels(checked[name].frame)
        assignments, space = self._final(labels, matrices)
        assignments = self._split(assignments, space)
        status = self.entity_status(assignments.index, space)
        followed = {"trained", "changed", "unknown"} if same_entities else {"trained", "unknown"}
        overrides = {i: s for i, s in self.config.overrides.items() if status.get(i) in followed}
        findings += _changed_entities(status, self.config.overrides, same_entities)
        assignments, _ = apply_overrides(assignments, overrides)
        assignments["entity_status"] = status
        assignments, space, placed = self._placed(assignments, space, placement or self.config.placement)
        findings += placed
        final = assignments["final_cluster"].to_numpy(dtype=object)
        position = {segment: i for i, segment in enumerate(self.segments)}
        codes = np.array([position.get(segment, -1) for segment in final], dtype=np.int64)
        distance = distances_to_centroids(space, self.segment_centroids, codes)
        distance[np.isnan(space).all(axis=1)] = np.nan  # an entity without data has no distance
        assignments["segment_name"] = assignments["final_cluster"].map(self.names)
        assignments["distance_to_segment"] = distance.round(6)
        assignments["far_from_segments"] = distance > self.far_distance
        assignments.index.name = self.config.id_column
        used = matrices.values() if self.merge else [next(iter(matrices.values()))]
        columns = [c for matrix in used for c in matrix.columns]
        return assignments, findings, pd.DataFrame(space, index=assignments.index, columns=columns), checked

    def _split(self, assignments: pd.DataFrame, space: np.ndarray) -> pd.DataFrame:
        """The run's splits (``config.splits``): an entity of a split segment joins the nearest
        of its sub-segments' centres, over the columns it has (a model saved before splits
        existed has none)."""
        splits = getattr(self, "splits", {})
        if not splits:
            return assignments
        final = assignments["final_cluster"].to_numpy(dtype=object).copy()
        position = {segment: i for i, segment in enumerate(self.segments)}
        for segment, parts in splits.items():
            rows = np.flatnonzero(final == segment)
            if rows.size:
                nearest, _ = nearest_centroid(
                    space[rows], self.segment_centroids[[position[p] for p in parts]]
                )
                final[rows] = np.asarray(parts, dtype=object)[nearest]
        return assignments.assign(final_cluster=pd.array(final, dtype="string"))

    def _placed(
        self, assignments: pd.DataFrame, space: np.ndarray, placement: PlacementConfig
    ) -> tuple[pd.DataFrame, np.ndarray, list]:
        """``placement`` applied (``clustering.placement``): entities of the like mapping take
        their like-entities' segment, new ones (``entity_status`` new) the rule's; entities
        of the mapping without data are added, with no point in the space."""
        reference = getattr(self, "reference", None)  # a model saved before placement has none
        if reference is None or (not placement.like and placement.rule == "nearest"):
            return assignments.assign(placed_by=RULE_WORDS["nearest"]), space, []
        eligible = assignments["entity_status"] == "new"
        segment, how, findings = placements(
            assignments.index, assignments["final_cluster"], placement, reference, eligible
        )
        added = len(segment) - len(assignments)
        assignments = assignments.reindex(segment.index)
        assignments["final_cluster"], assignments["placed_by"] = segment, how
        assignments["entity_status"] = assignments["entity_status"].fillna("new")
        assignments["override"] = assignments["override"].fillna(False).astype(bool)
        space = np.vstack([space, np.full((added, space.shape[1]), np.nan)]) if added else space
        return assignments, space, findings

    def entity_status(self, ids: pd.Index, space: np.ndarray) -> pd.Series:
        """``trained`` (an ID of the training run with the same data), ``changed`` (a training
        ID whose data differ) or ``new``, per entity; ``unknown`` for a model saved before
        fingerprints were kept (its overrides follow the ID, as they did then)."""
        if getattr(self, "fingerprints", None) is None:
            return pd.Series("unknown", index=ids, dtype="string")
        trained = self.fingerprints.reindex(ids)
        same = trained.to_numpy() == entity_fingerprints(space)
        status = np.where(trained.isna().to_numpy(), "new", np.where(same, "trained", "changed"))
        return pd.Series(status, index=ids, dtype="string")

    def _final(
        self, labels: dict[str, pd.Series], matrices: dict[str, pd.DataFrame]
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """Final segments by the run's rules, and every entity's point in the assignment space."""
        if self.merge is None:
            name = next(iter(labels))
            assignments = pd.DataFrame({f"{name}_cluster": labels[name], "final_cluster": labels[name]})
            return assignments, matrices[name].to_numpy()
        ids = labels[next(iter(labels))].index
        for name in list(labels)[1:]:
            ids = ids.append(labels[name].index.difference(ids, sort=False))
        merged = merged_labels(labels, ids, self.merge.separator)
        space = combined_space(matrices, ids, self.merge.scaling)
        final = merged.where(merged.isin(self.merge.large))
        moving = final.isna().to_numpy()
        if moving.any():
            nests = getattr(self.merge, "nests", {})  # a model saved before nesting has none
            allowed = candidates(labels, ids[moving], self.merge.large, self.merge.separator, nests)
            target, _ = nearest_centroid(space[moving], self.merge.centroids, allowed)
            final[moving] = np.asarray(self.merge.large, dtype=object)[target]
        return merge_columns(labels, ids, merged, final, moving), space


def fit_segmentation(result: object) -> Segmentation:
    """The assigning half of a finished run (a ``results.RunResult``)."""
    config = result.config
    datasets = {}
    for name, clustered in result.clustered.items():
        prepared = result.prepared[name]
        fitted = FittedDataset(
            config.prefix(name),
            prepared.preprocessor,
            clustered.model,
            columns=list(prepared.table.frame.columns),
        )
        if clustered.model is None:  # density segments: the nearest training entity decides
            codes = clustered.labels.str.removeprefix(config.prefix(name)).astype(int).to_numpy() - 1
            fitted.neighbours = KNeighborsClassifier(n_neighbors=1).fit(prepared.matrix.to_numpy(), codes)
        datasets[name] = fitted
    merge = None
    final = result.assignments.set_index(config.id_column)["final_cluster"]
    if result.merge is not None:
        m = result.merge
        merge = FittedMerge(config.merge.separator, m.scaling, list(m.large), m.centroids, m.nests)
        space = m.space
        index = m.assignments.index
    else:
        name = next(iter(result.prepared))
        space, index = result.prepared[name].matrix.to_numpy(), result.prepared[name].matrix.index
    segments = sorted(final.unique())
    codes = pd.Categorical(final.reindex(index), categories=segments).codes.astype(np.int64)
    centroids = segment_centroids(space, codes, len(segments))
    distances = distances_to_centroids(space, centroids, codes)
    return Segmentation(
        config=config,
        datasets=datasets,
        merge=merge,
        names=result.names.set_index("segment")["label"].to_dict(),
        segment_centroids=centroids,
        segments=segments,
        far_distance=float(np.quantile(distances, FAR_QUANTILE)),
        training_rows=len(final),
        fingerprints=pd.Series(entity_fingerprints(space), index=index.astype(str)),
        reference=Reference.of(result.assignments.set_index(config.id_column)),
        splits={
            segment: sorted(
                s for s in segments if s.startswith(f"{segment}.") and "." not in s[len(segment) + 1 :]
            )
            for segment in config.splits
        },
    )


def entity_fingerprints(space: np.ndarray) -> np.ndarray:
    """A 64-bit fingerprint of each entity's point in the assignment space, its values rounded
    to ``SAME_DATA_TOLERANCE`` (an absent dataset's NaN kept apart): the same data give the
    same fingerprint; 8 bytes per training entity, where keeping the points would cost
    8 bytes per entity and column."""
    steps = np.round(np.clip(space, -1e12, 1e12) / SAME_DATA_TOLERANCE)
    codes = np.where(np.isnan(space), np.iinfo(np.int64).min, np.nan_to_num(steps)).astype(np.int64)
    return pd.util.hash_pandas_object(pd.DataFrame(codes), index=False).to_numpy()


def _changed_entities(status: pd.Series, overrides: dict[str, str], same_entities: bool) -> list[Finding]:
    """A finding that names the training IDs whose data changed, and what became of their overrides."""
    changed = status.index[status.eq("changed").to_numpy()]
    if not len(changed):
        return []
    moved = [i for i in changed if i in overrides]
    examples = ", ".join(map(str, changed[:5]))
    if same_entities:
        fate = f"; as the same entities, {len(moved)} keep the run's override" if moved else ""
        message = f"{len(changed)} entities have an ID of the training run but different data (e.g. {examples}){fate}."
    else:
        skipped = f" The run's override of {len(moved)} of them was not applied." if moved else ""
        message = (
            f"{len(changed)} entities have an ID of the training run but different data (e.g. {examples}): "
            f"they were assigned from their data, as new entities.{skipped} If they are the training "
            f"entities with updated data, assign them as the same entities (--same-entities)."
        )
    return [Finding("warning", "assign", message)]
