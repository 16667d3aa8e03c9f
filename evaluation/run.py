"""Evaluate a system on a benchmark: cached predictions, exact match after normalisation, bootstrap
interval, per-question-type accuracy, one `evaluations` row.

Predictions are cached per (model, benchmark) partition of `eval_predictions`: when the model version and
the benchmark version (items + normaliser) match and every item is there, a re-run scores the stored
predictions instead of running the model again.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import polars as pl

from evaluation.benchmarks import BENCHMARKS, Benchmark
from evaluation.tables import EVAL_PREDICTIONS, EVALUATIONS
from vlmfr_data.store import Warehouse

log = logging.getLogger(__name__)


@dataclass
class EvaluationResult:
    row: dict
    predictions: pl.DataFrame
    cached: bool


def evenly_spaced(items: pl.DataFrame, limit: int) -> pl.DataFrame:
    """`limit` items spread evenly over the whole frame (0: all): every image region and question type,
    the same items on every run."""
    if not limit or limit >= items.height:
        return items
    keep = [i * items.height // limit for i in range(limit)]
    return items.filter(pl.int_range(pl.len()).is_in(keep))


def partition_name(model: str, benchmark: str) -> str:
    """A partition folder name for (model, benchmark): model names hold ':' and '+' (tier sets)."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", f"{benchmark}__{model}")


def bootstrap_interval(correct: np.ndarray, resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the accuracy.

    Resampling n items with replacement from k correct ones draws Binomial(n, k/n) correct answers, so
    the resampled accuracies are drawn from that directly: the same distribution, n times less work.
    """
    n = len(correct)
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    accuracies = rng.binomial(n, float(correct.mean()), size=resamples) / n
    low, high = np.percentile(accuracies, [2.5, 97.5])
    return float(low), float(high)


def score_predictions(benchmark: Benchmark, items: pl.DataFrame, predictions: pl.DataFrame) -> pl.DataFrame:
    """Join predictions to items; normalise answers (each distinct string once) and mark exact matches."""
    normalize = benchmark.normalize
    joined = items.join(predictions, on="item_id", how="left")
    distinct = pl.concat([joined["answer"], joined["prediction"]]).drop_nulls().unique().to_list()
    table = {text: normalize(text) for text in distinct}
    scored = joined.with_columns(
        pl.col("answer").replace_strict(table, default=None, return_dtype=pl.String).alias("answer_norm"),
        pl.col("prediction")
        .replace_strict(table, default=None, return_dtype=pl.String)
        .alias("prediction_norm"),
    ).with_columns(
        (pl.col("prediction_norm").is_not_null() & (pl.col("prediction_norm") == pl.col("answer_norm")))
        .fill_null(False)
        .alias("correct")
    )
    if "prediction_en" in scored.columns and scored["prediction_en"].drop_nulls().len():
        from evaluation.normalize import normalize_en

        english = {
            t: normalize_en(t)
            for t in pl.concat([scored["answer_en"], scored["prediction_en"]]).drop_nulls().unique()
        }
        scored = scored.with_columns(
            (
                pl.col("prediction_en").replace_strict(english, default=None, return_dtype=pl.String)
                == pl.col("answer_en").replace_strict(english, default=None, return_dtype=pl.String)
            )
            .fill_null(False)
            .alias("correct_en")
        )
    else:
        scored = scored.with_columns(pl.lit(None, pl.Boolean()).alias("correct_en"))
    return scored


def evaluate(
    warehouse: Warehouse,
    system,  # noqa: ANN001 - DirectModel | TranslateTest (evaluation.systems)
    benchmark_name: str,
    *,
    batch_size: int = 256,
    limit: int = 0,
    resamples: int = 1000,
    seed: int = 0,
    device: str = "cpu",
    items: pl.DataFrame | None = None,
) -> EvaluationResult:
    benchmark = BENCHMARKS.create(benchmark_name)
    if items is None:
        items = benchmark.items(warehouse)
    items = evenly_spaced(items, limit)
    benchmark_version = benchmark.version(items)
    partition = partition_name(system.name, benchmark_name)
    model_version = system.version
    predictions = _cached_predictions(warehouse, partition, model_version, benchmark_version, items)
    cached = predictions is not None
    copied = False
    if predictions is None:
        # the same weights under another name (a tier set whose corpus equals another's reuses its model)
        predictions = _predictions_of_same_model(warehouse, model_version, benchmark_version, items)
        cached = copied = predictions is not None
    seconds = 0.0
    if predictions is None:
        log.info("%s on %s: predicting %d items", system.name, benchmark_name, items.height)
        started = time.perf_counter()
        predictions = system.predict(items, batch_size)
        seconds = time.perf_counter() - started
    else:
        log.info("%s on %s: reusing %d cached predictions", system.name, benchmark_name, predictions.height)
    scored = score_predictions(benchmark, items, predictions)
    if not cached or copied:
        warehouse.write_partition(
            "eval_predictions",
            scored.with_columns(
                pl.lit(system.name).alias("model"),
                pl.lit(model_version).alias("model_version"),
                pl.lit(benchmark_name).alias("benchmark"),
                pl.lit(benchmark_version).alias("benchmark_version"),
            ).select(list(EVAL_PREDICTIONS.schema)),
            partition=partition,
        )
    correct = scored["correct"].to_numpy().astype(float)
    low, high = bootstrap_interval(correct, resamples, seed)
    by_type = (
        scored.group_by("question_type")
        .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("correct").mean().alias("accuracy"))
        .sort("question_type")
        .to_dicts()
    )
    answer_en = scored["correct_en"].drop_nulls()
    row = {
        "model": system.name,
        "model_kind": system.kind,
        "model_version": model_version,
        "method": system.method,
        "tier_set": system.tier_set,
        "mt_system": system.mt_system,
        "benchmark": benchmark_name,
        "benchmark_version": benchmark_version,
        "language": benchmark.language,
        "n": scored.height,
        "correct": int(correct.sum()),
        "accuracy": float(correct.mean()) if scored.height else float("nan"),
        "ci_low": low,
        "ci_high": high,
        "seeds": 1,
        "seed": getattr(system, "seed", None),
        "seed_sd": 0.0,
        "seed_models": [system.name],
        # polars types a mean as any literal; this one is over booleans, so a float
        "accuracy_answer_en": float(cast(float, answer_en.mean())) if answer_en.len() else None,
        "by_type": by_type,
        "seconds": seconds,
        "seconds_per_sample": seconds / scored.height if scored.height else 0.0,
        "predictions_cached": cached,
        "device": device,
        "created_at": datetime.now(UTC),
    }
    warehouse.append("evaluations", pl.DataFrame([row], schema=EVALUATIONS.schema), partition=partition)
    return EvaluationResult(row=row, predictions=scored, cached=cached)


def correct_matrix(results: list[EvaluationResult]) -> np.ndarray:
    """seeds x items 0/1 matrix, items in `item_id` order (the same order for every system)."""
    columns = [r.predictions.sort("item_id")["correct"].to_numpy().astype(float) for r in results]
    ids = [r.predictions.sort("item_id")["item_id"] for r in results]
    if any(not i.equals(ids[0]) for i in ids[1:]):
        raise ValueError("seeded runs were evaluated on different items")
    return np.vstack(columns)


def evaluate_seeds(
    warehouse: Warehouse,
    systems: list,  # DirectModel of each seed's model, with a `seed` attribute
    name: str,
    kind: str,
    benchmark_name: str,
    *,
    items: pl.DataFrame | None = None,
    **options: Any,
) -> tuple[dict, list[EvaluationResult]]:
    """One configuration trained with several seeds: each seed's model is evaluated (its own `seed_run`
    row and predictions; `options` are `evaluate`'s), then one `name` row holds the mean over seeds with
    a hierarchical bootstrap interval over seeds and items."""
    from evaluation.stats import ItemResampler, seeded_accuracy, system_seed_key

    if not systems:
        raise ValueError(f"{name}: no trained model to evaluate")
    results = [evaluate(warehouse, system, benchmark_name, items=items, **options) for system in systems]
    correct = correct_matrix(results)
    resampler = ItemResampler.create(correct.shape[1], options.get("resamples", 1000), options.get("seed", 0))
    accuracy = seeded_accuracy(correct, resampler, system_seed_key(name))
    first = results[0].row
    by_type = (
        pl.concat([r.predictions.select("question_type", "correct") for r in results])
        .group_by("question_type")
        .agg(
            (pl.len() // len(results)).cast(pl.Int64).alias("n"),
            pl.col("correct").mean().alias("accuracy"),
        )
        .sort("question_type")
        .to_dicts()
    )
    row = {
        **first,
        "model": name,
        "model_kind": kind,
        "model_version": hashlib.sha256(
            "|".join(r.row["model_version"] for r in results).encode()
        ).hexdigest()[:16],
        "correct": int(round(correct.sum() / len(results))),
        "accuracy": accuracy.mean,
        "ci_low": accuracy.ci_low,
        "ci_high": accuracy.ci_high,
        "seeds": accuracy.seeds,
        "seed": None,
        "seed_sd": accuracy.seed_sd,
        "seed_models": [r.row["model"] for r in results],
        "by_type": by_type,
        "seconds": sum(r.row["seconds"] for r in results),
        "seconds_per_sample": sum(r.row["seconds_per_sample"] for r in results),
        "predictions_cached": all(r.cached for r in results),
        "created_at": datetime.now(UTC),
    }
    warehouse.append(
        "evaluations",
        pl.DataFrame([row], schema=EVALUATIONS.schema),
        partition=partition_name(name, benchmark_name),
    )
    return row, results


def _predictions_of_same_model(
    warehouse: Warehouse, model_version: str, benchmark_version: str, items: pl.DataFrame
) -> pl.DataFrame | None:
    """Predictions stored under any name for this (model version, benchmark version), if complete."""
    if not warehouse.partitions("eval_predictions"):
        return None
    stored = (
        warehouse.scan("eval_predictions")
        .filter(
            (pl.col("model_version") == model_version) & (pl.col("benchmark_version") == benchmark_version)
        )
        .collect()
    )
    if stored.height == 0:
        return None
    return _complete(stored.unique("item_id", keep="first"), items)


def _complete(stored: pl.DataFrame, items: pl.DataFrame) -> pl.DataFrame | None:
    """The stored predictions if they are exactly the benchmark's items, else None (predict again)."""
    if stored.height != items.height or stored.join(items, on="item_id", how="anti").height:
        return None
    return stored.select("item_id", "prediction", "question_mt_en", "prediction_en")


def _cached_predictions(
    warehouse: Warehouse, partition: str, model_version: str, benchmark_version: str, items: pl.DataFrame
) -> pl.DataFrame | None:
    if not warehouse.has_partition("eval_predictions", partition):
        return None
    stored = warehouse.read("eval_predictions", partition)
    if stored.height == 0:
        return None
    versions = stored.select("model_version", "benchmark_version").unique()
    if versions.height != 1 or versions.row(0) != (model_version, benchmark_version):
        return None
    return _complete(stored, items)
