"""Translation assets: one partition per configured MT system (adding a system adds a partition)."""

import dagster as dg

from assets.common import CONFIG, WarehouseResource, mt_system_partitions, preview
from assets.ingest import segments
from vlmfr_data.mt import create_system
from vlmfr_data.mt.run import translate_segments


@dg.asset(
    partitions_def=mt_system_partitions,
    deps=[segments],
    group_name="translation",
    kinds={"parquet", "pytorch"},
    description="Every segment translated by one MT system (partition = system). Append-only cache: a "
    "re-run translates only what is missing; a failed segment keeps its error and is retried next run. "
    "A system whose model or binary is missing is reported unavailable and the others go on.",
)
def translations(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    store = warehouse.get()
    system_config = CONFIG.mt_system(context.partition_key)
    system = create_system(system_config)
    availability = system.availability()
    if not availability.ok:
        context.log.warning(f"{system.name}: {availability}")
        return dg.MaterializeResult(metadata={"status": str(availability), "new_rows": 0})
    report = translate_segments(
        store,
        system,
        batch_size=system_config.batch_size,
        on_batch=lambda r: context.log.info(
            f"{r.system}: {r.translated + r.failed}/{r.todo} segments, {r.segments_per_second:.1f} seg/s"
        ),
    )
    con = store.connect()
    try:
        total, errors, flags = con.execute(
            "SELECT count(*), count(error), count(*) FILTER (WHERE NOT spans_ok) FROM translations "
            "WHERE system = ? AND system_version = ?",
            [system.name, system.version],
        ).fetchone()
        pairs = con.execute(
            "SELECT s.text_en, t.text_fr, t.error FROM translations t JOIN segments s USING (segment_id) "
            "WHERE t.system = ? AND t.system_version = ? ORDER BY s.n_occurrences DESC LIMIT 12",
            [system.name, system.version],
        ).pl()
    finally:
        con.close()
    return dg.MaterializeResult(
        metadata={
            "status": "available",
            "system_version": system.version,
            "rows": total,
            "new_rows": report.translated + report.failed,
            "errors": errors,
            "span_flags": flags,
            "seconds": round(report.seconds, 2),
            "sentences_per_second": round(report.segments_per_second, 1),
            "sample_pairs": preview(pairs, rows=12),
        }
    )
