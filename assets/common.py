"""What every asset module shares: the project config, partitions, and the warehouse resource."""

from __future__ import annotations

import dagster as dg
import polars as pl

from vlmfr_data import markdown, tables  # noqa: F401  (registers every table)
from vlmfr_data.config import load_config
from vlmfr_data.store import Warehouse

CONFIG = load_config()

dataset_partitions = dg.StaticPartitionsDefinition([d.name for d in CONFIG.datasets])
mt_system_partitions = dg.StaticPartitionsDefinition([s.name for s in CONFIG.mt_systems])


class WarehouseResource(dg.ConfigurableResource):
    """The Parquet + DuckDB warehouse under `home` (empty = `$VLMFR_HOME`, default ./.vlmfr)."""

    home: str = ""

    def get(self) -> Warehouse:
        return Warehouse(self.home or None)


def preview(df: pl.DataFrame, rows: int = 10) -> dg.MetadataValue:
    return dg.MetadataValue.md(markdown.table(df, max_rows=rows))
