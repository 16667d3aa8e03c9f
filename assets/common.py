"""What every asset module shares: the project config, partitions, the warehouse resource, and the
translation of a library `StageReport` into Dagster metadata."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
import polars as pl

from evaluation.config import EvaluationConfig
from evaluation.sweep import sweep_keys
from training.registry import METHODS
from vlmfr_data import markdown, serving
from vlmfr_data.config import load_config
from vlmfr_data.stage import StageReport
from vlmfr_data.store import Warehouse
from vlmfr_data.tiers import CORPUS_NAMES

CONFIG = load_config()

dataset_partitions = dg.StaticPartitionsDefinition([d.name for d in CONFIG.datasets])
mt_system_partitions = dg.StaticPartitionsDefinition([s.name for s in CONFIG.mt_systems])
# the cumulative tier sets and the gold ceiling corpus
tier_set_partitions = dg.StaticPartitionsDefinition(CORPUS_NAMES)
EVALUATION = EvaluationConfig.from_project(CONFIG)
# one partition per point of the threshold sweep
sweep_partitions = dg.StaticPartitionsDefinition(sweep_keys(EVALUATION.sweep_cuts, EVALUATION.sweep_points))

# A stage's partition dimensions by name (`vlmfr_data.stage.Stage.partitions`); the name is also the
# keyword its library function takes.
PARTITION_DIMENSIONS: dict[str, dg.StaticPartitionsDefinition] = {
    "dataset": dataset_partitions,
    "mt_system": mt_system_partitions,
    "tier_set": tier_set_partitions,
    "method": dg.StaticPartitionsDefinition(METHODS.names()),
    "sweep_point": sweep_partitions,
}


class WarehouseResource(dg.ConfigurableResource):
    """The Parquet + DuckDB warehouse under `home` (empty = `$VLMFR_HOME`, default ./.vlmfr)."""

    home: str = ""

    def get(self) -> Warehouse:
        return Warehouse(self.home or None)


class ModelServersResource(dg.ConfigurableResource):
    """The local model servers (llama.cpp serving a GGUF on 127.0.0.1) of one step.

    An MT system configured with `serve = {...}` starts its server on first use (`vlmfr_data.serving`),
    health-checked, and reuses it for the rest of the step; this resource's teardown stops every server
    the step started, so none outlives the run that needed it (the library's own exit hook does the same
    outside Dagster)."""

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[ModelServersResource]:
        try:
            yield self
        finally:
            stopped = serving.stop_all()
            if stopped and context.log is not None:
                context.log.info(f"stopped {stopped} local model server(s)")

    def describe(self) -> list[dict[str, str]]:
        """The servers running now: engine, model identity, URL."""
        return [
            {"engine": server.engine, "model": server.model_id, "url": server.base_url}
            for server in serving.running()
        ]


def preview(df: pl.DataFrame, rows: int = 10) -> dg.MetadataValue:
    return dg.MetadataValue.md(markdown.table(df, max_rows=rows))


def image_metadata(caption: str, path: Any) -> dg.MetadataValue:
    """A PNG shown inline in the Dagster UI."""
    encoded = base64.b64encode(path.read_bytes()).decode()
    return dg.MetadataValue.md(f"![{caption}](data:image/png;base64,{encoded})")


def metadata(report: StageReport, rows: int = 12) -> dict[str, Any]:
    """A stage report as Dagster metadata: numbers as numbers, dicts as JSON, frames as tables, PNGs inline."""
    out: dict[str, Any] = {"seconds": round(report.seconds, 2)}
    for key, value in report.values.items():
        out[key] = dg.MetadataValue.json(value) if isinstance(value, dict | list) else value
    for key, frame in report.tables.items():
        out[key] = preview(frame, rows=rows)
    for key, path in report.paths.items():
        out[key] = dg.MetadataValue.path(str(path))
    for caption, path in report.figures.items():
        out[caption] = image_metadata(caption, path)
    return out


def partition_keys(context: dg.AssetExecutionContext) -> dict[str, str]:
    """The dimensions of a multi-partitioned asset's key (tier set, method, ...)."""
    key = context.partition_key
    if not isinstance(key, dg.MultiPartitionKey):
        raise TypeError(f"expected a multi-dimensional partition key, got {key!r}")
    return dict(key.keys_by_dimension)
