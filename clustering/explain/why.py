"""Why one entity sits in its segment: its segment and the runner-up, how far each centre is,
and the few features that pull it toward its own, in real units.

The distances are the run's own (``distance_to_segment``): Euclidean, in the space the
segments were assigned in, over the columns the entity has. A feature's pull is how much
nearer its columns put the entity to its own centre than to the runner-up's (the runner-up's
squared distance minus its own's, summed over the feature's columns: a text column's levels
together); the pulls add up to the gap between the two squared distances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from clustering.config import ColumnInfo
from clustering.errors import UserInputError
from clustering.explain.labels import column_unit, column_words
from clustering.formats import formatted, number, percent
from clustering.model.metrics import BOUNDARY_MARGIN

REASONS = 5


@dataclass(frozen=True)
class WhyHere:
    """One entity's placement, explained."""

    entity: str
    segment: str
    runner_up: str | None
    distance: float
    runner_up_distance: float
    reasons: pd.DataFrame  # feature, value, segment, runner-up, pull, toward

    @property
    def near_boundary(self) -> bool:
        """The runner-up's centre is less than 10% farther than its own (``near_boundary``)."""
        return self.runner_up is not None and self.runner_up_distance < (1 + BOUNDARY_MARGIN) * self.distance

    def sentence(self, names: dict[str, str], entity_word: str) -> str:
        """The placement in one or two sentences an analyst can repeat."""
        own, other = (
            f"{names[code]} ({code})" if code in names else str(code)
            for code in (self.segment, self.runner_up)
        )
        if self.runner_up is None:
            return f"{entity_word} {self.entity} is in {own}, the only segment."
        farther = self.runner_up_distance / self.distance - 1 if self.distance > 0 else float("inf")
        text = (
            f"{entity_word} {self.entity} is in {own}; the next nearest segment is {other}, "
            f"whose centre is {percent(farther, 0) if np.isfinite(farther) else 'much'} farther away "
            f"(distances {number(self.distance)} and {number(self.runner_up_distance)})."
        )
        if self.near_boundary:
            text += " It sits near the boundary between the two: it could belong to either."
        elif self.segment != self.nearest:
            text += " Its own centre is not the nearest: it was moved there by a rule or by hand."
        return text

    def readable(self, entity_word: str) -> pd.DataFrame:
        """The reasons with headers in words: the entity's value, the typical value of its
        segment and of the runner-up (median; for text, the share with the same value), and
        each feature's share of what pulls it toward its segment."""
        if self.reasons.empty:
            return self.reasons
        return self.reasons.rename(
            columns={
                "value": f"this {entity_word}",
                "segment": f"typical of {self.segment}",
                "runner-up": f"typical of {self.runner_up}",
                "pull": "share of the pull",
                "toward": "pulls toward",
            }
        )

    @property
    def nearest(self) -> str:
        return (
            self.segment
            if self.runner_up is None or self.distance <= self.runner_up_distance
            else self.runner_up
        )


def find_entity(entity: str, ids: pd.Index, entity_word: str) -> str:
    """The ID as the data hold it (spaces around it ignored), or a message naming IDs like it."""
    wanted = str(entity).strip()
    if wanted in ids:
        return wanted
    close = [str(i) for i in ids if wanted.casefold() in str(i).casefold()][:5]
    hint = f" IDs like it: {', '.join(close)}." if close else " Check the ID column of the data."
    raise UserInputError(f"No {entity_word} with ID '{wanted}' in this run.{hint}")


def distances_to_every_centre(point: pd.Series, centres: pd.DataFrame) -> pd.Series:
    """Distance from one entity's point to each segment's centre, over the columns it has."""
    present = point.notna().to_numpy()
    gaps = centres.to_numpy()[:, present] - point.to_numpy()[present]
    return pd.Series(np.sqrt(np.nansum(gaps**2, axis=1)), index=centres.index)


def why_here(
    entity: str,
    segment: str,
    point: pd.Series,
    centres: pd.DataFrame,
    features: pd.DataFrame,
    final: pd.Series,
    units: dict[str, ColumnInfo] | None = None,
    reasons: int = REASONS,
) -> WhyHere:
    """Why ``entity`` (of final ``segment``, at ``point`` in the assignment space whose
    segment centres are ``centres``) sits where it does: the runner-up is the nearest other
    centre; the reasons are the features that pull it most toward its segment, each with the
    entity's value and its segment's and the runner-up's typical values in real units
    (``features``: the original columns by ID; ``final``: every entity's segment; ``units``:
    the data dictionary, for the features' words and units)."""
    distances = distances_to_every_centre(point, centres)
    others = distances.drop(index=segment, errors="ignore")
    if others.empty:
        return WhyHere(
            entity, segment, None, float(distances.get(segment, 0.0)), float("nan"), pd.DataFrame()
        )
    runner_up = str(others.idxmin())
    own, other = centres.loc[segment].to_numpy(), centres.loc[runner_up].to_numpy()
    x = point.to_numpy(dtype=float)
    pulls = pd.Series(np.nan_to_num((x - other) ** 2 - (x - own) ** 2), index=point.index)
    by_feature = pulls.groupby([_feature_of(c, features.columns) for c in pulls.index]).sum()
    top = by_feature.sort_values(ascending=False).head(reasons)
    table = pd.DataFrame(
        [
            _reason(feature, pull, entity, (segment, runner_up), features, final, units or {})
            for feature, pull in top.items()
        ]
    )
    total = by_feature.abs().sum()
    table["pull"] = table["pull"] / total if total > 0 else 0.0
    return WhyHere(entity, segment, runner_up, float(distances[segment]), float(others.min()), table)


def _feature_of(column: str, features: pd.Index) -> str:
    """The original feature of a prepared column: ``format=hyper`` -> ``format``."""
    if column in features:
        return column
    base = column.split("=", 1)[0]
    return base if base in features else column


def _reason(
    feature: str,
    pull: float,
    entity: str,
    pair: tuple[str, str],
    features: pd.DataFrame,
    final: pd.Series,
    units: dict[str, ColumnInfo],
) -> dict[str, object]:
    """One feature's row: the entity's value against both segments' typical values (the
    median of a number; for text, the share of each segment with the entity's value)."""
    segment, runner_up = pair
    toward = segment if pull > 0 else runner_up
    words = column_words(feature, units)
    if feature not in features.columns:  # a component of a reduction: no real unit to show
        return {"feature": words, "value": "", "segment": "", "runner-up": "", "pull": pull, "toward": toward}
    column = features[feature]
    value = column.get(entity)
    members = final.reindex(column.index)
    if pd.api.types.is_numeric_dtype(column):
        typical = column.groupby(members).median()
        shown = [value, typical.get(segment), typical.get(runner_up)]
        cells = [formatted(v, feature, column, column_unit(feature, units)) for v in shown]
    else:  # a text column: the share of each segment with the entity's value
        same = column.eq(value).groupby(members).mean()
        cells = [str(value), percent(same.get(segment, 0.0), 0), percent(same.get(runner_up, 0.0), 0)]
    return {
        "feature": words,
        "value": cells[0],
        "segment": cells[1],
        "runner-up": cells[2],
        "pull": pull,
        "toward": toward,
    }
