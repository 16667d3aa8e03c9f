"""Evaluation assets: the English VLM, translate-test per MT system, every tier model, latency, the
threshold sweep (one partition per configured cut) and the HTML report. Thin wrappers over `evaluation`.

The lead wires `EVALUATION_ASSETS` and `EVALUATION_CHECKS` into `assets.definitions` (in this order:
the report comes last, the sweep after the models it compares with).
"""

import dagster as dg

from assets.common import CONFIG, WarehouseResource, image_metadata, mt_system_partitions, preview
from assets.training import DEMO_TIER_MODEL_PARTITIONS, tier_model_partitions
from evaluation.config import EvaluationConfig
from evaluation.sweep import cut_key

EVALUATION = EvaluationConfig.from_project(CONFIG)
sweep_partitions = dg.StaticPartitionsDefinition([cut_key(c) for c in EVALUATION.sweep_cuts])

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

    keys = context.partition_key.keys_by_dimension
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
    description="Threshold sweep, one partition per combined-score cut in `[evaluation] sweep_cuts`: the training "
    "corpus the cut keeps, its occurrence-weighted gold precision, and the accuracy on easy_vqa_fr_gold of a "
    "LoRA model trained on it (`sweep_steps` steps).",
)
def threshold_sweep(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from evaluation.pipeline import run_sweep_cut

    cut = float(context.partition_key)
    row = run_sweep_cut(warehouse.get(), CONFIG, EVALUATION, cut, emit=context.log.info)
    keep = (
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
    )
    return dg.MaterializeResult(metadata={k: row[k] for k in keep if row.get(k) is not None} | {"cut": cut})


@dg.asset(
    deps=[
        english_vlm_evaluation,
        translate_test_evaluation,
        tier_model_evaluation,
        inference_latency,
        threshold_sweep,
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
    metadata: dict[str, object] = {"report": dg.MetadataValue.path(str(path))}
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
    evaluation_report,
]
EVALUATION_CHECKS = [english_vlm_reaches_target, gold_benchmark_complete]

# `make demo` evaluates the tier models it trains (assets.definitions collects DEMO_PARTITIONS)
DEMO_PARTITIONS = {"tier_model_evaluation": DEMO_TIER_MODEL_PARTITIONS}
