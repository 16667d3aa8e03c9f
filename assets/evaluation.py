"""Evaluation's checks and the demo's selection of partitions. The evaluation assets (the English VLM
and translate-test per MT system, every tier model, latency, the threshold sweep, comparisons, the HTML
report) are generated from `evaluation.stages.STAGES`.
"""

import dagster as dg

from assets.common import WarehouseResource, preview
from assets.training import DEMO_TIER_MODEL_PARTITIONS


@dg.asset_check(
    asset="comparisons",
    blocking=False,
    description="Every fine-tuned model (each seed) beats the per-question-type majority answer on every "
    "benchmark and does not collapse onto one answer (>= 90% of its predictions the same string).",
)
def models_beat_majority_baseline(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    import polars as pl

    from evaluation.compare import degenerate_models

    bad = degenerate_models(warehouse.get())
    failing = bad.filter(pl.col("model_kind") == "seed_run")
    return dg.AssetCheckResult(
        passed=failing.height == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "degenerate_models": failing.height,
            "flagged": preview(bad, rows=40),
        },
    )


@dg.asset_check(
    asset="english_vlm_evaluation",
    blocking=False,
    description="The English VLM reaches the training target (exact match >= 0.95) on the English test split.",
)
def english_vlm_reaches_target(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    rows = warehouse.get().sql(
        "SELECT accuracy, n FROM evaluations WHERE model = 'english_vlm' AND benchmark = 'easy_vqa_en'"
    )
    accuracy = rows["accuracy"].item() if rows.height else None
    return dg.AssetCheckResult(
        passed=accuracy is not None and accuracy >= 0.95,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"accuracy": accuracy, "target": 0.95},
    )


@dg.asset_check(
    asset="english_vlm_evaluation",
    blocking=False,
    description="The gold French benchmark holds every English test item (the gold covers every question and answer).",
)
def gold_benchmark_complete(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    rows = dict(
        warehouse.get()
        .sql(
            "SELECT benchmark, n FROM evaluations WHERE model = 'english_vlm' AND benchmark IN ('easy_vqa_en', 'easy_vqa_fr_gold')"
        )
        .iter_rows()
    )
    english, gold = rows.get("easy_vqa_en"), rows.get("easy_vqa_fr_gold")
    return dg.AssetCheckResult(
        passed=english is not None and gold == english,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"english_items": english, "gold_items": gold},
    )


EVALUATION_CHECKS = [english_vlm_reaches_target, gold_benchmark_complete, models_beat_majority_baseline]

# `make demo` evaluates the tier models it trains (assets.definitions collects DEMO_PARTITIONS)
DEMO_PARTITIONS = {"tier_model_evaluation": DEMO_TIER_MODEL_PARTITIONS}
