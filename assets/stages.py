"""The Dagster assets, generated from the stage declarations (`vlmfr_data.stage.Stage`): one
multi-asset per stage, one asset per table or file output it declares, dependencies from what it
declares it reads (on the stages that write those tables), partitions from its partition dimensions.
An asset body calls the stage and hands its `StageReport` to Dagster; nothing here is kept by hand.
"""

from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg

from assets.common import (
    CONFIG,
    PARTITION_DIMENSIONS,
    ModelServersResource,
    WarehouseResource,
    metadata,
    partition_keys,
)
from vlmfr_data.stage import Stage, upstream
from vlmfr_data.store import Warehouse

# Training and evaluation follow their inputs under `make ui`'s daemon: a re-exported corpus or a
# retrained model is trained or evaluated again (unchanged inputs reuse the finished run or cache).
AUTOMATION = dg.AutomationCondition.eager()


def partitions_of(dimensions: tuple[str, ...]) -> dg.PartitionsDefinition | None:
    if not dimensions:
        return None
    if len(dimensions) == 1:
        return PARTITION_DIMENSIONS[dimensions[0]]
    return dg.MultiPartitionsDefinition({name: PARTITION_DIMENSIONS[name] for name in dimensions})


def _mapping(up: Stage, down: Stage) -> dg.PartitionMapping | None:
    """Same partitions: partition to partition (Dagster's default), and a single dimension of the
    downstream's too (its default maps along that dimension); any other partitioned input: all of it."""
    if not up.partitions or up.partitions == down.partitions:
        return None
    if len(up.partitions) == 1 and up.partitions[0] in down.partitions:
        return None
    return dg.AllPartitionMapping()


def _deps(stage: Stage, by_name: dict[str, Stage], warehouse: Warehouse) -> list[dg.AssetDep]:
    """The assets this stage reads: a table that is an asset is itself; a table another stage writes
    without it being that stage's asset (rows in `evaluations`) stands for that stage's first asset."""
    writers: dict[str, list[Stage]] = {}
    for other in by_name.values():
        for name in dict.fromkeys((*other.writes, *other.assets)):
            writers.setdefault(name, []).append(other)
    keys: dict[str, Stage] = {}
    for entry in (*stage.reads, *stage.after):
        table, _, only = entry.partition("@")
        for name in warehouse.view_tables(table):
            for writer in writers[name]:
                if writer.name == stage.name or (only and writer.name != only):
                    continue
                keys[name if name in writer.assets else writer.assets[0]] = writer
    return [
        dg.AssetDep(key, partition_mapping=_mapping(writer, stage)) for key, writer in sorted(keys.items())
    ]


def _description(stage: Stage, asset: str, warehouse: Warehouse) -> str:
    table = warehouse.catalog.description(asset)
    return " ".join(part for part in (table, stage.description) if part)


def _materializations(stage: Stage, report: Any) -> Iterator[dg.MaterializeResult]:
    """The stage's report on its first asset; on each other one what the report gives it."""
    for index, asset in enumerate(stage.assets):
        if index == 0:
            yield dg.MaterializeResult(asset_key=asset, metadata=metadata(report))
            continue
        values = report.per_asset.get(asset, {})
        yield dg.MaterializeResult(
            asset_key=asset,
            metadata={
                k: dg.MetadataValue.json(v) if isinstance(v, dict | list) else v for k, v in values.items()
            },
        )


def stage_asset(stage: Stage, by_name: dict[str, Stage]) -> dg.AssetsDefinition:
    warehouse = Warehouse()  # for the catalog only: nothing is read or written here
    deps = _deps(stage, by_name, warehouse)
    specs = [
        dg.AssetSpec(
            asset,
            description=_description(stage, asset, warehouse),
            group_name=stage.group or None,
            deps=deps,
            kinds=set(stage.kinds),
            automation_condition=AUTOMATION if stage.follows_inputs else None,
        )
        for asset in stage.assets
    ]
    keys_of: Callable[[dg.AssetExecutionContext], dict[str, str]]
    if not stage.partitions:
        keys_of = lambda context: {}  # noqa: E731
    elif len(stage.partitions) == 1:
        keys_of = lambda context: {stage.partitions[0]: context.partition_key}  # noqa: E731
    else:
        keys_of = partition_keys

    @dg.multi_asset(
        name=stage.name,
        specs=specs,
        partitions_def=partitions_of(stage.partitions),
    )
    def materialize(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, model_servers: ModelServersResource
    ) -> Iterator[dg.MaterializeResult]:
        report = stage(warehouse.get(), CONFIG, log=context.log.info, **keys_of(context))
        served = model_servers.describe()
        if served:
            report.values["served_by"] = served
        yield from _materializations(stage, report)

    return materialize


def stage_assets(stages: list[Stage]) -> list[dg.AssetsDefinition]:
    by_name = {stage.name: stage for stage in stages}
    if len(by_name) != len(stages):
        raise ValueError("two stages share a name")
    upstream(stages, Warehouse().view_tables)  # every read has a writer, before any asset is built
    return [stage_asset(stage, by_name) for stage in stages]
