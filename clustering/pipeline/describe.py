"""Stage 4: describe the final segments: profiles, tests, surrogate rules and names."""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING

import pandas as pd

from clustering.config import (
    RunConfig,
)
from clustering.explain.demand import COLUMNS as DEMAND_COLUMNS
from clustering.explain.demand import demand_curves
from clustering.explain.distributions import segment_quantiles
from clustering.explain.labels import PreviousRun, automatic_labels, segment_names
from clustering.explain.profiling import (
    feature_tests,
    indicator_table,
    original_features,
    segment_profiles,
    surrogate_rules,
)
from clustering.explain.why import WhyHere, find_entity, why_here
from clustering.io.validation import (
    ValidatedTable,
)
from clustering.model.models import group_values
from clustering.model.threads import in_parallel
from clustering.prep.features import demand_grid

if TYPE_CHECKING:  # the database layer (SQLAlchemy, sqlglot) loads only for a database run
    pass
from clustering.results import Explanation

ONE_FEATURE_EFFECT, OTHER_FEATURES_EFFECT = 2.0, 0.5


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
            "distributions": partial(segment_quantiles, final, features),
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
        automatic = automatic_labels(final, features, profiles, labels, config.labeling, config.columns)
        automatic = with_groups(automatic, final, checked, config)
    else:
        automatic = pd.Series(sorted(final.unique()), index=sorted(final.unique()), dtype="string")
    names = segment_names(final, automatic, labels.overrides, previous)
    return Explanation(
        profiles, tests, surrogate, names, notes, one_feature_segments(profiles), parts["distributions"]
    )


def with_groups(
    automatic: pd.Series, final: pd.Series, checked: dict[str, ValidatedTable], config: RunConfig
) -> pd.Series:
    """Names of nested segments carry their group ("Hyper · high sales ..."): the group of the
    dataset's segment in the final code (``I12`` of ``I12-E2``), which at least half of the
    entities of every final segment with that code share. The merge can move entities of
    another group into a segment, so the code's members as a whole decide, not the segment's."""
    named = automatic.copy()
    for name, dataset in config.datasets.items():
        if dataset.group_by is None or name not in checked:
            continue
        frame = checked[name].frame
        groups = pd.Series(group_values(frame[dataset.group_by]), index=frame.index)
        groups = groups.reindex(final.index).dropna()
        part = _dataset_codes(final, config.prefix(name), config.merge.separator)
        by_code = groups.groupby(part.reindex(groups.index)).agg(_main_group)
        of_segment = part.groupby(final).first().map(by_code)
        for segment, group in of_segment.dropna().items():
            title = group[:1].upper() + group[1:]
            if segment in named.index and not str(named[segment]).startswith(f"{title} · "):
                named[segment] = f"{title} · {named[segment]}"
    return named


def _dataset_codes(final: pd.Series, prefix: str, separator: str) -> pd.Series:
    """Each entity's dataset segment code within its final code (``I12`` of ``I12-E2``)."""
    code = re.compile(rf"^{re.escape(prefix)}\d+$")
    return final.astype(str).map(
        lambda segment: next((p for p in segment.split(separator) if code.match(p)), segment)
    )


def _main_group(groups: pd.Series) -> str | None:
    """The group at least half of these entities share, or None."""
    shares = groups.value_counts(normalize=True)
    return shares.index[0] if shares.iloc[0] >= 0.5 else None


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


def with_segment_names(assignments: pd.DataFrame, names: pd.DataFrame) -> pd.DataFrame:
    """Assignments with a ``segment_name`` column after ``final_cluster``."""
    named = assignments.drop(columns="segment_name", errors="ignore")
    labels = named["final_cluster"].map(names.set_index("segment")["label"])
    named.insert(named.columns.get_loc("final_cluster") + 1, "segment_name", labels)
    return named


def why_entity(
    entity: str, space: pd.DataFrame, final: pd.Series, checked: dict[str, ValidatedTable], config: RunConfig
) -> WhyHere:
    """Why one entity (by its ID) sits in its final segment: the segments' centres are their
    members' means in the assignment ``space``, as for ``distance_to_segment``; the real
    units come from the checked tables."""
    wanted = find_entity(entity, final.index.intersection(space.index), config.entities()[0])
    centres = space.groupby(final.reindex(space.index).astype(str)).mean()
    features = original_features({name: table.features for name, table in checked.items()})
    segment = str(final[wanted])
    return why_here(wanted, segment, space.loc[wanted], centres, features, final.astype(str), config.columns)


def why_in_workbook(
    path: str, sheets: dict[str, pd.DataFrame], entity: str
) -> tuple[WhyHere, RunConfig, dict]:
    """Why one entity sits in its segment of a results workbook: the workbook's config
    prepares ``sheets`` (the run's input) again, which gives the run's assignment space
    (preparation is deterministic), and its ``assignments`` give every entity's segment; also
    the config and the segments' names."""
    from clustering.io.export import read_previous_run, read_run_config
    from clustering.merging import combined_space, space_scaling
    from clustering.pipeline.prepare import check_sheets, prepare_dataset

    config = read_run_config(path)
    previous = read_previous_run(path, config.id_column)
    checked, _ = check_sheets(config, sheets)
    prepared = {
        name: prepare_dataset(name, table, config.datasets[name], config.random_state)
        for name, table in checked.items()
        if name in config.datasets
    }
    matrices = {name: p.matrix for name, p in prepared.items()}
    if len(matrices) > 1:
        present = [m.index for m in matrices.values()]
        ids = previous.assignments.index.intersection(present[0].union(present[1]))
        space = combined_space(matrices, ids, space_scaling(matrices, config.merge.balance_datasets))
        columns = [c for m in matrices.values() for c in m.columns]
        frame = pd.DataFrame(space, index=ids, columns=columns)
    else:
        frame = next(iter(matrices.values()))
    names = pd.read_excel(path, sheet_name="labels", engine="calamine")
    return (
        why_entity(entity, frame, previous.assignments, checked, config),
        config,
        dict(zip(names["segment"].astype(str), names["label"].astype(str), strict=True)),
    )


def segment_demand(config: RunConfig, sheets: dict[str, pd.DataFrame], final: pd.Series) -> pd.DataFrame:
    """Each DFU segment's typical demand index by month of the window
    (``explain.demand``); empty for stores, or when the monthly sales are not in memory (a
    database run that pushed the features down)."""
    for dataset in config.datasets.values():
        features = dataset.features
        if features is not None and features.sales_sheet in sheets:
            grid = demand_grid(sheets[features.sales_sheet], features, features.sales_sheet)
            return demand_curves(grid, final)
    return pd.DataFrame(columns=DEMAND_COLUMNS)
