"""The training and evaluation stages, declared in the one stage contract (`vlmfr_data.stage.Stage`).

Training stages are declared here, not in `training/`, because every run is chosen on a dev benchmark
(`evaluation.dev`): this is the lowest layer that sees both the training loop and the benchmarks.
Each function wraps the library call and returns a `StageReport`, so the CLI, a notebook and the
generated Dagster assets report the same things.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from evaluation.config import EvaluationConfig
from training.config import training_settings
from vlmfr_data.config import ProjectConfig
from vlmfr_data.stage import Log, Stage, StageReport
from vlmfr_data.store import Warehouse

EVALUATION_COLUMNS = [
    "model",
    "benchmark",
    "accuracy",
    "ci_low",
    "ci_high",
    "n",
    "seconds",
    "predictions_cached",
]


def _evaluations(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows).select(EVALUATION_COLUMNS) if rows else pl.DataFrame()


def _training(stage: str, reports: list[Any], seeds: list[int] | None = None) -> StageReport:
    """Training reports (one per seed) as one stage report: the first run's figures, every seed's
    headline numbers."""
    first = reports[0]
    values: dict[str, Any] = {
        "run_id": first.run_id,
        "samples": first.samples,
        "steps": first.steps,
        "epochs": first.epochs,
        "final_loss": first.final_loss,
        "tokens_per_s": first.tokens_per_s,
        "trainable_params": first.trainable_params,
        "total_params": first.total_params,
        "corpus_hash": first.corpus_hash,
        "reused_from": first.reused_from or "",
        "selected_step": first.selected_step,
        "dev_accuracy": first.dev_accuracy,
        "dev": first.dev or "",
    }
    if seeds is not None:
        values["seeds"] = list(seeds)
        values["final_loss_per_seed"] = [r.final_loss for r in reports]
        values["dev_accuracy_per_seed"] = [r.dev_accuracy for r in reports]
        values["selected_step_per_seed"] = [r.selected_step for r in reports]
    report = StageReport(
        stage, values=values, paths={"model_dir": first.model_dir}, seconds=sum(r.seconds for r in reports)
    )
    if first.loss_png.exists():
        report.figures["loss curve"] = first.loss_png
        report.tables["loss_table"] = pl.read_parquet(first.loss_png.with_name("loss.parquet"))
    return report


# ------------------------------------------------------------------------------------------- training
def english_vlm(warehouse: Warehouse, config: ProjectConfig, log: Log | None = None) -> StageReport:
    """Stage 0: the English-trained VLM, its checkpoint chosen on the English dev split."""
    from evaluation.dev import ENGLISH_DEV, dev_set
    from training.train import train_english_vlm

    evaluation = EvaluationConfig.from_project(config)
    dev = dev_set(warehouse, ENGLISH_DEV, evaluation.dev_items, evaluation.english_dev_every)
    report = train_english_vlm(warehouse, training_settings(config), emit=log, dev=dev)
    return _training("english_vlm", [report])


def tier_models(
    warehouse: Warehouse, config: ProjectConfig, tier_set: str, method: str, log: Log | None = None
) -> StageReport:
    """One French model per `[evaluation] seeds` entry on a tier set's corpus with one method."""
    from evaluation.dev import FRENCH_DEV, dev_set
    from training.train import train_tier_model

    evaluation = EvaluationConfig.from_project(config)
    settings = training_settings(config)
    dev = dev_set(warehouse, FRENCH_DEV, evaluation.dev_items, evaluation.dev_every)
    reports = [
        train_tier_model(warehouse, tier_set, method, settings, emit=log, seed=seed, dev=dev)
        for seed in evaluation.seeds
    ]
    return _training("tier_models", reports, seeds=list(evaluation.seeds))


# ----------------------------------------------------------------------------------------- evaluation
def lmms_eval_tasks(warehouse: Warehouse, config: ProjectConfig, log: Log | None = None) -> StageReport:
    import time

    from evaluation.lmms_export import export_lmms_eval_tasks

    started = time.perf_counter()
    export = export_lmms_eval_tasks(warehouse, config)
    if log is not None:
        log(f"lmms-eval tasks: {export.folder} ({', '.join(export.tasks)})")
    return StageReport(
        "lmms_eval_tasks",
        values={"tasks": export.tasks},
        paths={"folder": export.folder},
        seconds=time.perf_counter() - started,
    )


def english_vlm_evaluation(
    warehouse: Warehouse, config: ProjectConfig, log: Log | None = None
) -> StageReport:
    from evaluation.pipeline import evaluate_english_vlm

    rows = evaluate_english_vlm(warehouse, config, EvaluationConfig.from_project(config), emit=log)
    return StageReport(
        "english_vlm_evaluation",
        values={"accuracy": {r["benchmark"]: round(r["accuracy"], 4) for r in rows}},
        tables={"evaluations": _evaluations(rows)},
        seconds=round(sum(r["seconds"] for r in rows), 1),
    )


def translate_test_evaluation(
    warehouse: Warehouse, config: ProjectConfig, mt_system: str, log: Log | None = None
) -> StageReport:
    from evaluation.pipeline import evaluate_translate_test

    evaluation = EvaluationConfig.from_project(config)
    rows, reason = evaluate_translate_test(warehouse, config, evaluation, mt_system, emit=log)
    if not rows:
        if log is not None:
            log(f"translate-test {mt_system}: skipped ({reason})")
        return StageReport("translate_test_evaluation", values={"status": f"skipped: {reason}"})
    row = rows[0]
    return StageReport(
        "translate_test_evaluation",
        values={
            "status": "ok",
            "accuracy": round(row["accuracy"], 4),
            "accuracy_answer_en": row["accuracy_answer_en"],
        },
        tables={"evaluations": _evaluations(rows)},
        seconds=round(row["seconds"], 1),
    )


def tier_model_evaluation(
    warehouse: Warehouse, config: ProjectConfig, tier_set: str, method: str, log: Log | None = None
) -> StageReport:
    from evaluation.pipeline import evaluate_tier_models, ranking_agreement

    evaluation = EvaluationConfig.from_project(config)
    rows = evaluate_tier_models(warehouse, config, evaluation, emit=log, tier_set=tier_set, method=method)
    if not rows and log is not None:
        log(f"no trained model for {tier_set}|{method}: materialize tier_models first")
    return StageReport(
        "tier_model_evaluation",
        values={"models": len({r["model"] for r in rows})},
        tables={"evaluations": _evaluations(rows), "mt_benchmarks_vs_gold": ranking_agreement(warehouse)},
        seconds=round(sum(r["seconds"] for r in rows), 1),
    )


def inference_latency(warehouse: Warehouse, config: ProjectConfig, log: Log | None = None) -> StageReport:
    import time

    from evaluation.pipeline import measure_latency

    started = time.perf_counter()
    frame = measure_latency(warehouse, config, EvaluationConfig.from_project(config), emit=log)
    return StageReport(
        "inference_latency",
        tables={"latency": frame.drop("created_at")},
        seconds=time.perf_counter() - started,
    )


SWEEP_FIELDS = (
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


def threshold_sweep(
    warehouse: Warehouse, config: ProjectConfig, sweep_point: str, log: Log | None = None
) -> StageReport:
    from evaluation.pipeline import run_sweep_cut

    row = run_sweep_cut(warehouse, config, EvaluationConfig.from_project(config), sweep_point, emit=log)
    return StageReport("threshold_sweep", values={k: row[k] for k in SWEEP_FIELDS if row.get(k) is not None})


def comparisons(warehouse: Warehouse, config: ProjectConfig, log: Log | None = None) -> StageReport:
    import time

    from evaluation.compare import VERDICTS, verdict
    from evaluation.pipeline import compare_all

    started = time.perf_counter()
    frame = compare_all(warehouse, config, EvaluationConfig.from_project(config), emit=log)
    values: dict[str, Any] = {"pairs": frame.height}
    for key, label, kinds, prefix in VERDICTS:
        values[f"verdict_{key}"] = verdict(warehouse, "easy_vqa_fr_gold", kinds, label, prefix).text
    if frame.height:
        values["significant_pairs"] = int(frame["significant"].sum())
    return StageReport("comparisons", values=values, seconds=time.perf_counter() - started)


def evaluation_report(warehouse: Warehouse, config: ProjectConfig, log: Log | None = None) -> StageReport:
    import time

    from evaluation.figures import build_evaluation_figures
    from evaluation.report import write_html_report

    started = time.perf_counter()
    figures = build_evaluation_figures(warehouse)
    path = write_html_report(warehouse, figures)
    if log is not None:
        log(f"report: {path}")
    return StageReport(
        "evaluation_report",
        paths={"report": path},
        figures=dict(figures),
        seconds=time.perf_counter() - started,
    )


# ------------------------------------------------------------------------------------- declarations
_HERE = "evaluation.stages"
# what every evaluation reads besides its model: the benchmarks' items (gold French, each MT system's)
_BENCHMARK_INPUTS = ("samples", "translations", "gold_pairs", "segments", "sample_segments")
_PREDICTIONS = ("evaluations", "eval_predictions", "eval_translations", "benchmark_items")

STAGES = [
    Stage(
        "english_vlm",
        f"{_HERE}:english_vlm",
        reads=("samples",),
        writes=("training_runs", "training_loss", "image_features"),
        cache=("training_runs", "training_loss", "image_features"),
        outputs=("english_vlm",),
        config=("training", "evaluation"),
        group="training",
        kinds=("pytorch",),
        description="Stage 0: the embedded `mini` VLM (frozen EfficientNet-Lite0 taps, MLP projector, small "
        "Llama decoder, byte-level BPE on English + French) trained on the English easy-vqa train split, in "
        "VLMFR_HOME/models/english_vlm/, its checkpoint chosen on the English dev split. Reused while its "
        "training data and config are unchanged.",
    ),
    Stage(
        "tier_models",
        f"{_HERE}:tier_models",
        reads=("samples", *_BENCHMARK_INPUTS[1:]),
        writes=("training_runs", "training_loss", "image_features"),
        cache=("training_runs", "training_loss", "image_features"),
        after=("english_vlm", "french_corpora"),
        outputs=("tier_models",),
        partitions=("tier_set", "method"),
        config=("training", "evaluation"),
        group="training",
        kinds=("pytorch",),
        follows_inputs=True,
        description="French-adapted models per tier set x method (lora, two_stage, full, qe_weighted), one "
        "per `[evaluation] seeds` entry, trained on the corpus's train split from the English VLM with the same "
        "example budget, in VLMFR_HOME/models/tier_models/<tier set>__<method>[__seed<k>]/: adapter + every "
        "trained non-LoRA weight, loss curve, a training_runs row each. Re-running resumes or reuses.",
    ),
    Stage(
        "english_vlm_evaluation",
        f"{_HERE}:english_vlm_evaluation",
        # the image features the English VLM's training cached
        reads=(*_BENCHMARK_INPUTS, "image_features@english_vlm"),
        writes=_PREDICTIONS,
        cache=_PREDICTIONS,
        after=("english_vlm",),
        outputs=("english_vlm_evaluation",),
        config=("evaluation", "mt_systems"),
        group="evaluation",
        kinds=("pytorch", "parquet"),
        follows_inputs=True,
        description="The English-trained VLM on the English test split (upper bound) and on every French "
        "benchmark (gold, and the test split as each MT system translated it) without adaptation. One "
        "`evaluations` row per benchmark (accuracy, 95% bootstrap interval, per question type, seconds); "
        "predictions in `eval_predictions`, reused while the model and benchmark versions are unchanged.",
    ),
    Stage(
        "translate_test_evaluation",
        f"{_HERE}:translate_test_evaluation",
        reads=_BENCHMARK_INPUTS,
        writes=_PREDICTIONS,
        cache=_PREDICTIONS,
        after=("english_vlm",),
        outputs=("translate_test_evaluation",),
        partitions=("mt_system",),
        config=("evaluation", "mt_systems"),
        group="evaluation",
        kinds=("pytorch", "parquet"),
        follows_inputs=True,
        description="Translate-test with one MT system (partition): French question -> English through the "
        "system's FR->EN partner, the English VLM answers, the answer goes back to French through the same "
        "platform MT code (cached per distinct string). A system with no way back is reported and skipped.",
    ),
    Stage(
        "tier_model_evaluation",
        f"{_HERE}:tier_model_evaluation",
        reads=(*_BENCHMARK_INPUTS, "training_runs@tier_models"),
        writes=_PREDICTIONS,
        cache=_PREDICTIONS,
        after=("tier_models",),
        outputs=("tier_model_evaluation",),
        partitions=("tier_set", "method"),
        config=("evaluation", "mt_systems"),
        group="evaluation",
        kinds=("pytorch", "parquet"),
        follows_inputs=True,
        description="The (tier set, method) models of this partition (every seed) on the French benchmarks, "
        "cached per model version; follows its `tier_models` partition.",
    ),
    Stage(
        "inference_latency",
        f"{_HERE}:inference_latency",
        reads=(
            *_BENCHMARK_INPUTS,
            "evaluations@english_vlm_evaluation",
            "evaluations@translate_test_evaluation",
        ),
        writes=("eval_latency",),
        outputs=("inference_latency",),
        config=("evaluation", "mt_systems"),
        group="evaluation",
        kinds=("pytorch",),
        follows_inputs=True,
        description="Per-sample latency (batch 1, MT engines uncached): direct French inference vs "
        "translate-test per MT system, split into question translation, model and answer translation "
        "(`eval_latency`).",
    ),
    Stage(
        "threshold_sweep",
        f"{_HERE}:threshold_sweep",
        reads=("french_samples", "translation_quality", *_BENCHMARK_INPUTS),
        writes=("sweep_results", *_PREDICTIONS, "training_runs", "training_loss"),
        cache=("sweep_results", *_PREDICTIONS, "training_runs", "training_loss", "image_features"),
        after=("english_vlm",),
        outputs=("threshold_sweep",),
        partitions=("sweep_point",),
        config=("evaluation", "training", "quality"),
        group="evaluation",
        kinds=("pytorch", "json", "parquet"),
        follows_inputs=True,
        description="Threshold sweep, one partition per point (`[evaluation] sweep_points` quantile levels "
        "from keep-all to the strictest non-empty cut, or `sweep_cuts`): the training corpus the cut keeps, "
        "its occurrence-weighted gold precision, and the accuracy on easy_vqa_fr_gold of LoRA models trained "
        "on it with the tier models' recipe, one per seed (mean, interval over seeds and items).",
    ),
    Stage(
        "comparisons",
        f"{_HERE}:comparisons",
        reads=("evaluations", "eval_predictions", "sweep_results", "benchmark_items", "training_runs"),
        writes=("comparisons", "evaluations", "eval_predictions"),
        outputs=("comparisons",),
        config=("evaluation",),
        group="evaluation",
        follows_inputs=True,
        description="The majority-answer baseline per benchmark (an `evaluations` row), then `comparisons`: "
        "every pair of compared systems (configurations averaged over seeds, translate-test, the English VLM, "
        "the baseline) on the same items, with the accuracy difference, a 95% interval and a Holm-corrected "
        "p-value from a bootstrap paired over items with seeds resampled within each system.",
    ),
    Stage(
        "lmms_eval_tasks",
        f"{_HERE}:lmms_eval_tasks",
        reads=_BENCHMARK_INPUTS,
        outputs=("lmms_eval_tasks",),
        config=("evaluation", "mt_systems", "gold"),
        group="evaluation",
        kinds=("yaml", "parquet"),
        description="The French benchmarks (gold French and each MT system's) as an lmms-eval task folder under "
        "VLMFR_HOME/exports/lmms_eval/: a task YAML each, the group `vlmfr_fr`, the items with their images, "
        "and utils.py with this project's French answer normaliser (`lmms-eval --include_path <folder> "
        "--tasks vlmfr_fr`).",
    ),
    Stage(
        "evaluation_report",
        f"{_HERE}:evaluation_report",
        reads=(
            *("evaluations", "eval_predictions", "eval_translations", "comparisons", "sweep_results"),
            *("eval_latency", "training_runs", "training_loss", "gold_summary"),
        ),
        after=("quality_report",),
        outputs=("evaluation_report",),
        group="evaluation",
        kinds=("html", "matplotlib"),
        follows_inputs=True,
        description="The self-contained HTML report `$VLMFR_HOME/report/index.html`: accuracy by method x "
        "tier set with intervals, translate-test per MT system, latency, the threshold curve, loss curves, "
        "translation quality vs gold. The same figures appear here as metadata.",
    ),
]
