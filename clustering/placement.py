"""Placing entities the run did not segment by rule, as the retail suites do: a new store by
the existing stores it resembles (a like-store mapping the analyst gives, optionally
weighted), else by a rule: the nearest centre (what ``assign`` computes), the largest
segment, or the most cohesive one (the smallest mean distance to its centre). Applied in
that order and said per entity (``placed_by``)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from clustering.config import LikeEntity, PlacementConfig
from clustering.errors import UserInputError
from clustering.io.validation import Finding

RULE_WORDS = {"nearest": "nearest centre", "largest": "largest segment", "cohesive": "most cohesive segment"}


@dataclass
class Reference:
    """What placing needs from the run: every segmented entity's segment, and each segment's
    mean distance to its centre (cohesion: lower is tighter)."""

    segments: pd.Series  # entity ID -> final segment
    cohesion: pd.Series  # segment -> mean distance_to_segment

    @classmethod
    def of(cls, assignments: pd.DataFrame) -> Reference:
        """From a run's assignments by ID (``final_cluster``, ``distance_to_segment``)."""
        segments = assignments["final_cluster"].astype(str)
        segments.index = segments.index.astype(str)
        cohesion = assignments["distance_to_segment"].groupby(segments.to_numpy()).mean()
        return cls(segments, cohesion)

    def by_rule(self, rule: str) -> str:
        """The segment a rule names: the largest (ties: the first code), the most cohesive."""
        if rule == "largest":
            sizes = self.segments.value_counts()
            return str(sorted(sizes.index[sizes == sizes.max()])[0])
        return str(self.cohesion.sort_values(kind="stable").index[0])


def like_segment(new: str, likes: list, reference: Reference) -> tuple[str | None, str, list[str]]:
    """The segment that carries the most weight among the entity's like-entities the run
    knows, the words of how, and the like-entities the run does not know."""
    known = [(str(like.like), like.weight) for like in likes if str(like.like) in reference.segments.index]
    unknown = [str(like.like) for like in likes if str(like.like) not in reference.segments.index]
    if not known:
        return None, "", unknown
    weights = (
        pd.Series([w for _, w in known], index=[reference.segments[i] for i, _ in known])
        .groupby(level=0)
        .sum()
    )
    segment = str(sorted(weights.index[weights == weights.max()])[0])
    total = sum(w for _, w in known)
    if len(known) == 1:
        return segment, f"like {known[0][0]}", unknown
    shares = ", ".join(f"{i} ({w / total:.0%})" for i, w in known)
    return segment, f"like {shares}", unknown


def placements(
    ids: pd.Index, nearest: pd.Series, placement: PlacementConfig, reference: Reference, eligible: pd.Series
) -> tuple[pd.Series, pd.Series, list[Finding]]:
    """Each entity's segment and how it was placed: by its like-entities when the mapping
    has it, else, for ``eligible`` entities (those the run did not segment), by the rule;
    the others keep ``nearest`` (the run's rules). Entities of the mapping that are not in
    ``ids`` are placed too (a store opening next month, without data yet)."""
    extra = pd.Index([i for i in placement.like if i not in ids], dtype="string")
    every = ids.append(extra)
    segment = nearest.reindex(every).astype("string")
    how = pd.Series(RULE_WORDS["nearest"], index=every, dtype="string")
    ruled = eligible.reindex(every).fillna(True).to_numpy(dtype=bool)
    if placement.rule != "nearest":
        segment[ruled] = reference.by_rule(placement.rule)
        how[ruled] = RULE_WORDS[placement.rule]
    findings, lost = [], {}
    for new, likes in placement.like.items():
        chosen, words, unknown = like_segment(new, likes, reference)
        if unknown:
            lost[new] = unknown
        if chosen is not None:
            segment[new], how[new] = chosen, words
        elif new in extra:
            raise UserInputError(
                f"placement.like: '{new}' has no data and none of its like-entities ({', '.join(unknown)}) is "
                f"an entity of the run. Name existing IDs, or give its data."
            )
    if lost:
        examples = "; ".join(f"{new}: {', '.join(ids)}" for new, ids in list(lost.items())[:5])
        findings.append(
            Finding(
                "warning",
                "placement",
                f"{len(lost)} entit(ies) name like-entities the run does not know ({examples}); "
                f"those are not counted.",
            )
        )
    return segment, how, findings


def like_mapping(frame: pd.DataFrame, id_column: str, source: str) -> dict[str, list[LikeEntity]]:
    """A like-entity mapping from a table: the new entity's ID (column ``id_column``, or
    ``id``), the ``like`` entity's ID, and an optional ``weight`` (1 when absent)."""
    key = id_column if id_column in frame.columns else "id" if "id" in frame.columns else None
    if key is None or "like" not in frame.columns:
        raise UserInputError(
            f"{source}: a like-entity mapping needs columns '{id_column}' (or 'id') and 'like', and may have "
            f"'weight'. Its columns are: {', '.join(map(str, frame.columns))}."
        )
    weights = (
        pd.to_numeric(frame["weight"], errors="coerce")
        if "weight" in frame.columns
        else pd.Series(1.0, index=frame.index)
    )
    bad = frame.index[frame[key].isna() | frame["like"].isna() | ~(weights > 0)]
    if len(bad):
        rows = (
            ", ".join(str(int(i) + 2) for i in bad[:5])
            if pd.api.types.is_integer_dtype(frame.index)
            else "some"
        )
        raise UserInputError(
            f"{source}: rows {rows} need an ID, a like ID and a weight above 0 (or no weight column)."
        )
    mapping: dict[str, list[LikeEntity]] = {}
    for new, like, weight in zip(
        frame[key].astype(str).str.strip(), frame["like"].astype(str).str.strip(), weights, strict=True
    ):
        mapping.setdefault(new, []).append(LikeEntity(like=like, weight=float(weight)))
    return mapping


def place_short_history(
    assignments: pd.DataFrame, ids: list[str], placement: PlacementConfig, id_column: str
) -> tuple[pd.DataFrame, list[Finding]]:
    """DFUs left out for too short a history, placed by the like mapping, else by the rule
    (the largest or the most cohesive segment: without features there is no nearest centre),
    as rows added to a run's assignments (``placed_by``, ``short_history``)."""
    if not placement.short_history or not ids:
        return assignments, []
    by_id = assignments.set_index(id_column)
    reference = Reference.of(by_id)
    rule = placement.rule if placement.rule != "nearest" else "largest"
    ruled = placement.model_copy(
        update={"rule": rule, "like": {i: v for i, v in placement.like.items() if i in ids}}
    )
    nobody = pd.Series(pd.NA, index=pd.Index(ids, dtype="string"), dtype="string")
    segment, how, findings = placements(
        nobody.index, nobody, ruled, reference, pd.Series(True, index=nobody.index)
    )
    added = pd.DataFrame(
        {id_column: segment.index, "final_cluster": segment.to_numpy(), "placed_by": how.to_numpy()}
    )
    added["short_history"] = True
    placed = pd.concat(
        [assignments.assign(placed_by=RULE_WORDS["nearest"], short_history=False), added], ignore_index=True
    )
    note = Finding(
        "info",
        "placement",
        f"{len(ids):,} DFU(s) with too short a history were placed by rule (placed_by: like-DFUs, else the "
        f"{RULE_WORDS[rule]}); they have no features, so no profile counts them.",
    )
    return placed, [*findings, note]
