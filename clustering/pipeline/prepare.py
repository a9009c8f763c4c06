"""Stage 1: validate the input tables and prepare each dataset's matrix."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from clustering.config import (
    DatasetConfig,
    DemandFeatureConfig,
    PreprocessConfig,
    RunConfig,
)
from clustering.errors import UserInputError, where
from clustering.io.validation import (
    Finding,
    ValidatedTable,
    align_id_case,
    check_shared_ids,
    check_table,
    compare_ids,
)
from clustering.model.metrics import sample_rows
from clustering.prep.features import demand_features, join_attributes
from clustering.prep.preprocessing import Preprocessor

if TYPE_CHECKING:  # the database layer (SQLAlchemy, sqlglot) loads only for a database run
    pass
from clustering.io.inputs import precomputed_key
from clustering.results import PreparedDataset


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
        table.attrs["short_history"] = [str(i) for i in dropped]  # placed by rule if the analyst asks
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
            findings.append(short_history_finding(dataset.features, len(dropped), dropped[:5]))
    return tables, findings


def short_history_finding(features: DemandFeatureConfig, count: int, examples: list[str]) -> Finding:
    """The warning that ``count`` DFUs had too short a history for features and were left out."""
    return Finding(
        "warning",
        features.sales_sheet,
        f"{count:,} DFU(s) have fewer than {features.min_months} months of history "
        f"in the window and were left out (e.g. {', '.join(examples)}).",
    )


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


PREPARE_CHECK_ROWS = 20_000  # a sample this large shows whether a dataset can be prepared


def check_preparation(
    name: str, table: ValidatedTable, config: DatasetConfig, random_state: int | None
) -> PreparedDataset | None:
    """Raise the user error ``prepare_dataset`` would (nothing left to cluster, options that do
    not fit the columns) before new data replaces what the analyst has, without holding a
    second copy of a large table: a table of at most PREPARE_CHECK_ROWS rows is prepared (and
    returned, to keep); a larger one is tried on a fixed-seed sample of that many rows, and on
    every row only to confirm a refusal (a sample never refuses what the whole table allows).
    None when the table was checked on a sample (its matrix is made when it is prepared)."""
    if len(table.frame) <= PREPARE_CHECK_ROWS:
        return prepare_dataset(name, table, config, random_state)
    rows = np.sort(sample_rows(len(table.frame), PREPARE_CHECK_ROWS, random_state))
    try:
        prepare_dataset(name, replace(table, frame=table.frame.iloc[rows]), config, random_state)
    except UserInputError:
        prepare_dataset(name, table, config, random_state)  # raises unless the sample misled
    return None


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


def check_sheets(
    config: RunConfig, sheets: dict[str, pd.DataFrame]
) -> tuple[dict[str, ValidatedTable], list[Finding]]:
    """Build each dataset's table (DFU features included) and validate it."""
    tables, built = dataset_tables(config, sheets)
    checked, findings = validate_tables(tables, config)
    return checked, built + findings
