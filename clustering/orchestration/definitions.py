"""The Dagster definitions: every asset and check, the resources configured from the
environment (``CLUSTERING_STORE_INPUT``: the store pipeline's input file or folder;
``CLUSTERING_DB_URL``: the DFU pipeline's warehouse; ``CLUSTERING_DFU_INPUT``: its input
file or folder; none set: the demo data; for the ``dfu_spark`` assets,
``CLUSTERING_DFU_INPUT`` the monthly sales as Parquet, ``CLUSTERING_DFU_OUTPUT`` a folder and
optionally ``CLUSTERING_SPARK_MASTER``), and the in-process executor: the stages are numpy
and scikit-learn work that uses every core itself, and the multiprocess executor's process
per step cost minutes on two cores (docs/benchmarks.md).
"""

from __future__ import annotations

import dagster as dg

from clustering.orchestration.assets import CHECKS, DFU_ASSETS, STORE_ASSETS
from clustering.orchestration.resources import RunSource, SparkEngine
from clustering.orchestration.spark_steps import SPARK_ASSETS, SPARK_CHECKS

defs = dg.Definitions(
    assets=STORE_ASSETS + DFU_ASSETS + SPARK_ASSETS,
    asset_checks=CHECKS + SPARK_CHECKS,
    executor=dg.in_process_executor,
    resources={
        "store_source": RunSource(preset="store", input=dg.EnvVar("CLUSTERING_STORE_INPUT").get_value()),
        "dfu_source": RunSource(
            preset="dfu",
            database=dg.EnvVar("CLUSTERING_DB_URL").get_value(),
            input=dg.EnvVar("CLUSTERING_DFU_INPUT").get_value(),
        ),
        "dfu_spark": SparkEngine(
            input=dg.EnvVar("CLUSTERING_DFU_INPUT").get_value(),
            output=dg.EnvVar("CLUSTERING_DFU_OUTPUT").get_value(),
            master=dg.EnvVar("CLUSTERING_SPARK_MASTER").get_value() or "local[*]",
        ),
    },
)
