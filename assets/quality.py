"""Quality assets: scores per signal, tiers and French samples, gold evaluation, report, tiered corpora.

Great Expectations suites run as asset checks: ERROR for broken invariants, WARN for drift.
"""

import dagster as dg

from assets.common import CONFIG, WarehouseResource, preview
from assets.ingest import segments
from assets.translation import translations
from vlmfr_data.corpora import TIER_SETS, export_corpus
from vlmfr_data.quality.config import QualityConfig
from vlmfr_data.quality.gold import evaluate_against_gold, load_gold
from vlmfr_data.quality.report import build_quality_figures
from vlmfr_data.quality.scoring import combine_scores, score_translations
from vlmfr_data.quality.tiers import build_french_samples
from vlmfr_data.report import write_report
from vlmfr_data.validation import SUITES, run_suite

QUALITY = QualityConfig.from_dict(CONFIG.quality)
corpus_partitions = dg.StaticPartitionsDefinition(list(TIER_SETS))


@dg.asset(
    deps=[translations, segments],
    group_name="quality",
    kinds={"parquet", "duckdb"},
    description="Every translation scored by every available quality signal (one row per segment x system x "
    "signal). Append-only: only new (translation, signal version) pairs are scored. Unavailable signals "
    "(e.g. COMET without a local checkpoint) are recorded as skipped with the reason.",
)
def quality_scores(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    store = warehouse.get()
    report = score_translations(store, QUALITY)
    for name, status in report.signals.items():
        context.log.info(f"{name}: {status}")
    summary = store.sql(
        "SELECT q.signal, q.system, count(*) AS pairs, round(avg(q.score), 3) AS mean_score, count(q.gate) AS gated "
        "FROM quality_scores q JOIN quality_signals s USING (signal, signal_version) GROUP BY ALL ORDER BY ALL"
    )
    return dg.MaterializeResult(
        metadata={
            "pairs": report.pairs,
            "seconds": round(report.seconds, 1),
            "signals": dg.MetadataValue.json(report.signals),
            "mean_score_per_signal_and_system": preview(summary, rows=40),
        }
    )


@dg.asset(
    deps=[quality_scores],
    group_name="quality",
    kinds={"parquet", "duckdb"},
    description="Combined score and hard gates per translation, best system per segment, and French samples "
    "rebuilt from the best translations with their tier (worst of their segments).",
)
def french_samples(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    store = warehouse.get()
    quality = combine_scores(store, QUALITY)
    for dataset in store.partitions("samples"):
        rows = build_french_samples(store, dataset)
        context.log.info(f"{dataset}: {rows} French samples")
    tiers = store.sql("SELECT * FROM tier_summary")
    best = quality.filter(quality["is_best"]).group_by("system").len().sort("system")
    return dg.MaterializeResult(
        metadata={
            "thresholds": dg.MetadataValue.json(QUALITY.thresholds),
            "tier_summary": preview(tiers),
            "best_system_counts": preview(best),
            "samples": int(tiers["samples"].sum()) if tiers.height else 0,
        }
    )


@dg.asset(
    deps=[french_samples],
    group_name="quality",
    kinds={"parquet"},
    description="Translations against the shipped, hand-written gold French (every distinct easy-vqa question "
    "and answer): reference chrF/BLEU per system, share of high-quality translations, and the Spearman "
    "correlation of each signal and of the combined score with gold chrF.",
)
def gold_evaluation(warehouse: WarehouseResource) -> dg.MaterializeResult:
    store = warehouse.get()
    results = evaluate_against_gold(store, load_gold(), QUALITY.gold_high_chrf)
    return dg.MaterializeResult(
        metadata={
            "pairs_with_gold": results["pairs"].height,
            "per_system": preview(results["summary"]),
            "signal_correlations": preview(results["correlations"], rows=20),
        }
    )


@dg.asset(
    deps=[gold_evaluation],
    group_name="quality",
    kinds={"markdown", "matplotlib"},
    description="The quality report (Markdown + PNG figures) under VLMFR_HOME/report/.",
)
def quality_report(warehouse: WarehouseResource) -> dg.MaterializeResult:
    store = warehouse.get()
    figures = build_quality_figures(store, QUALITY)
    path = write_report(store, figures)
    metadata: dict[str, object] = {"report": dg.MetadataValue.path(str(path))}
    for caption, figure in figures:
        metadata[caption] = dg.MetadataValue.md(f"![{caption}](data:image/png;base64,{_base64(figure)})")
    return dg.MaterializeResult(metadata=metadata)


def _base64(path) -> str:  # noqa: ANN001
    import base64

    return base64.b64encode(path.read_bytes()).decode()


@dg.asset(
    partitions_def=corpus_partitions,
    deps=[french_samples],
    group_name="corpora",
    kinds={"json", "parquet"},
    description="A French training corpus per cumulative tier (high, high+medium, high+medium+low) under "
    "VLMFR_HOME/corpora/<tier>/: LLaVA conversation JSON, Parquet and a manifest. Training and evaluation "
    "per tier read exactly these files.",
)
def french_corpora(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    report = export_corpus(warehouse.get(), context.partition_key, QUALITY.thresholds)
    return dg.MaterializeResult(
        metadata={
            "samples": report.samples,
            "by_dataset": dg.MetadataValue.json(report.by_dataset),
            "folder": dg.MetadataValue.path(str(report.folder)),
        }
    )


def _gx_check(suite_name: str, asset: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    suite = SUITES[suite_name]
    severity = dg.AssetCheckSeverity.ERROR if suite.severity == "error" else dg.AssetCheckSeverity.WARN

    @dg.asset_check(
        asset=asset,
        name=suite_name,
        blocking=False,
        description=f"Great Expectations suite `{suite_name}` ({suite.severity}) on `{suite.table}`.",
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        outcome = run_suite(warehouse.get(), suite_name)
        return dg.AssetCheckResult(
            passed=outcome.success,
            severity=severity,
            metadata={
                "rows": outcome.rows,
                "failures": dg.MetadataValue.json(outcome.failures),
                "data_docs": dg.MetadataValue.url(outcome.docs_url or ""),
            },
        )

    return _check


GX_CHECKS = [
    _gx_check("translations_invariants", translations),
    _gx_check("translations_drift", translations),
    _gx_check("quality_scores_invariants", quality_scores),
    _gx_check("french_share_drift", quality_scores),
    _gx_check("french_samples_invariants", french_samples),
    _gx_check("french_samples_drift", french_samples),
]
