"""The resources the assets read: where a run's data comes from (``RunSource``: a preset and
an input file or folder, a database URL, else the demo data), and the Spark engine of the
DFU assets on Spark (``SparkEngine``: the monthly sales as Parquet, a folder, a master).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd

from clustering.config import RunConfig, load_config
from clustering.errors import UserInputError
from clustering.io.inputs import database_sheets, load_tables


class RunSource(dg.ConfigurableResource):
    """Which preset (a name or a YAML file), and where its data comes from: a file or folder
    (``input``), a database (``database``, a SQLAlchemy URL, also where labels are written), or,
    with neither, the demo data of the preset's kind (``demo_size`` entities)."""

    preset: str
    input: str | None = None
    database: str | None = None
    demo_size: int = 2000

    def config(self) -> RunConfig:
        return load_config(self.preset)

    def sheets(self, config: RunConfig) -> dict[str, pd.DataFrame]:
        """The input tables by sheet: from the database, the input, or the demo."""
        if self.database:
            from clustering.io.database import connect

            return database_sheets(connect(self.database), config)
        if self.input:
            return load_tables(config, self.input)
        from clustering.demo import demo_for

        return demo_for(config, self.demo_size, seed=7)

    def destination(self) -> object | None:
        """Where the ``written`` stage writes: the database, if one is configured."""
        if not self.database:
            return None
        from clustering.io.database import connect
        from clustering.io.hosting import system_user
        from clustering.io.writeback import Destination

        return Destination(connect(self.database), written_by=system_user())


class SparkEngine(dg.ConfigurableResource):
    """The DFU assets on Spark: ``input`` the monthly sales as Parquet, ``output`` the folder
    for the features and every DFU's assignment (Parquet), ``master`` ``local[*]`` by default
    or a cluster's URL."""

    input: str | None = None
    output: str | None = None
    master: str = "local[*]"

    def check(self) -> None:
        """A clear error when the Parquet input or the output folder is missing."""
        if not (self.input and self.output):
            raise UserInputError(
                "The Spark engine reads the monthly sales from 'input' (Parquet) and writes to the "
                "folder 'output': set both (CLUSTERING_DFU_INPUT, CLUSTERING_DFU_OUTPUT)."
            )

    def session(self) -> object:
        """The running Spark session (a notebook's, a test's), else a new one on ``master``."""
        from pyspark.sql import SparkSession

        from clustering.spark.scale import spark_session

        return SparkSession.getActiveSession() or spark_session(self.master)

    def path(self, name: str) -> str:
        """Where the engine writes its dataset ``name`` (features, assignments)."""
        return str(Path(self.output or ".").resolve() / name)
