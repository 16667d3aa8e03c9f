"""Training's checks and the demo's selection of training partitions. The assets themselves (the English
VLM, one model per tier set x method) are generated from `evaluation.stages.STAGES`.

`tier_models` follows its inputs under `make ui`'s daemon (eager automation): a re-exported corpus or a
retrained English VLM retrains the affected models; an unchanged corpus (same content hash) reuses the
finished run, and an identical corpus under another tier set reuses that model.
`DEMO_TIER_MODEL_PARTITIONS` is the demo's selection: lora and two_stage on every tier set, full and
qe_weighted once (tier sets in `[training] once_methods`).
"""

import dagster as dg

from assets.common import CONFIG, WarehouseResource
from training.config import CEILING_METHOD, training_settings
from training.registry import METHODS
from vlmfr_data.tiers import CORPUS_NAMES, GOLD_CORPUS

SETTINGS = training_settings(CONFIG)
DEMO_TIER_MODEL_PARTITIONS: list[dg.MultiPartitionKey] = [
    dg.MultiPartitionKey({"tier_set": tier_set, "method": method})
    for tier_set in CORPUS_NAMES
    for method in METHODS.names()
    # the gold ceiling is trained with every method whose ceiling is itself (CEILING_METHOD), to subtract
    # each tier model from its own method
    if (tier_set == GOLD_CORPUS and CEILING_METHOD.get(method, method) == method)
    or (tier_set != GOLD_CORPUS and SETTINGS.once_methods.get(method, tier_set) == tier_set)
]


@dg.asset_check(
    asset="tier_models",
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


TRAINING_CHECKS = [no_test_samples_in_training]

# `make demo` materializes these partitions of `tier_models` (assets.definitions collects DEMO_PARTITIONS)
DEMO_PARTITIONS = {"tier_models": DEMO_TIER_MODEL_PARTITIONS}
