"""Decide between configurations: the majority baseline, degenerate models, paired comparisons of every
pair of systems on the same items (over items and seeds, Holm-corrected), and the verdict in words.

- `evaluate_baselines`: one `majority` row per benchmark (the per-question-type majority answer).
- `degenerate_models`: every evaluated model that does not beat that baseline or whose predictions
  collapse onto one answer; the asset check fails on them and the report flags them.
- `compare_systems`: the `comparisons` table.
- `verdict`: the best configuration and those within noise of it, for the report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations

import numpy as np
import polars as pl

from evaluation.stats import ItemResampler, holm, paired_comparison, system_seed_key
from evaluation.tables import COMPARISONS
from vlmfr_data.store import Warehouse

log = logging.getLogger(__name__)

# Systems compared: every configuration row (not each seed's model) and the reference pipelines.
COMPARED_KINDS = ("tier_model", "sweep", "english_vlm", "translate_test", "baseline")
# (metadata key, label, kinds compared, model-name prefix left out): the choices put in words
VERDICTS: list[tuple[str, str, tuple[str, ...], str | None]] = [
    ("configuration", "configuration (method x tier set)", ("tier_model",), "gold:"),
    ("sweep_cut", "sweep cut", ("sweep",), None),
]
COLLAPSE_SHARE = 0.9  # a model giving one answer to at least this share of the items has collapsed
ALPHA = 0.05


def evaluate_baselines(
    warehouse: Warehouse, benchmarks: list[str], resamples: int = 1000, seed: int = 0
) -> list[dict]:
    """The majority-answer baseline on each benchmark (an `evaluations` row, predictions kept)."""
    from evaluation.benchmarks import BENCHMARKS
    from evaluation.run import evaluate
    from evaluation.systems import MajorityAnswer

    rows = []
    for name in benchmarks:
        items = _benchmark_items(warehouse, name)
        if items is None:
            items = BENCHMARKS.create(name).items(warehouse)
        result = evaluate(
            warehouse, MajorityAnswer.of(items), name, items=items, resamples=resamples, seed=seed
        )
        rows.append(result.row)
    return rows


def _benchmark_items(warehouse: Warehouse, benchmark: str) -> pl.DataFrame | None:
    """The items the models of `benchmark` were scored on (the same subsample when `limit` is set)."""
    if not warehouse.partitions("eval_predictions"):
        return None
    stored = (
        warehouse.scan("eval_predictions")
        .filter(pl.col("benchmark") == benchmark)
        .select("item_id", "question_type", "question", "answer")
        .unique("item_id")
        .collect()
    )
    return stored.with_columns(pl.lit(None, pl.String()).alias("image")) if stored.height else None


def degenerate_models(warehouse: Warehouse, collapse_share: float = COLLAPSE_SHARE) -> pl.DataFrame:
    """Every trained model (each seed's, and single models) that does not beat the majority baseline on
    a benchmark, or answers one string to >= `collapse_share` of its items."""
    schema = {
        "model": pl.String(),
        "model_kind": pl.String(),
        "benchmark": pl.String(),
        "accuracy": pl.Float64(),
        "baseline": pl.Float64(),
        "top_answer": pl.String(),
        "top_share": pl.Float64(),
        "reason": pl.String(),
    }
    if not warehouse.partitions("evaluations"):
        return pl.DataFrame(schema=schema)
    evaluations = warehouse.sql(
        "SELECT model, model_kind, benchmark, accuracy FROM evaluations "
        "WHERE model_kind IN ('seed_run', 'english_vlm', 'translate_test')"
    )
    baseline = warehouse.sql(
        "SELECT benchmark, accuracy AS baseline FROM evaluations WHERE model_kind = 'baseline'"
    )
    top = warehouse.sql(
        "SELECT model, benchmark, arg_max(prediction, n) AS top_answer, max(n) / sum(n) AS top_share "
        "FROM (SELECT model, benchmark, prediction, count(*) AS n FROM eval_predictions "
        "GROUP BY ALL) GROUP BY ALL"
    )
    table = evaluations.join(baseline, on="benchmark", how="left").join(
        top, on=["model", "benchmark"], how="left"
    )
    reason = (
        pl.when(pl.col("top_share") >= collapse_share)
        .then(
            pl.format("collapsed: '{}' for {}% of items", "top_answer", (pl.col("top_share") * 100).round(0))
        )
        .when(pl.col("baseline").is_not_null() & (pl.col("accuracy") <= pl.col("baseline")))
        .then(pl.format("does not beat the majority baseline ({})", pl.col("baseline").round(3)))
    )
    return (
        table.with_columns(reason.alias("reason"))
        .filter(pl.col("reason").is_not_null())
        .select(list(schema))
        .cast(schema)  # type: ignore[arg-type]
        .sort("benchmark", "model")
    )


@dataclass
class System:
    name: str
    kind: str
    seeds: int
    correct: np.ndarray  # seeds x items, items in item_id order


def _systems(warehouse: Warehouse, benchmark: str) -> list[System]:
    rows = warehouse.sql(
        "SELECT model, model_kind, seeds, seed_models, n FROM evaluations "
        f"WHERE benchmark = '{benchmark}' AND model_kind IN {COMPARED_KINDS}"
    )
    if rows.height == 0:
        return []
    members = sorted(
        {m for models in rows["seed_models"].to_list() for m in (models or [])} | set(rows["model"])
    )
    predictions = (
        warehouse.scan("eval_predictions")
        .filter((pl.col("benchmark") == benchmark) & pl.col("model").is_in(members))
        .select("model", "item_id", "correct")
        .collect()
    )
    by_model = {
        name: frame.sort("item_id") for (name,), frame in predictions.group_by("model", maintain_order=True)
    }
    candidates = []
    for row in rows.sort("model").iter_rows(named=True):
        frames = [by_model.get(m) for m in row["seed_models"] or [row["model"]]]
        if any(f is None for f in frames):
            log.warning("comparisons: %s on %s has no stored predictions; left out", row["model"], benchmark)
            continue
        candidates.append((row, [f for f in frames if f is not None]))
    if not candidates:
        return []
    # the items most systems were scored on (a run with `limit` scored a subsample: it is left out)
    sets = [tuple(frames[0]["item_id"].to_list()) for _, frames in candidates]
    reference = max(set(sets), key=lambda ids: (sets.count(ids), len(ids)))
    systems: list[System] = []
    for row, frames in candidates:
        if any(tuple(f["item_id"].to_list()) != reference for f in frames):
            log.warning("comparisons: %s on %s was scored on other items; left out", row["model"], benchmark)
            continue
        correct = np.vstack([f["correct"].to_numpy().astype(float) for f in frames])
        systems.append(System(row["model"], row["model_kind"], int(row["seeds"] or 1), correct))
    return systems


def compare_systems(
    warehouse: Warehouse, benchmarks: list[str], resamples: int = 1000, seed: int = 0
) -> pl.DataFrame:
    """Every pair of compared systems on each benchmark: the difference of mean accuracy with a 95%
    interval and a two-sided p-value from a bootstrap paired over items (one item draw for every
    system) with seeds resampled within each system; p-values Holm-corrected per benchmark."""
    frames = []
    for benchmark in benchmarks:
        systems = _systems(warehouse, benchmark)
        if len(systems) < 2:
            continue
        resampler = ItemResampler.create(systems[0].correct.shape[1], resamples, seed)
        pairs = []
        for a, b in combinations(systems, 2):
            result = paired_comparison(
                a.correct, b.correct, resampler, system_seed_key(a.name), system_seed_key(b.name)
            )
            pairs.append((a, b, result))
        adjusted = holm([r.p_value for _, _, r in pairs])
        now = datetime.now(UTC)
        frames.append(
            pl.DataFrame(
                [
                    {
                        "system_a": a.name,
                        "system_b": b.name,
                        "kind_a": a.kind,
                        "kind_b": b.kind,
                        "benchmark": benchmark,
                        "n": int(a.correct.shape[1]),
                        "accuracy_a": float(a.correct.mean()),
                        "accuracy_b": float(b.correct.mean()),
                        "diff": r.diff,
                        "ci_low": r.ci_low,
                        "ci_high": r.ci_high,
                        "p_value": r.p_value,
                        "p_adjusted": p_adj,
                        "significant": p_adj < ALPHA,
                        "seeds": min(a.seeds, b.seeds),
                        "seeds_a": a.seeds,
                        "seeds_b": b.seeds,
                        "resamples": resamples,
                        "created_at": now,
                    }
                    for (a, b, r), p_adj in zip(pairs, adjusted, strict=True)
                ],
                schema=COMPARISONS.schema,
            )
        )
    frame = pl.concat(frames) if frames else pl.DataFrame(schema=COMPARISONS.schema)
    for benchmark in benchmarks:
        part = frame.filter(pl.col("benchmark") == benchmark)
        warehouse.write_partition("comparisons", part, partition=benchmark)
    return frame


@dataclass
class Verdict:
    best: str | None
    best_accuracy: float | None
    within_noise: list[str]  # not distinguishable from the best (Holm-adjusted p >= ALPHA)
    beaten: list[str]
    flagged: list[str]  # degenerate: left out of the choice
    text: str


def ceiling_model(method: str) -> str:
    """The `evaluations` name of the gold ceiling that a `method` model is compared with."""
    from training.config import CEILING_METHOD

    return f"gold:{CEILING_METHOD.get(method, method)}"


def verdict(
    warehouse: Warehouse,
    benchmark: str,
    kinds: tuple[str, ...],
    label: str,
    exclude_prefix: str | None = None,
) -> Verdict:
    """The best system of `kinds` on `benchmark` and which others of those kinds are within noise."""
    if not warehouse.partitions("comparisons") or not warehouse.partitions("evaluations"):
        return Verdict(None, None, [], [], [], f"No comparisons yet for {label}.")
    rows = warehouse.sql(
        f"SELECT model, accuracy, seeds, seed_models FROM evaluations WHERE benchmark = '{benchmark}' "
        f"AND model_kind IN {kinds + ('__none__',)}"
    )
    if exclude_prefix:
        rows = rows.filter(~pl.col("model").str.starts_with(exclude_prefix))
    bad = set(degenerate_models(warehouse).filter(pl.col("benchmark") == benchmark)["model"].to_list())
    flagged = [r["model"] for r in rows.iter_rows(named=True) if bad & set(r["seed_models"] or [r["model"]])]
    candidates = rows.filter(~pl.col("model").is_in(flagged)).sort("accuracy", descending=True)
    if candidates.height == 0:
        text = f"No {label} has every seed above the majority baseline or uncollapsed"
        if rows.height:
            top = rows.sort("accuracy", descending=True).row(0, named=True)
            text += f" (the highest mean, {top['model']}, is {top['accuracy']:.3f})"
        return Verdict(None, None, [], [], flagged, text + ": none of them is a result to act on.")
    best, best_accuracy = candidates["model"][0], float(candidates["accuracy"][0])
    pairs = warehouse.sql(
        f"SELECT system_a, system_b, p_adjusted, diff FROM comparisons WHERE benchmark = '{benchmark}'"
    )
    within, beaten = [], []
    for other in candidates["model"][1:]:
        match = pairs.filter(
            ((pl.col("system_a") == best) & (pl.col("system_b") == other))
            | ((pl.col("system_a") == other) & (pl.col("system_b") == best))
        )
        if match.height and float(match["p_adjusted"][0]) >= ALPHA:
            within.append(other)
        else:
            beaten.append(other)
    seeds = int(candidates["seeds"][0] or 1)
    text = f"Best {label}: {best} ({best_accuracy:.3f}, mean of {seeds} seed{'s' * (seeds > 1)}). "
    text += (
        f"Not distinguishable from it (paired bootstrap over items and seeds, Holm-corrected p >= {ALPHA}): "
        + ", ".join(within)
        + "."
        if within
        else "Every other one is significantly worse."
    )
    if flagged:
        text += (
            " Left out as degenerate (not above the majority baseline, or collapsed): "
            + ", ".join(flagged)
            + "."
        )
    return Verdict(best, best_accuracy, within, beaten, flagged, text)
