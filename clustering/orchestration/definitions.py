"""The Dagster definitions: every asset and check, the resources configured from the
environment.
"""

from __future__ import annotations

import dagster as dg

from clustering.orchestration.assets import CHECKS, DFU_ASSETS, STORE_ASSETS
from clustering.orchestration.resources import PipelineSettings

defs = dg.Definitions(
    assets=STORE_ASSETS + DFU_ASSETS,
    asset_checks=CHECKS,
    resources={
        "store_settings": PipelineSettings(
            preset="store", input=dg.EnvVar("CLUSTERING_STORE_INPUT").get_value()
        ),
        "dfu_settings": PipelineSettings(preset="dfu", database=dg.EnvVar("CLUSTERING_DB_URL").get_value()),
    },
)
