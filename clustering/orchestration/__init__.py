"""Dagster assets for the store and the DFU pipelines, built from the engine's declared stages.

``dagster dev -m clustering.orchestration`` shows the graph; ``defs`` is the code location.
For each preset (``store``, ``dfu``) every stage of ``clustering.pipeline.stages`` is an asset
per dataset (``store/internal_prepared``, ``store/external_clustered``, ``store/merged``,
``store/result``, ``store/written``...), reading the preset's input tables
(``<preset>/sheets``), with a ``code_version`` hashed from the stage's source so Dagster
knows when a stage's logic changed; the DFU assets on Spark are the group ``dfu_spark``.

Config comes from the same YAML presets (``RunSource.preset``: a name or a file), with the
input as a file (``input``) or a database (``database``, a SQLAlchemy URL, also where the
``written`` asset writes the labels); with neither, the demo data of the preset's kind. An
asset check reports the validation findings: an error stops the asset itself; warnings
(stores in one dataset only, short histories, coercions) are a failed check of severity WARN
(it does not block the downstream assets), with the findings as metadata.

Modules: ``resources``, ``assets``, ``spark_steps``, ``definitions`` (``defs``, what
``dagster dev -m clustering.orchestration`` loads). This module only re-exports.
"""

from clustering.orchestration.assets import CHECKS, DFU_ASSETS, STORE_ASSETS, asset_key, preset_assets
from clustering.orchestration.definitions import defs
from clustering.orchestration.resources import RunSource, SparkEngine
from clustering.orchestration.spark_steps import SPARK_ASSETS, SPARK_CHECKS

__all__ = [
    "CHECKS",
    "DFU_ASSETS",
    "SPARK_ASSETS",
    "SPARK_CHECKS",
    "STORE_ASSETS",
    "RunSource",
    "SparkEngine",
    "asset_key",
    "defs",
    "preset_assets",
]
