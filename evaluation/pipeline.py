"""The evaluation stages, as the Dagster assets and the CLI call them.

- `evaluate_english_vlm`: the English VLM on English (upper bound) and on every French benchmark
  (no adaptation).
- `evaluate_translate_test`: per MT system that can go FR->EN, translate-test on `easy_vqa_fr_gold`.
- `evaluate_tier_models`: every (tier set, method) model in `training_runs` on the French benchmarks.
- `measure_latency`: per-sample time, batch 1, direct French inference vs translate-test.
- `run_sweep_cut`: one threshold of the sweep: corpus, gold precision, LoRA model, accuracy.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import polars as pl

from evaluation.benchmarks import MT_BENCHMARK_PREFIX, configured_benchmarks
from evaluation.config import EvaluationConfig, backward_system
from evaluation.run import evaluate
from evaluation.sweep import SWEEP_BENCHMARK, cut_corpus, cut_key, resolve_cut, sample_scores, train_cut
from evaluation.systems import DirectModel, Predictor, Timing, TranslateTest, create_backward
from evaluation.tables import EVAL_LATENCY, SWEEP_RESULTS
from vlmfr_data.config import ProjectConfig
from vlmfr_data.store import Warehouse

log = logging.getLogger(__name__)
ENGLISH_VLM = "english_vlm"
Emit = Callable[[str], None]

_PREDICTORS: dict[tuple[str, str | None, str], Predictor] = {}


def english_vlm_dir(warehouse: Warehouse) -> Path:
    return warehouse.home / "models" / ENGLISH_VLM


def load_model(model_dir: Path | str, warehouse: Warehouse, device: str | None = None) -> Predictor:
    """training.inference's predictor, loaded once per process and model version; it reads the frozen
    image features cached in the warehouse instead of running the vision encoder again."""
    from training.checkpoints import read_meta
    from training.inference import load_predictor

    if not Path(model_dir).exists():
        raise FileNotFoundError(f"no model at {model_dir}: materialize it first (training)")
    key = (str(model_dir), device, str(read_meta(Path(model_dir)).get("version", "")))
    if key not in _PREDICTORS:
        predictor = load_predictor(str(model_dir), device=device, warehouse=warehouse)
        # Inference trains nothing. A loaded mini model's vision weights still ask for gradients, and
        # the family then re-runs the encoder on pixels for every batch (80% of predict time, measured)
        # instead of reading the cached features; frozen, it reads the cache.
        model = getattr(predictor, "model", None)
        if model is not None and hasattr(model, "requires_grad_"):
            model.requires_grad_(False)
        _PREDICTORS[key] = predictor
    return _PREDICTORS[key]


def device_of(predictor: Predictor) -> str:
    model = getattr(predictor, "model", None)
    try:
        return str(next(model.parameters()).device) if model is not None else "cpu"
    except (AttributeError, StopIteration):
        return "cpu"


def benchmark_items(warehouse: Warehouse, names: list[str]) -> dict[str, pl.DataFrame]:
    """Items of each benchmark, built once per stage (every model of a stage sees the same items)."""
    from evaluation.benchmarks import BENCHMARKS

    return {name: BENCHMARKS.create(name).items(warehouse) for name in names}


def _tell(line: str, emit: Emit | None) -> None:
    """A progress line to the log and to the caller's sink (Dagster's log in the assets)."""
    log.info(line)
    if emit:
        emit(line)


def run_options(config: EvaluationConfig, device: str) -> dict[str, Any]:
    """The `evaluation.run.evaluate` options every stage takes from `[evaluation]`."""
    return {
        "batch_size": config.batch_size,
        "limit": config.limit,
        "resamples": config.bootstrap,
        "seed": config.seed,
        "device": device,
    }


def _evaluate_all(
    warehouse: Warehouse,
    system: Any,
    benchmarks: list[str],
    config: EvaluationConfig,
    emit: Emit | None,
    items: dict[str, pl.DataFrame] | None = None,
) -> list[dict[str, Any]]:
    rows = []
    predictor = getattr(system, "predictor", None)
    for name in benchmarks:
        result = evaluate(
            warehouse,
            system,
            name,
            **run_options(config, device_of(predictor) if predictor is not None else "cpu"),
            items=(items or {}).get(name),
        )
        row = result.row
        line = (
            f"{row['model']} on {name}: accuracy {row['accuracy']:.3f} "
            f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}] n={row['n']} "
            + ("(cached predictions)" if result.cached else f"{row['seconds']:.1f}s")
        )
        _tell(line, emit)
        rows.append(row)
    return rows


def french_benchmarks(project: ProjectConfig, config: EvaluationConfig) -> list[str]:
    return [b for b in configured_benchmarks(project, config.benchmarks) if b != "easy_vqa_en"]


def evaluate_english_vlm(
    warehouse: Warehouse, project: ProjectConfig, config: EvaluationConfig, emit: Emit | None = None
) -> list[dict[str, Any]]:
    predictor = load_model(english_vlm_dir(warehouse), warehouse)
    system = DirectModel(predictor, name=ENGLISH_VLM, kind="english_vlm", method="none")
    return _evaluate_all(warehouse, system, configured_benchmarks(project, config.benchmarks), config, emit)


def translate_test_system(
    warehouse: Warehouse, project: ProjectConfig, config: EvaluationConfig, mt_system: str
) -> tuple[TranslateTest | None, str]:
    """The translate-test pipeline for one configured MT system, or None and why not."""
    from vlmfr_data.mt import create_system

    forward_config = project.mt_system(mt_system)
    backward_config = backward_system(forward_config, config.translate_test.get(mt_system))
    if backward_config is None:
        return None, (
            f"no FR->EN partner for {mt_system} (backend {forward_config.backend}); name one under "
            f"[evaluation.translate_test.{mt_system}]"
        )
    forward, backward = create_system(forward_config), create_backward(backward_config)
    for system in (forward, backward):
        availability = system.availability()
        if not availability.ok:
            return None, f"{system.name}: {availability.reason}"
    predictor = load_model(english_vlm_dir(warehouse), warehouse)
    return TranslateTest(
        predictor, forward, backward, warehouse, mt_batch_size=backward_config.batch_size
    ), ""


def evaluate_translate_test(
    warehouse: Warehouse,
    project: ProjectConfig,
    config: EvaluationConfig,
    mt_system: str,
    emit: Emit | None = None,
) -> tuple[list[dict[str, Any]], str]:
    system, reason = translate_test_system(warehouse, project, config, mt_system)
    if system is None:
        return [], reason
    rows = _evaluate_all(warehouse, system, ["easy_vqa_fr_gold"], config, emit)
    return rows, ""


def tier_models(warehouse: Warehouse) -> pl.DataFrame:
    """The latest finished run per (tier set, method, seed) from `training_runs`, with its model folder."""
    empty = pl.DataFrame(
        schema={"tier_set": pl.String(), "method": pl.String(), "seed": pl.Int64(), "model_dir": pl.String()}
    )
    if "training_runs" not in warehouse.catalog.tables or not warehouse.partitions("training_runs"):
        return empty
    runs = warehouse.sql("SELECT * FROM training_runs")
    if not {"tier_set", "method", "model_dir"} <= set(runs.columns):
        return empty
    if "seed" not in runs.columns:
        runs = runs.with_columns(pl.lit(0, pl.Int64).alias("seed"))
    order = "created_at" if "created_at" in runs.columns else "model_dir"
    runs = runs.filter(pl.col("tier_set").is_not_null() & pl.col("model_dir").is_not_null()).with_columns(
        pl.col("seed").fill_null(0)
    )
    latest = runs.sort(order).group_by("tier_set", "method", "seed", maintain_order=True).last()
    exists = latest["model_dir"].map_elements(lambda p: Path(p).exists(), return_dtype=pl.Boolean)
    return latest.filter(exists).sort("tier_set", "method", "seed")


def seeded_systems(warehouse: Warehouse, runs: pl.DataFrame, name: str, **fields: Any) -> list[DirectModel]:
    """One `seed_run` system per trained seed of a configuration (`runs`: seed, model_dir)."""
    return [
        DirectModel(
            load_model(run["model_dir"], warehouse),
            name=f"{name}@seed{run['seed']}",
            kind="seed_run",
            seed=run["seed"],
            **fields,
        )
        for run in runs.sort("seed").iter_rows(named=True)
    ]


def evaluate_seeded(
    warehouse: Warehouse,
    systems: list[DirectModel],
    name: str,
    kind: str,
    benchmarks: list[str],
    config: EvaluationConfig,
    emit: Emit | None,
    items: dict[str, pl.DataFrame] | None = None,
) -> list[dict[str, Any]]:
    """Every seed's model on each benchmark, and the configuration's row (mean, interval over seeds)."""
    from evaluation.run import evaluate_seeds

    rows = []
    for benchmark in benchmarks:
        row, results = evaluate_seeds(
            warehouse,
            systems,
            name,
            kind,
            benchmark,
            **run_options(config, device_of(systems[0].predictor)),
            items=(items or {}).get(benchmark),
        )
        per_seed = ", ".join(f"{r.row['accuracy']:.3f}" for r in results)
        line = (
            f"{name} on {benchmark}: accuracy {row['accuracy']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}] "
            f"over {row['seeds']} seeds ({per_seed}) x {row['n']} items"
        )
        _tell(line, emit)
        rows.append(row)
    return rows


def evaluate_tier_models(
    warehouse: Warehouse,
    project: ProjectConfig,
    config: EvaluationConfig,
    emit: Emit | None = None,
    tier_set: str | None = None,
    method: str | None = None,
) -> list[dict[str, Any]]:
    """Every trained (tier set, method) configuration, or only those of `tier_set` / `method`, on the
    French benchmarks (`tier_benchmarks`, default every French one): each of its `seeds` models, and
    the configuration's mean over them."""
    rows: list[dict[str, Any]] = []
    benchmarks = config.tier_benchmarks or french_benchmarks(project, config)
    runs = tier_models(warehouse).filter(pl.col("seed").is_in(config.seeds))
    if tier_set is not None:
        runs = runs.filter(pl.col("tier_set") == tier_set)
    if method is not None:
        runs = runs.filter(pl.col("method") == method)
    if runs.height == 0:
        return rows
    items = benchmark_items(warehouse, benchmarks)
    for (run_tier_set, run_method), group in runs.group_by("tier_set", "method", maintain_order=True):
        name = f"{run_tier_set}:{run_method}"
        fields = {"method": run_method, "tier_set": run_tier_set}
        systems = seeded_systems(warehouse, group, name, **fields)
        rows += evaluate_seeded(warehouse, systems, name, "tier_model", benchmarks, config, emit, items)
    return rows


def ranking_agreement(warehouse: Warehouse) -> pl.DataFrame:
    """How each MT benchmark ranks the models compared with gold: Kendall tau over the models on both,
    and the largest accuracy gap."""
    from scipy.stats import kendalltau

    table = warehouse.sql(
        "SELECT model, benchmark, accuracy FROM evaluations WHERE benchmark LIKE 'easy_vqa_fr_%' "
        "AND model_kind IN ('english_vlm', 'tier_model')"
    )
    gold = table.filter(pl.col("benchmark") == "easy_vqa_fr_gold").select(
        "model", pl.col("accuracy").alias("gold")
    )
    rows = []
    for name in sorted(set(table["benchmark"].to_list()) - {"easy_vqa_fr_gold"}):
        both = table.filter(pl.col("benchmark") == name).join(gold, on="model")
        tau = None
        if both.height >= 3 and both["accuracy"].n_unique() > 1 and both["gold"].n_unique() > 1:
            # scipy builds its result class at run time: pyright cannot see its `statistic` field
            tau = float(kendalltau(both["accuracy"], both["gold"]).statistic)  # pyright: ignore[reportAttributeAccessIssue]
        best_gold = both.sort("gold", descending=True)["model"].first() if both.height else None
        best_mt = both.sort("accuracy", descending=True)["model"].first() if both.height else None
        rows.append(
            {
                "benchmark": name,
                "mt_system": name.removeprefix(MT_BENCHMARK_PREFIX),
                "models": both.height,
                "kendall_tau_vs_gold": tau,
                "mean_gap_vs_gold": float(cast(float, (both["accuracy"] - both["gold"]).mean()))
                if both.height
                else None,
                "best_on_gold": best_gold,
                "best_on_mt": best_mt,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "benchmark": pl.String(),
            "mt_system": pl.String(),
            "models": pl.Int64(),
            "kendall_tau_vs_gold": pl.Float64(),
            "mean_gap_vs_gold": pl.Float64(),
            "best_on_gold": pl.String(),
            "best_on_mt": pl.String(),
        },
    )


# ------------------------------------------------------------------------------------------ latency
def measure_latency(
    warehouse: Warehouse,
    project: ProjectConfig,
    config: EvaluationConfig,
    mt_systems: list[str] | None = None,
    emit: Emit | None = None,
) -> pl.DataFrame:
    """Time `latency_samples` items one by one (batch 1, engines called without the cache): the English
    VLM on the French question directly, and translate-test per MT system, split into question
    translation, model and answer translation."""
    from evaluation.benchmarks import BENCHMARKS

    items = BENCHMARKS.create("easy_vqa_fr_gold").items(warehouse)
    k = max(1, config.latency_samples)
    # spread over the split (every type of question), same items for every system
    sample = items.gather_every(max(1, items.height // k)).head(k)
    predictor = load_model(english_vlm_dir(warehouse), warehouse)
    direct = DirectModel(predictor, name=ENGLISH_VLM, kind="english_vlm")
    candidates: list[tuple[str, str, Any]] = [("direct", "", direct)]
    for name in mt_systems if mt_systems is not None else [s.name for s in project.mt_systems]:
        system, reason = translate_test_system(warehouse, project, config, name)
        if system is None:
            log.info("latency: no translate-test for %s (%s)", name, reason)
            continue
        candidates.append(("translate_test", name, system))
    batched = dict(
        warehouse.sql(
            "SELECT model, seconds_per_sample FROM evaluations WHERE benchmark = 'easy_vqa_fr_gold' "
            "AND NOT predictions_cached"
        ).iter_rows()
    )
    rows = []
    for mode, mt_name, system in candidates:
        system.answer_one(sample["image"][0], sample["question"][0], Timing())  # warm-up: loads, caches
        per_item: list[Timing] = []
        started = time.perf_counter()
        for image, question in sample.select("image", "question").iter_rows():
            if len(per_item) >= 3 and time.perf_counter() - started > config.latency_budget_s:
                break  # enough for a mean on a slow engine; `samples` says how many were timed
            timing = Timing()
            system.answer_one(image, question, timing)
            per_item.append(timing)
        totals = sorted(t.total_s for t in per_item)
        row = {
            "model": ENGLISH_VLM,
            "mode": mode,
            "mt_system": mt_name,
            "samples": len(per_item),
            "translate_question_s": statistics.fmean(t.translate_question_s for t in per_item),
            "model_s": statistics.fmean(t.model_s for t in per_item),
            "translate_answer_s": statistics.fmean(t.translate_answer_s for t in per_item),
            "total_s": statistics.fmean(totals),
            "total_p90_s": totals[min(len(totals) - 1, int(0.9 * len(totals)))],
            "batched_seconds_per_sample": batched.get(system.name),
            "device": device_of(predictor),
            "created_at": datetime.now(UTC),
        }
        line = (
            f"latency {mode} {mt_name or ''}: {row['total_s'] * 1000:.1f} ms/sample "
            f"(question MT {row['translate_question_s'] * 1000:.1f}, model {row['model_s'] * 1000:.1f}, "
            f"answer MT {row['translate_answer_s'] * 1000:.1f})"
        )
        _tell(line, emit)
        rows.append(row)
    frame = pl.DataFrame(rows, schema=EVAL_LATENCY.schema)
    warehouse.append("eval_latency", frame)
    return frame


# -------------------------------------------------------------------------------------------- sweep
def run_sweep_cut(
    warehouse: Warehouse,
    project: ProjectConfig,
    config: EvaluationConfig,
    key: str | float,
    emit: Emit | None = None,
) -> dict[str, Any]:
    """One point of the threshold sweep (`key`: a cut or a quantile level, see `sweep_keys`): the
    corpus it keeps, its gold precision, one model per seed with the tier models' recipe, and the
    accuracy on `easy_vqa_fr_gold` (mean over seeds, interval over seeds and items)."""

    key = key if isinstance(key, str) else cut_key(key)
    scores = sample_scores(warehouse)  # read once: the cut and the corpus both need them
    cut = resolve_cut(warehouse, key, scores)
    gold_high = project.quality.gold_high_chrf
    corpus = cut_corpus(warehouse, cut, gold_high, key=key, scores=scores)
    row: dict[str, Any] = {
        "point": key,
        "cut": cut,
        "samples": corpus.samples,
        "share": corpus.share,
        "occurrences": corpus.occurrences,
        "gold_precision": corpus.gold_precision,
        "gold_chrf": corpus.gold_chrf,
        "method": config.sweep_method,
        "benchmark": SWEEP_BENCHMARK,
        "created_at": datetime.now(UTC),
    }
    if emit:
        emit(
            f"sweep {key}: cut {cut:.4f} keeps {corpus.samples} samples ({corpus.share:.1%}), "
            f"gold precision {corpus.gold_precision}"
        )
    if corpus.samples:
        from evaluation.dev import FRENCH_DEV, dev_set

        started = time.perf_counter()
        dev = dev_set(warehouse, FRENCH_DEV, config.dev_items, config.dev_every)
        trained = [
            train_cut(
                warehouse, corpus, config.sweep_method, seed, project.training, config.sweep_options, dev
            )
            for seed in config.seeds
        ]
        runs = pl.DataFrame(
            {"seed": list(config.seeds), "model_dir": [t["model_dir"] for t in trained]},
            schema={"seed": pl.Int64(), "model_dir": pl.String()},
        )
        name = f"sweep:{key}"
        systems = seeded_systems(warehouse, runs, name, method=config.sweep_method)
        (evaluation,) = evaluate_seeded(warehouse, systems, name, "sweep", [SWEEP_BENCHMARK], config, emit)
        row.update(
            {
                "steps": trained[0]["steps"],
                "final_loss": sum(t["final_loss"] for t in trained) / len(trained),
                "model_dir": trained[0]["model_dir"],
                "train_seconds": sum(t["train_seconds"] for t in trained) or time.perf_counter() - started,
            }
        )
        row.update({k: evaluation[k] for k in ("n", "accuracy", "ci_low", "ci_high", "seeds", "seed_sd")})
    frame = pl.DataFrame([row], schema=SWEEP_RESULTS.schema)
    warehouse.write_partition("sweep_results", frame, partition=f"cut_{key}")
    return frame.row(0, named=True)


# -------------------------------------------------------------------------------------- comparisons
def compare_all(
    warehouse: Warehouse, project: ProjectConfig, config: EvaluationConfig, emit: Emit | None = None
) -> pl.DataFrame:
    """The majority baseline on every evaluated benchmark, then every pair of compared systems there."""
    from evaluation.compare import compare_systems, evaluate_baselines

    if not warehouse.partitions("evaluations"):
        return pl.DataFrame()
    configured_benchmarks(project)  # registers easy_vqa_fr_<system>: a new process knows only the fixed ones
    benchmarks = sorted(
        warehouse.sql("SELECT DISTINCT benchmark FROM evaluations WHERE model_kind <> 'baseline'")[
            "benchmark"
        ].to_list()
    )
    started = time.perf_counter()
    for row in evaluate_baselines(warehouse, benchmarks, config.bootstrap, config.seed):
        line = f"majority baseline on {row['benchmark']}: {row['accuracy']:.3f} ({row['n']} items)"
        _tell(line, emit)
    frame = compare_systems(warehouse, benchmarks, config.bootstrap, config.seed)
    line = f"comparisons: {frame.height} pairs on {len(benchmarks)} benchmarks in {time.perf_counter() - started:.1f}s"
    _tell(line, emit)
    return frame
