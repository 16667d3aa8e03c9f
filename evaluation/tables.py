"""Warehouse tables of the evaluation stage (declarations only: polars types, no heavy imports)."""

from __future__ import annotations

import polars as pl

from vlmfr_data.schema import TableSpec, ViewSpec

BY_TYPE = pl.List(pl.Struct({"question_type": pl.String(), "n": pl.Int64(), "accuracy": pl.Float64()}))

EVALUATIONS = TableSpec(
    name="evaluations",
    schema={
        # english_vlm, translate_test:<mt system>, <tier set>:<method>, sweep:<cut>, majority; one trained
        # model of a seeded configuration: <configuration>@seed<k>
        "model": pl.String(),
        # english_vlm | translate_test | tier_model | sweep | baseline | seed_run (one seed's model)
        "model_kind": pl.String(),
        "model_version": pl.String(),  # weights hash (+ MT system versions for translate-test)
        "method": pl.String(),
        "tier_set": pl.String(),
        "mt_system": pl.String(),
        "benchmark": pl.String(),
        "benchmark_version": pl.String(),
        "language": pl.String(),
        "n": pl.Int64(),
        "correct": pl.Int64(),
        "accuracy": pl.Float64(),
        # 95% interval: hierarchical bootstrap over seeds and items (over items alone when seeds = 1)
        "ci_low": pl.Float64(),
        "ci_high": pl.Float64(),
        "seeds": pl.Int64(),  # trained models averaged in this row (1 for a single model or pipeline)
        "seed": pl.Int64(),  # seed_run rows: the training seed of that one model
        "seed_sd": pl.Float64(),  # standard deviation of the per-seed accuracies
        "seed_models": pl.List(pl.String()),  # the `model` rows whose predictions this row averages
        # translate-test only: the English VLM's English answer against the English reference, i.e.
        # the accuracy before the answer is translated back to French
        "accuracy_answer_en": pl.Float64(),
        "by_type": BY_TYPE,
        "seconds": pl.Float64(),  # wall time of producing the predictions (0 when reused from cache)
        "seconds_per_sample": pl.Float64(),
        "predictions_cached": pl.Boolean(),
        "device": pl.String(),
        "created_at": pl.Datetime("us", "UTC"),
    },
    view_sql=(
        "SELECT * FROM {source} QUALIFY row_number() OVER "
        "(PARTITION BY model, benchmark ORDER BY created_at DESC) = 1"
    ),
    description="Accuracy of each (model, benchmark): the mean over training seeds with a 95% interval over "
    "seeds and items, per question type, timing; each seed's model has its own `seed_run` row.",
)

EVAL_PREDICTIONS = TableSpec(
    name="eval_predictions",
    schema={
        "model": pl.String(),
        "model_version": pl.String(),
        "benchmark": pl.String(),
        "benchmark_version": pl.String(),
        "item_id": pl.String(),
        "question_type": pl.String(),
        "question": pl.String(),  # as the benchmark asks it
        "answer": pl.String(),  # the benchmark's reference
        "prediction": pl.String(),  # the system's answer, in the benchmark's language
        "answer_norm": pl.String(),
        "prediction_norm": pl.String(),
        "correct": pl.Boolean(),
        "question_mt_en": pl.String(),  # translate-test: the MT English question the VLM saw
        "prediction_en": pl.String(),  # translate-test: the VLM's English answer before MT back
        "correct_en": pl.Boolean(),  # translate-test: prediction_en vs the English reference
    },
    description="Every prediction of every (model, benchmark): query the errors in SQL.",
)

EVAL_TRANSLATIONS = TableSpec(
    name="eval_translations",
    schema={
        "segment_id": pl.String(),  # hash of the normalised source text
        "source_text": pl.String(),
        "system": pl.String(),
        "system_version": pl.String(),
        "source_lang": pl.String(),
        "target_lang": pl.String(),
        "text": pl.String(),
        "seconds": pl.Float64(),
        "error": pl.String(),
        "spans_ok": pl.Boolean(),
        "created_at": pl.Datetime("us", "UTC"),
    },
    view_sql=(
        "SELECT * FROM {source} QUALIFY row_number() OVER "
        "(PARTITION BY segment_id, system, system_version ORDER BY created_at DESC) = 1"
    ),
    description="Translate-test's cache: each distinct question (FR->EN) and answer (EN->FR) per MT system.",
)

EVAL_LATENCY = TableSpec(
    name="eval_latency",
    schema={
        "model": pl.String(),
        "mode": pl.String(),  # direct | translate_test
        "mt_system": pl.String(),
        "samples": pl.Int64(),  # items timed one at a time (batch 1, no translation cache)
        "translate_question_s": pl.Float64(),  # mean seconds per sample
        "model_s": pl.Float64(),
        "translate_answer_s": pl.Float64(),
        "total_s": pl.Float64(),
        "total_p90_s": pl.Float64(),
        "batched_seconds_per_sample": pl.Float64(),  # the whole benchmark, batched and cached, for scale
        "device": pl.String(),
        "created_at": pl.Datetime("us", "UTC"),
    },
    view_sql=(
        "SELECT * FROM {source} QUALIFY row_number() OVER "
        "(PARTITION BY model, mode, mt_system ORDER BY created_at DESC) = 1"
    ),
    description="Per-sample latency: direct French inference vs translate-test (translation vs model time).",
)

SWEEP_RESULTS = TableSpec(
    name="sweep_results",
    schema={
        "point": pl.String(),  # the partition key: a configured cut, or a quantile level "q040"
        "cut": pl.Float64(),
        "samples": pl.Int64(),  # training samples kept (worst segment >= cut, no gate)
        "share": pl.Float64(),  # of all training samples
        "occurrences": pl.Int64(),  # translated segment occurrences in the kept samples that have gold
        "gold_precision": pl.Float64(),  # share of those occurrences whose translation is gold-high
        "gold_chrf": pl.Float64(),  # occurrence-weighted chrF against gold
        "method": pl.String(),
        "steps": pl.Int64(),
        "train_seconds": pl.Float64(),
        "final_loss": pl.Float64(),
        "model_dir": pl.String(),
        "benchmark": pl.String(),
        "n": pl.Int64(),
        "accuracy": pl.Float64(),
        "ci_low": pl.Float64(),  # 95%, over seeds and items
        "ci_high": pl.Float64(),
        "seeds": pl.Int64(),
        "seed_sd": pl.Float64(),
        "created_at": pl.Datetime("us", "UTC"),
    },
    description="Threshold sweep: per combined-score cut, the corpus kept, its gold precision, and the "
    "accuracy of a model trained on it.",
)

COMPARISONS = TableSpec(
    name="comparisons",
    schema={
        "system_a": pl.String(),
        "system_b": pl.String(),
        "kind_a": pl.String(),
        "kind_b": pl.String(),
        "benchmark": pl.String(),
        "n": pl.Int64(),  # the items both were scored on
        "accuracy_a": pl.Float64(),
        "accuracy_b": pl.Float64(),
        "diff": pl.Float64(),  # accuracy_a - accuracy_b (means over seeds)
        "ci_low": pl.Float64(),  # 95%: bootstrap paired over items, seeds resampled within each system
        "ci_high": pl.Float64(),
        "p_value": pl.Float64(),  # two-sided, from that bootstrap
        "p_adjusted": pl.Float64(),  # Holm over every pair of the benchmark
        "significant": pl.Boolean(),  # p_adjusted < 0.05
        "seeds": pl.Int64(),  # the fewer seeds of the two
        "seeds_a": pl.Int64(),
        "seeds_b": pl.Int64(),
        "resamples": pl.Int64(),
        "created_at": pl.Datetime("us", "UTC"),
    },
    description="Every pair of compared systems on the same items: difference of accuracy, 95% interval and "
    "Holm-corrected p-value, paired over items and seeds (partition = benchmark).",
)

BENCHMARK_ITEMS = TableSpec(
    name="benchmark_items",
    schema={
        "benchmark": pl.String(),
        "benchmark_version": pl.String(),
        "item_id": pl.String(),
        "image": pl.String(),
        "question": pl.String(),
        "answer": pl.String(),
        "question_en": pl.String(),
        "answer_en": pl.String(),
        "question_type": pl.String(),
    },
    description="Every benchmark item (partition = benchmark): question and reference, with the English source.",
)

TABLES: list[TableSpec] = [
    EVALUATIONS,
    EVAL_PREDICTIONS,
    EVAL_TRANSLATIONS,
    EVAL_LATENCY,
    SWEEP_RESULTS,
    COMPARISONS,
    BENCHMARK_ITEMS,
]

VIEWS: list[ViewSpec] = [
    ViewSpec(
        name="evaluation_by_type",
        sql="SELECT model, benchmark, t.question_type, t.n, t.accuracy "
        "FROM (SELECT model, benchmark, unnest(by_type) AS t FROM evaluations) ORDER BY ALL",
        description="Accuracy per question type (yes/no, color, shape...) of each (model, benchmark).",
    )
]
