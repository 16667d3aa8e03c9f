"""Evaluation assets: the English VLM, translate-test per MT system, every tier model, latency, the
threshold sweep (one partition per configured cut) and the HTML report. Thin wrappers over `evaluation`.

`assets.definitions` collects `EVALUATION_ASSETS` and `EVALUATION_CHECKS` (in this order:
the report comes last, the sweep after the models it compares with).
"""

from typing import Any

import dagster as dg

from assets.common import (
    CONFIG,
    WarehouseResource,
    image_metadata,
    mt_system_partitions,
    partition_keys,
    preview,
)
from assets.training import DEMO_TIER_MODEL_PARTITIONS, tier_model_partitions
from evaluation.config import EvaluationConfig
from evaluation.sweep import sweep_keys

EVALUATION = EvaluationConfig.from_project(CONFIG)
sweep_partitions = dg.StaticPartitionsDefinition(sweep_keys(EVALUATION.sweep_cuts, EVALUATION.sweep_points))

# With `make ui`'s daemon running, evaluation follows its inputs: a retrained model or re-cut corpus is
# evaluated again (cached predictions make an unchanged model cost nothing).
AUTOMATION = dg.AutomationCondition.eager()

# Training's and quality's assets by key: no import cycle, and the graph still orders them.
ENGLISH_VLM = dg.AssetKey("english_vlm")
TIER_MODELS = dg.AssetKey("tier_models")
TRANSLATIONS = dg.AssetKey("translations")
FRENCH_SAMPLES = dg.AssetKey("french_samples")
GOLD_PAIRS = dg.AssetKey("gold_pairs")
QUALITY_REPORT = dg.AssetKey("quality_report")


def _rows_preview(rows: list[dict]) -> dg.MetadataValue:
    import polars as pl

    columns = ["model", "benchmark", "accuracy", "ci_low", "ci_high", "n", "seconds", "predictions_cached"]
    return preview(pl.DataFrame(rows).select(columns) if rows else pl.DataFrame(), rows=40)


@dg.asset(
    deps=[ENGLISH_VLM, TRANSLATIONS, GOLD_PAIRS],
    group_name="evaluation",
    automation_condition=AUTOMATION,
    kinds={"pytorch", "parquet"},
    description="The English-trained VLM on the English test split (upper bound) and on every French benchmark "
    "(gold, and the test split as each MT system translated it) without adaptation. One `evaluations` row per "
    "benchmark (accuracy, 95% bootstrap interval, per question type, seconds); predictions in `eval_predictions`, "
    "reused while the model and benchmark versions are unchanged.",
)
def english_vlm_evaluation(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    from evaluation.pipeline import evaluate_english_vlm

    rows = evaluate_english_vlm(warehouse.get(), CONFIG, EVALUATION, emit=context.log.info)
    accuracy = {r["benchmark"]: round(r["accuracy"], 4) for r in rows}
    return dg.MaterializeResult(
        metadata={
            "accuracy": dg.MetadataValue.json(accuracy),
            "seconds": round(sum(r["seconds"] for r in rows), 1),
            "evaluations": _rows_preview(rows),
        }
    )


@dg.asset(
    partitions_def=mt_system_partitions,
    deps=[ENGLISH_VLM, TRANSLATIONS, GOLD_PAIRS],
    group_name="evaluation",
    automation_condition=AUTOMATION,
    kinds={"pytorch", "parquet"},
    description="Translate-test with one MT system (partition): French question -> English through the system's "
    "FR->EN partner, the English VLM answers, the answer goes back to French through the same platform MT code "
    "(cached per distinct string). A system with no way back is reported and skipped.",
)
def translate_test_evaluation(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    from evaluation.pipeline import evaluate_translate_test

    rows, reason = evaluate_translate_test(
        warehouse.get(), CONFIG, EVALUATION, context.partition_key, emit=context.log.info
    )
    if not rows:
        context.log.warning(f"translate-test {context.partition_key}: skipped ({reason})")
        return dg.MaterializeResult(metadata={"status": f"skipped: {reason}"})
    row = rows[0]
    return dg.MaterializeResult(
        metadata={
            "status": "ok",
            "accuracy": round(row["accuracy"], 4),
            "accuracy_answer_en": row["accuracy_answer_en"],
            "seconds": round(row["seconds"], 1),
            "evaluations": _rows_preview(rows),
        }
    )


@dg.asset(
    partitions_def=tier_model_partitions,
    # every MT system's translations (the MT benchmarks), not a partition named like this one
    deps=[TIER_MODELS, dg.AssetDep(TRANSLATIONS, partition_mapping=dg.AllPartitionMapping()), GOLD_PAIRS],
    group_name="evaluation",
    automation_condition=AUTOMATION,
    kinds={"pytorch", "parquet"},
    description="The (tier set, method) model of this partition on the French benchmarks (gold and each MT "
    "system's translation), cached per model version; follows its `tier_models` partition.",
)
def tier_model_evaluation(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    from evaluation.pipeline import evaluate_tier_models, ranking_agreement

    keys = partition_keys(context)
    store = warehouse.get()
    rows = evaluate_tier_models(
        store, CONFIG, EVALUATION, emit=context.log.info, tier_set=keys["tier_set"], method=keys["method"]
    )
    if not rows:
        context.log.warning(f"no trained model for {context.partition_key}: materialize tier_models first")
    return dg.MaterializeResult(
        metadata={
            "models": len({r["model"] for r in rows}),
            "seconds": round(sum(r["seconds"] for r in rows), 1),
            "evaluations": _rows_preview(rows),
            "mt_benchmarks_vs_gold": preview(ranking_agreement(store)),
        }
    )


@dg.asset(
    deps=[english_vlm_evaluation, translate_test_evaluation],
    group_name="evaluation",
    automation_condition=AUTOMATION,
    kinds={"pytorch"},
    description="Per-sample latency (batch 1, MT engines uncached): direct French inference vs translate-test per "
    "MT system, split into question translation, model and answer translation (`eval_latency`).",
)
def inference_latency(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    from evaluation.pipeline import measure_latency

    frame = measure_latency(warehouse.get(), CONFIG, EVALUATION, emit=context.log.info)
    return dg.MaterializeResult(metadata={"latency": preview(frame.drop("created_at"))})


@dg.asset(
    partitions_def=sweep_partitions,
    deps=[FRENCH_SAMPLES, GOLD_PAIRS, ENGLISH_VLM],
    group_name="evaluation",
    automation_condition=AUTOMATION,
    kinds={"pytorch", "json", "parquet"},
    description="Threshold sweep, one partition per point (`[evaluation] sweep_points` quantile levels from "
    "keep-all to the strictest non-empty cut, or `sweep_cuts`): the training corpus the cut keeps, its "
    "occurrence-weighted gold precision, and the accuracy on easy_vqa_fr_gold of LoRA models trained on it "
    "with the tier models' recipe, one per seed (mean, interval over seeds and items).",
)
def threshold_sweep(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from evaluation.pipeline import run_sweep_cut

    row = run_sweep_cut(warehouse.get(), CONFIG, EVALUATION, context.partition_key, emit=context.log.info)
    keep = (
        "cut",
        "samples",
        "share",
        "gold_precision",
        "gold_chrf",
        "steps",
        "train_seconds",
        "final_loss",
        "accuracy",
        "ci_low",
        "ci_high",
        "seeds",
        "seed_sd",
    )
    return dg.MaterializeResult(metadata={k: row[k] for k in keep if row.get(k) is not None})


@dg.asset(
    deps=[english_vlm_evaluation, translate_test_evaluation, tier_model_evaluation, threshold_sweep],
    group_name="evaluation",
    automation_condition=AUTOMATION,
    kinds={"parquet"},
    description="The majority-answer baseline per benchmark (an `evaluations` row), then `comparisons`: every "
    "pair of compared systems (configurations averaged over seeds, translate-test, the English VLM, the "
    "baseline) on the same items, with the accuracy difference, a 95% interval and a Holm-corrected p-value "
    "from a bootstrap paired over items with seeds resampled within each system.",
)
def comparisons(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from evaluation.compare import VERDICTS, verdict
    from evaluation.pipeline import compare_all

    store = warehouse.get()
    frame = compare_all(store, CONFIG, EVALUATION, emit=context.log.info)
    metadata: dict[str, Any] = {"pairs": frame.height}
    for key, label, kinds, prefix in VERDICTS:
        metadata[f"verdict_{key}"] = verdict(store, "easy_vqa_fr_gold", kinds, label, prefix).text
    if frame.height:
        metadata["significant_pairs"] = int(frame["significant"].sum())
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(
    asset=comparisons,
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


@dg.asset(
    deps=[
        english_vlm_evaluation,
        translate_test_evaluation,
        tier_model_evaluation,
        inference_latency,
        threshold_sweep,
        comparisons,
        QUALITY_REPORT,
    ],
    group_name="evaluation",
    automation_condition=AUTOMATION,
    kinds={"html", "matplotlib"},
    description="The self-contained HTML report `$VLMFR_HOME/report/index.html`: accuracy by method x tier set "
    "with intervals, translate-test per MT system, latency, the threshold curve, loss curves, translation quality "
    "vs gold. The same figures appear here as metadata.",
)
def evaluation_report(warehouse: WarehouseResource) -> dg.MaterializeResult:
    from evaluation.figures import build_evaluation_figures
    from evaluation.report import write_html_report

    store = warehouse.get()
    figures = build_evaluation_figures(store)
    path = write_html_report(store, figures)
    metadata: dict[str, Any] = {"report": dg.MetadataValue.path(str(path))}
    for caption, figure in figures:
        metadata[caption] = image_metadata(caption, figure)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(
    asset=english_vlm_evaluation,
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
    asset=english_vlm_evaluation,
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


# Materialization order for `assets.demo` (topological).
EVALUATION_ASSETS = [
    english_vlm_evaluation,
    translate_test_evaluation,
    tier_model_evaluation,
    inference_latency,
    threshold_sweep,
    comparisons,
    evaluation_report,
]
EVALUATION_CHECKS = [english_vlm_reaches_target, gold_benchmark_complete, models_beat_majority_baseline]

# `make demo` evaluates the tier models it trains (assets.definitions collects DEMO_PARTITIONS)
DEMO_PARTITIONS = {"tier_model_evaluation": DEMO_TIER_MODEL_PARTITIONS}
