"""Ingest assets: English source samples per dataset, then their deduplicated segments."""

import dagster as dg

from assets.common import CONFIG, WarehouseResource, dataset_partitions, preview
from vlmfr_data.ingest import ingest_dataset
from vlmfr_data.segments import build_sample_segments, build_segments


@dg.asset(
    partitions_def=dataset_partitions,
    group_name="ingest",
    kinds={"parquet", "polars"},
    description="Canonical English samples of one configured dataset (partition = dataset); "
    "records that fail validation go to the `quarantine` view with the file, record, field and reason.",
)
def source_samples(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    store = warehouse.get()
    dataset = CONFIG.dataset(context.partition_key)
    report = ingest_dataset(store, dataset)
    sample = store.sql(
        f"SELECT split, sample_id, image, turns FROM samples WHERE dataset = '{dataset.name}' LIMIT 5"
    )
    quarantine = store.sql(f"SELECT * FROM quarantine WHERE dataset = '{dataset.name}' LIMIT 10")
    context.log.info(f"{dataset.name}: {report.samples} samples, {report.quarantined} quarantined")
    return dg.MaterializeResult(
        metadata={
            "samples": report.samples,
            "turns": report.turns,
            "quarantined_records": report.quarantined,
            "per_split": dg.MetadataValue.json(report.per_split),
            "quarantine_reasons": dg.MetadataValue.json(report.reasons),
            "seconds": round(report.seconds, 2),
            "preview": preview(sample),
            "quarantine_preview": preview(quarantine),
        }
    )


@dg.asset(
    deps=[source_samples],
    group_name="ingest",
    kinds={"parquet", "duckdb"},
    description="Every distinct translatable string across datasets (hash-deduplicated, protected spans "
    "marked) and the sample -> segment map that rebuilds each conversation exactly.",
)
def segments(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    store = warehouse.get()
    datasets = [d.name for d in CONFIG.datasets if store.has_partition("samples", d.name)]
    reports = [build_sample_segments(store, name) for name in datasets]
    table = build_segments(store, datasets)
    by_kind = table.group_by("kind").len().sort("kind")
    return dg.MaterializeResult(
        metadata={
            "distinct_segments": table.height,
            "turns": sum(r.turns for r in reports),
            "dedup_ratio": round(sum(r.turns for r in reports) / max(table.height, 1), 1),
            "by_kind": preview(by_kind),
            "preview": preview(table.select("segment_id", "text_en", "kind", "n_occurrences", "n_protected")),
        }
    )
