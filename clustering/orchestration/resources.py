"""The resources the assets read: which preset, where the data comes from (an input file
or folder, a database URL, else the demo data), and which engine runs the DFU assets (in
memory, or Spark for more DFUs than one machine holds).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd

from clustering.config import RunConfig, load_config
from clustering.errors import UserInputError
from clustering.io.inputs import database_sheets, load_tables

CODE_VERSION = "1"


ENGINES = ("memory", "spark")


class PipelineSettings(dg.ConfigurableResource):
    """Which preset, where the data comes from (a file, a database, or the demo), and the DFU
    engine: ``memory`` (one process), or ``spark`` (``input``: the monthly sales as Parquet;
    ``output``: the folder for the features and every DFU's assignment, as Parquet;
    ``spark_master``: ``local[*]`` by default, or a cluster's URL)."""

    preset: str
    input: str | None = None
    database: str | None = None
    demo_size: int = 2000
    engine: str = "memory"
    spark_master: str = "local[*]"
    output: str | None = None

    def config(self) -> RunConfig:
        return load_config(self.preset)

    def on_spark(self) -> bool:
        """Whether the DFU assets run on Spark; a clear error for an unknown engine or a Spark
        engine without its Parquet input and output folder."""
        if self.engine not in ENGINES:
            raise UserInputError(f"engine '{self.engine}' is not one of {', '.join(ENGINES)}.")
        if self.engine == "spark" and not (self.input and self.output):
            raise UserInputError(
                "engine 'spark' reads the monthly sales from 'input' (Parquet) and writes to the "
                "folder 'output': set both."
            )
        return self.engine == "spark"

    def spark(self) -> object:
        """The running Spark session (a notebook's, a test's), else a new one on ``spark_master``."""
        from pyspark.sql import SparkSession

        from clustering.spark.scale import spark_session

        return SparkSession.getActiveSession() or spark_session(self.spark_master)

    def spark_path(self, name: str) -> str:
        """Where the Spark engine writes its dataset ``name`` (features, assignments)."""
        return str(Path(self.output or ".").resolve() / name)

    def sheets(self, config: RunConfig) -> dict[str, pd.DataFrame]:
        if self.database:
            from clustering.io.database import connect

            return database_sheets(connect(self.database), config)
        if self.input:
            return load_tables(config, self.input)
        from clustering.demo import dfu_demo, store_demo

        is_dfu = any(d.features is not None for d in config.datasets.values())
        return dfu_demo(self.demo_size, 36, 7) if is_dfu else store_demo(self.demo_size, 7)
