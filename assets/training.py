"""Training assets: the English-trained VLM (stage 0) and one model per (tier set, method). Thin wrappers
over `training`; `assets.definitions` collects `TRAINING_ASSETS` and `TRAINING_CHECKS`.

`tier_models` follows its inputs under `make ui`'s daemon (eager automation): a re-exported corpus or a
retrained English VLM retrains the affected models; an unchanged corpus (same content hash) reuses the
finished run, and an identical corpus under another tier set reuses that model.
`DEMO_TIER_MODEL_PARTITIONS` is the demo's selection: lora and two_stage on every tier set, full and
qe_weighted once (tier sets in `[training] once_methods`).
"""

import dagster as dg

from assets.common import CONFIG, WarehouseResource, image_metadata, partition_keys, preview
from evaluation.config import EvaluationConfig
from training.config import CEILING_METHOD, parse_training
from training.registry import METHODS
from vlmfr_data.tiers import CORPUS_NAMES, GOLD_CORPUS

SETTINGS = parse_training(CONFIG.training)
# every compared French configuration is trained once per seed
EVALUATION = EvaluationConfig.from_project(CONFIG)
SEEDS = EVALUATION.seeds
FRENCH_CORPORA = dg.AssetKey("french_corpora")
AUTOMATION = dg.AutomationCondition.eager()

tier_model_partitions = dg.MultiPartitionsDefinition(
    {
        "tier_set": dg.StaticPartitionsDefinition(CORPUS_NAMES),
        "method": dg.StaticPartitionsDefinition(METHODS.names()),
    }
)
DEMO_TIER_MODEL_PARTITIONS: list[dg.MultiPartitionKey] = [
    dg.MultiPartitionKey({"tier_set": tier_set, "method": method})
    for tier_set in CORPUS_NAMES
    for method in METHODS.names()
    # the gold ceiling is trained with every method whose ceiling is itself (CEILING_METHOD), to subtract
    # each tier model from its own method
    if (tier_set == GOLD_CORPUS and CEILING_METHOD.get(method, method) == method)
    or (tier_set != GOLD_CORPUS and SETTINGS.once_methods.get(method, tier_set) == tier_set)
]


def _report_metadata(report) -> dict:  # noqa: ANN001 - training.train.TrainingReport (lazy import)
    import polars as pl

    meta: dict = {
        "run_id": report.run_id,
        "model_dir": dg.MetadataValue.path(report.model_dir),
        "samples": report.samples,
        "steps": report.steps,
        "epochs": report.epochs,
        "final_loss": report.final_loss,
        "seconds": report.seconds,
        "tokens_per_s": report.tokens_per_s,
        "trainable_params": report.trainable_params,
        "total_params": report.total_params,
        "corpus_hash": report.corpus_hash,
        "reused_from": report.reused_from or "",
        "selected_step": report.selected_step,
        "dev_accuracy": report.dev_accuracy,
        "dev": report.dev or "",
    }
    curve_path = report.loss_png
    if curve_path.exists():
        meta["loss_curve"] = image_metadata("loss curve", curve_path)
        curve = pl.read_parquet(curve_path.with_name("loss.parquet"))
        meta["loss_table"] = preview(curve, rows=30)
    return meta


@dg.asset(
    deps=[dg.AssetKey("samples")],
    group_name="training",
    kinds={"pytorch"},
    description="Stage 0: the embedded `mini` VLM (frozen EfficientNet-Lite0 taps, MLP projector, small Llama "
    "decoder, byte-level BPE on English + French) trained on the English easy-vqa train split, in "
    "VLMFR_HOME/models/english_vlm/. Reused while its training data and config are unchanged.",
)
def english_vlm(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from evaluation.dev import ENGLISH_DEV, dev_set
    from training.train import train_english_vlm

    store = warehouse.get()
    dev = dev_set(store, ENGLISH_DEV, EVALUATION.dev_items, EVALUATION.english_dev_every)
    report = train_english_vlm(store, SETTINGS, emit=context.log.info, dev=dev)
    return dg.MaterializeResult(metadata=_report_metadata(report))


@dg.asset(
    partitions_def=tier_model_partitions,
    deps=[english_vlm, FRENCH_CORPORA],
    group_name="training",
    kinds={"pytorch"},
    automation_condition=AUTOMATION,
    description="French-adapted models per tier set x method (lora, two_stage, full, qe_weighted), one per "
    "`[evaluation] seeds` entry, trained on the corpus's train split from the English VLM with the same example "
    "budget, in VLMFR_HOME/models/tier_models/<tier set>__<method>[__seed<k>]/: adapter + every trained "
    "non-LoRA weight, loss curve, a training_runs row each. Re-running resumes or reuses.",
)
def tier_models(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from evaluation.dev import FRENCH_DEV, dev_set
    from training.train import train_tier_model

    keys = partition_keys(context)
    store = warehouse.get()
    dev = dev_set(store, FRENCH_DEV, EVALUATION.dev_items, EVALUATION.dev_every)
    reports = [
        train_tier_model(
            store, keys["tier_set"], keys["method"], SETTINGS, emit=context.log.info, seed=seed, dev=dev
        )
        for seed in SEEDS
    ]
    metadata = _report_metadata(reports[0])
    metadata["seeds"] = dg.MetadataValue.json(list(SEEDS))
    metadata["final_loss_per_seed"] = dg.MetadataValue.json([r.final_loss for r in reports])
    metadata["dev_accuracy_per_seed"] = dg.MetadataValue.json([r.dev_accuracy for r in reports])
    metadata["selected_step_per_seed"] = dg.MetadataValue.json([r.selected_step for r in reports])
    metadata["seconds"] = round(sum(r.seconds for r in reports), 2)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(
    asset=tier_models,
    blocking=True,
    description="No evaluation (test split) sample id is in any training corpus's train rows.",
)
def no_test_samples_in_training(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    from training.checks import check_no_test_leak
    from vlmfr_data.corpora import corpora_dir

    store = warehouse.get()
    report = check_no_test_leak(store, [corpora_dir(store) / name for name in CORPUS_NAMES])
    return dg.AssetCheckResult(
        passed=report.ok,
        metadata={
            "training_samples": report.training_samples,
            "evaluation_samples": report.evaluation_samples,
            "leaked": len(report.leaked),
            "leaked_examples": dg.MetadataValue.json(report.leaked[:20]),
        },
    )


TRAINING_ASSETS = [english_vlm, tier_models]
TRAINING_CHECKS = [no_test_samples_in_training]

# `make demo` materializes these partitions of `tier_models` (assets.definitions collects DEMO_PARTITIONS)
DEMO_PARTITIONS = {"tier_models": DEMO_TIER_MODEL_PARTITIONS}
