"""The resources the assets read: which preset, and where the data comes from (an input file
or folder, a database URL, else the demo data).
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from clustering.config import RunConfig, load_config
from clustering.io.inputs import database_sheets, load_tables

CODE_VERSION = "1"


class PipelineSettings(dg.ConfigurableResource):
    """Which preset, and where the data comes from (a file, a database, or the demo)."""

    preset: str
    input: str | None = None
    database: str | None = None
    demo_size: int = 2000

    def config(self) -> RunConfig:
        return load_config(self.preset)

    def sheets(self, config: RunConfig) -> dict[str, pd.DataFrame]:
        if self.database:
            from clustering.io.database import connect

            return database_sheets(connect(self.database), config)
        if self.input:
            return load_tables(config, self.input)
        from clustering.demo import dfu_demo, store_demo

        is_dfu = any(d.features is not None for d in config.datasets.values())
        return dfu_demo(self.demo_size, 36, 7) if is_dfu else store_demo(self.demo_size, 7)
