"""The data half, one asset per warehouse table (multi-assets where one step writes several tables).
Each body calls one library stage (`vlmfr_data.stages`) and hands its report to Dagster."""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from assets.common import (
    CONFIG,
    WarehouseResource,
    dataset_partitions,
    metadata,
    mt_system_partitions,
    tier_set_partitions,
)
from vlmfr_data import stages
from vlmfr_data.schema import installed_catalog


def _spec(table: str, group: str, deps: list[str] | None = None, **kwargs: Any) -> dg.AssetSpec:
    return dg.AssetSpec(
        table,
        description=installed_catalog().description(table),
        group_name=group,
        deps=deps or [],
        kinds={"parquet"},
        **kwargs,
    )


@dg.multi_asset(
    specs=[_spec("samples", "ingest"), _spec("quarantine", "ingest")],
    partitions_def=dataset_partitions,
    name="ingest",
)
def ingest(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    """English samples of one configured dataset (partition = dataset); bad records go to quarantine."""
    report = stages.ingest(warehouse.get(), CONFIG, context.partition_key, log=context.log.info)
    meta = metadata(report)
    yield dg.MaterializeResult(
        asset_key="samples", metadata={k: v for k, v in meta.items() if k != "quarantine_preview"}
    )
    yield dg.MaterializeResult(
        asset_key="quarantine",
        metadata={
            "quarantined_records": report.values["quarantined_records"],
            "preview": meta["quarantine_preview"],
        },
    )


@dg.multi_asset(
    specs=[
        _spec("sample_segments", "ingest", deps=["samples"]),
        _spec("dataset_segments", "ingest", deps=["samples"]),
        _spec("segments", "ingest", deps=["samples"]),
        _spec("segment_contexts", "ingest", deps=["samples"]),
    ],
    name="segment",
)
def segment(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    """Every distinct translatable string, and the sample -> segment map that rebuilds each turn."""
    report = stages.segment(warehouse.get(), CONFIG, log=context.log.info)
    yield dg.MaterializeResult(asset_key="segments", metadata=metadata(report))
    yield dg.MaterializeResult(asset_key="sample_segments", metadata={"turns": report.values["turns"]})
    yield dg.MaterializeResult(
        asset_key="dataset_segments", metadata={"distinct_segments": report.values["distinct_segments"]}
    )
    yield dg.MaterializeResult(
        asset_key="segment_contexts",
        metadata={"short_segments_with_context": report.values["short_segments_with_context"]},
    )


@dg.asset(
    partitions_def=mt_system_partitions,
    deps=["segments", "segment_contexts"],
    group_name="translation",
    kinds={"parquet"},
    description=installed_catalog().description("translations")
    + " Partition = MT system; append-only, resumable cache.",
)
def translations(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    report = stages.translate(warehouse.get(), CONFIG, context.partition_key, log=context.log.info)
    return dg.MaterializeResult(metadata=metadata(report))


@dg.multi_asset(
    specs=[
        _spec("quality_scores", "quality", deps=["translations", "segments", "expert_reviews"]),
        _spec("quality_signals", "quality", deps=["translations", "segments", "expert_reviews"]),
    ],
    name="score",
)
def score(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    """Every new (translation, signal version) scored; unavailable signals recorded as skipped with why."""
    report = stages.score(warehouse.get(), CONFIG, log=context.log.info)
    yield dg.MaterializeResult(asset_key="quality_scores", metadata=metadata(report, rows=40))
    yield dg.MaterializeResult(
        asset_key="quality_signals", metadata={"signals": dg.MetadataValue.json(report.values["signals"])}
    )


@dg.asset(
    deps=["quality_scores", "quality_signals"],
    group_name="quality",
    kinds={"parquet"},
    description=installed_catalog().description("translation_quality"),
)
def translation_quality(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata=metadata(stages.combine(warehouse.get(), CONFIG, log=context.log.info))
    )


@dg.asset(
    deps=["translation_quality", "sample_segments", "samples"],
    group_name="quality",
    kinds={"parquet"},
    description=installed_catalog().description("french_samples"),
)
def french_samples(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata=metadata(stages.rebuild_french(warehouse.get(), CONFIG, log=context.log.info))
    )


GOLD_TABLES = ["gold_pairs", "gold_summary", "signal_correlations", "threshold_ablation"]


@dg.multi_asset(
    specs=[_spec(name, "gold", deps=["translation_quality", "french_samples"]) for name in GOLD_TABLES],
    name="evaluate_gold",
)
def evaluate_gold(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    """Translations against the shipped hand-written gold French."""
    report = stages.evaluate_gold(warehouse.get(), CONFIG, log=context.log.info)
    yield dg.MaterializeResult(asset_key="gold_summary", metadata=metadata(report, rows=20))
    for name in (n for n in GOLD_TABLES if n != "gold_summary"):
        yield dg.MaterializeResult(
            asset_key=name, metadata={"pairs_with_gold": report.values["pairs_with_gold"]}
        )


@dg.asset(
    partitions_def=tier_set_partitions,
    deps=["french_samples"],
    group_name="corpora",
    kinds={"json", "parquet"},
    description="A French training corpus per cumulative tier set under VLMFR_HOME/corpora/<tier set>/: LLaVA "
    "JSON, Parquet and a manifest. Training and evaluation per tier read exactly these files. Partition `gold`: "
    "the ceiling, every sample whose segments all have a hand-written reference, in that French.",
)
def french_corpora(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    report = stages.export_corpus(warehouse.get(), CONFIG, context.partition_key, log=context.log.info)
    return dg.MaterializeResult(metadata=metadata(report))


@dg.asset(
    deps=[*GOLD_TABLES, "french_corpora"],
    group_name="quality",
    kinds={"markdown"},
    description="The quality report (Markdown + PNG figures) under VLMFR_HOME/report/.",
)
def quality_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata=metadata(stages.report(warehouse.get(), CONFIG, log=context.log.info))
    )


DATA_ASSETS = [
    ingest,
    segment,
    translations,
    score,
    translation_quality,
    french_samples,
    evaluate_gold,
    french_corpora,
    quality_report,
]
