"""The run's result put together: every entity's named segment (new stores placed by the
analyst's rules), and every stage's warnings among the findings, with what a weak structure
means for the analyst's decision."""

from __future__ import annotations

import pandas as pd

from clustering.config import RunConfig
from clustering.io.validation import Finding
from clustering.pipeline.describe import with_segment_names
from clustering.pipeline.stability import stability_findings
from clustering.placement import place_short_history
from clustering.results import ClusteredDataset, Combined, Explanation, PreparedDataset, RunResult


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
    short = [i for p in prepared.values() for i in p.table.frame.attrs.get("short_history", [])]
    named, placed = place_short_history(named, short, config.placement, config.id_column)
    if placed:
        labels = explanation.names.set_index("segment")["label"]
        named["segment_name"] = named["final_cluster"].map(labels)
    merge = combined.merge
    notes = [Finding("warning", name, w) for name, result in clustered.items() for w in result.warnings]
    if merge is not None:
        notes += [Finding("warning", "merge", w) for w in merge.warnings]
    notes += [Finding("warning", "overrides", note) for note in combined.notes]
    notes += [Finding("warning", "labels", note) for note in explanation.notes]
    notes += [Finding("warning", "segments", note) for note in explanation.warnings]
    entities = config.entities()[1]
    notes += [Finding("info", "splits", split.summary(entities)) for split in combined.splits.values()]
    stability = pd.concat(
        [stability, *[s.stability.assign(dataset=f"split of {code}") for code, s in combined.splits.items()]],
        ignore_index=True,
    )
    notes += stability_findings(stability, config.stability)
    notes += weak_structure_consequence(clustered, named) + placed
    return RunResult(
        config, prepared, clustered, merge, named, explanation, stability, findings + notes, combined.metrics
    )


def weak_structure_consequence(clustered: dict[str, ClusteredDataset], named: pd.DataFrame) -> list[Finding]:
    """When a dataset's structure is weak, what that means for the analyst's decision: the
    segments are a convenient split, their boundaries arbitrary, the share of entities near
    a boundary, and the k the stable rule recommends."""
    weak = {
        name: c
        for name, c in clustered.items()
        if c.clusterability is not None and not c.clusterability.clear
    }
    if not weak:
        return []
    share = float(named["near_boundary"].mean()) if "near_boundary" in named else 0.0
    parts = [
        f"The structure is weak ({', '.join(weak)}): these {named['final_cluster'].nunique()} segments are a "
        f"convenient split of one continuous population, not natural groups, and the boundaries between them "
        f"are arbitrary. {share:.0%} of the entities sit near a boundary (another segment's centre less than "
        f"10% farther than their own: column near_boundary) and could sit on either side."
    ]
    for name, result in weak.items():
        parts.append(_stable_recommendation(name, result))
    return [Finding("warning", "decision", " ".join(parts))]


def _stable_recommendation(name: str, result: ClusteredDataset) -> str:
    """Which k the stable rule recommends for one dataset, in one sentence."""
    scores = None if result.selection is None else result.selection.scores
    if scores is None or "jaccard_min" not in scores:
        return f"For {name}, set cluster.selection to stable (or auto) to have k chosen by stability."
    preferred = result.selection.consensus.set_index("criterion")["preferred_k"].get("stable")
    if preferred is None or pd.isna(preferred):
        return f"For {name}, no k in the range has every segment stable: use fewer segments, or more data."
    return (
        f"For {name}, the stable rule recommends k = {int(preferred)}, the largest k whose segments all "
        f"reproduce on subsamples (bootstrap Jaccard >= 0.75) and differ from their nearest segment."
    )
