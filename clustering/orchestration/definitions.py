"""The Dagster definitions: every asset and check, the resources configured from the
environment (``CLUSTERING_STORE_INPUT``: the store pipeline's input file or folder;
``CLUSTERING_DB_URL``: the DFU pipeline's warehouse; ``CLUSTERING_DFU_INPUT``: its input
file or folder; none set: the demo data; ``CLUSTERING_DFU_ENGINE=spark`` with
``CLUSTERING_DFU_INPUT`` the monthly sales as Parquet, ``CLUSTERING_DFU_OUTPUT`` a folder and
optionally ``CLUSTERING_SPARK_MASTER``: the DFU assets on Spark), and the
in-process executor: the stages are numpy and scikit-learn work that uses every core itself,
and the multiprocess executor's process per step cost minutes on two cores (2 min 29 s for
27 s of work).
"""

from __future__ import annotations

import dagster as dg

from clustering.orchestration.assets import CHECKS, DFU_ASSETS, STORE_ASSETS
from clustering.orchestration.resources import PipelineSettings

defs = dg.Definitions(
    assets=STORE_ASSETS + DFU_ASSETS,
    asset_checks=CHECKS,
    executor=dg.in_process_executor,
    resources={
        "store_settings": PipelineSettings(
            preset="store", input=dg.EnvVar("CLUSTERING_STORE_INPUT").get_value()
        ),
        "dfu_settings": PipelineSettings(
            preset="dfu",
            database=dg.EnvVar("CLUSTERING_DB_URL").get_value(),
            input=dg.EnvVar("CLUSTERING_DFU_INPUT").get_value(),
            engine=dg.EnvVar("CLUSTERING_DFU_ENGINE").get_value() or "memory",
            output=dg.EnvVar("CLUSTERING_DFU_OUTPUT").get_value(),
            spark_master=dg.EnvVar("CLUSTERING_SPARK_MASTER").get_value() or "local[*]",
        ),
    },
)
