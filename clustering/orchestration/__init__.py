"""Dagster assets for the store and the DFU pipelines, over the engine's own stages.

``dagster dev -m clustering.orchestration`` shows the graph; ``defs`` is the code location.
Each asset is one stage of ``clustering.pipeline`` (the same functions the CLI and the app
call), with a ``code_version`` so Dagster knows when a stage's logic changed:

- store: ``store_inputs`` (read and validated) → ``internal_prepared`` → ``internal_segments``,
  ``external_prepared`` → ``external_segments`` → ``merged_segments`` (the merge and the
  analyst's overrides) → ``final_segments`` (one row per store, named) and
  ``segment_profiles`` (profiles, tests, rules, names);
- DFU: ``dfu_features`` (monthly sales to one row per DFU, in the database when it can)
  → ``dfu_segments`` → ``dfu_labels`` → ``dfu_write_back``.

Config comes from the same YAML presets (``preset``: a name or a file), with the input as
a file (``input``) or a database (``database``, a SQLAlchemy URL); with neither, the demo
data of the preset's kind. Asset checks report the validation findings: an error stops the
asset itself; warnings (stores in one dataset only, short histories, coercions) are a
failed check of severity WARN (it does not block the downstream assets), with the findings as
metadata.

Modules: ``resources``, ``assets``, ``definitions`` (``defs``, what ``dagster dev -m
clustering.orchestration`` loads). This module only re-exports.
"""

from clustering.orchestration.assets import CHECKS, DFU_ASSETS, STORE_ASSETS
from clustering.orchestration.definitions import defs
from clustering.orchestration.resources import CODE_VERSION, PipelineSettings

__all__ = ["CHECKS", "CODE_VERSION", "DFU_ASSETS", "STORE_ASSETS", "PipelineSettings", "defs"]
