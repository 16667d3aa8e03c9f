"""Score every translation with every available signal; combine; pick the best system per segment.

`quality_scores` is an append-only cache like `translations`: a pair is scored once per (translation
version, signal version), so adding a system or a signal scores only what is new.

Combined score = weighted mean of the available signal scores (weights renormalise over the signals
that apply to the pair; a skipped or null signal does not count). Hard gates reject a translation
whatever the combined score says: wrong language, broken `<image>` / protected spans, empty output,
copy of the source. The best system per segment is the ungated one with the highest combined score.

Expert review outranks the machines (`vlmfr_data.review`): a `human` translation backed by an imported
review (its `system_version` is the review file's hash, the review corrected or approved that segment)
gets combined 1.0, no gates, hence tier `high`, and is the segment's best whatever the machine scores.
The quality signals still score it (their rows stay in `quality_scores`), they just do not decide.
A translation a reviewer rated 1-2 without correcting it gets the gate `expert_rejected` (only that
exact text of that system: a new version is judged afresh). A `human` translation without such a review
(a fixture, a hand-written row) is ranked like any system.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from vlmfr_data.catalog import QUALITY_SIGNALS, TRANSLATION_QUALITY
from vlmfr_data.progress import Progress
from vlmfr_data.quality.base import PAIRS_SCHEMA, SIGNALS, QualitySignal
from vlmfr_data.quality.config import QualityConfig
from vlmfr_data.review import HUMAN_SYSTEM
from vlmfr_data.store import Warehouse
from vlmfr_data.tiers import KEPT_TIERS, REJECTED

log = logging.getLogger(__name__)

EXPERT_REJECTED = "expert_rejected"  # gate of a translation a reviewer rated 1-2 without correcting it


@dataclass
class ScoringReport:
    pairs: int = 0
    signals: dict[str, str] = field(default_factory=dict)  # name -> "ok: N new" / "skipped: why"
    seconds: float = 0.0


def translation_pairs(warehouse: Warehouse) -> pl.DataFrame:
    """The latest successful translation per (segment, system) with its English source, and the words
    the engine marked unknown (null where it marks none)."""
    pairs = warehouse.sql(
        """
        SELECT t.*, s.kind, s.text_en
        FROM translations t JOIN segments s USING (segment_id)
        WHERE t.error IS NULL
        QUALIFY row_number() OVER (PARTITION BY t.segment_id, t.system ORDER BY t.created_at DESC) = 1
        ORDER BY t.system, t.segment_id
        """
    )
    marks = (
        pairs["unknown_words"]
        if "unknown_words" in pairs.columns  # files written before engines' marks were kept
        else pl.Series("unknown_words", [None] * pairs.height, pl.List(pl.String()))
    )
    if "context_key" in pairs.columns:
        # a short segment translated in other contexts is another text under the same engine version:
        # the scores' cache key (segment, system, system_version) must tell them apart
        pairs = pairs.with_columns(
            pl.when(pl.col("context_key").fill_null("") != "")
            .then(pl.concat_str("system_version", pl.lit(" ctx:"), "context_key"))
            .otherwise(pl.col("system_version"))
            .alias("system_version")
        )
    return pairs.select(list(PAIRS_SCHEMA)).cast(PAIRS_SCHEMA).with_columns(marks)  # type: ignore[arg-type]


def build_signals(config: QualityConfig) -> list[QualitySignal]:
    return [SIGNALS.create(name, **options) for name, options in config.signals.items()]


def score_translations(warehouse: Warehouse, config: QualityConfig, batch_rows: int = 5000) -> ScoringReport:
    started = time.perf_counter()
    pairs = translation_pairs(warehouse)
    report = ScoringReport(pairs=pairs.height)
    status_rows = []
    for signal in build_signals(config):
        signal_started = time.perf_counter()
        bind = getattr(signal, "bind", None)
        if bind is not None:  # compares with the other systems' translations (consensus)
            bind(pairs)
        availability = signal.availability()
        weight = config.weights.get(signal.name, 0.0)
        if not availability.ok:
            log.warning("quality signal %s skipped: %s", signal.name, availability.reason)
            report.signals[signal.name] = f"skipped: {availability.reason}"
            status_rows.append(
                {
                    "signal": signal.name,
                    "signal_version": "",
                    "status": "skipped",
                    "reason": availability.reason,
                    "weight": weight,
                    "description": signal.description,
                    "pairs_scored": 0,
                    "seconds": 0.0,
                }
            )
            continue
        done = warehouse.sql(
            f"SELECT segment_id, system, system_version FROM quality_scores "
            f"WHERE signal = '{signal.name}' AND signal_version = $${signal.version}$$"
        )
        pending = pairs.join(done, on=["segment_id", "system", "system_version"], how="anti")
        progress = Progress(f"score {signal.name}", total=pending.height, unit="pairs")
        for offset in range(0, pending.height, batch_rows):
            batch = pending.slice(offset, batch_rows)
            scores = signal.score(batch)
            rows = batch.select("segment_id", "system", "system_version").with_columns(
                pl.lit(signal.name).alias("signal"),
                pl.lit(signal.version).alias("signal_version"),
                scores["value"],
                scores["score"],
                scores["gate"],
                scores["detail"],
                pl.lit(datetime.now(UTC)).alias("created_at"),
            )
            warehouse.append("quality_scores", rows, partition=signal.name)
            progress.update(batch.height)
        seconds = time.perf_counter() - signal_started
        total = pairs.height  # every current pair now has a score from this signal version
        log.info(
            "quality signal %s: %d new pairs in %.1fs (%d in all)",
            signal.name,
            pending.height,
            seconds,
            total,
        )
        report.signals[signal.name] = f"ok: {pending.height} new"
        status_rows.append(
            {
                "signal": signal.name,
                "signal_version": signal.version,
                "status": "ok",
                "reason": None,
                "weight": weight,
                "description": signal.description,
                "pairs_scored": pending.height,
                "seconds": seconds,
            }
        )
    warehouse.write_partition("quality_signals", pl.DataFrame(status_rows, schema=QUALITY_SIGNALS.schema))
    report.seconds = time.perf_counter() - started
    return report


def assign_tier(combined: pl.Expr, gated: pl.Expr, thresholds: dict[str, float]) -> pl.Expr:
    """The best kept tier whose threshold the combined score reaches; gated or unscored = rejected."""
    tier = pl.when(gated | combined.is_null()).then(pl.lit(REJECTED))
    for name in KEPT_TIERS:
        tier = tier.when(combined >= thresholds[name]).then(pl.lit(name))
    return tier.otherwise(pl.lit(REJECTED))


def combine_scores(warehouse: Warehouse, config: QualityConfig) -> pl.DataFrame:
    """Write `translation_quality`: combined score, gates, tier and the best system per segment."""
    quality = rank_translations(warehouse, config)
    warehouse.write_partition("translation_quality", quality)
    return quality


def rank_translations(warehouse: Warehouse, config: QualityConfig) -> pl.DataFrame:
    """`translation_quality` rows from the current scores under `config` (weights, thresholds), without
    writing them: what `combine_scores` writes, and what a calibration compares across weights."""
    pairs = translation_pairs(warehouse)
    current = (
        warehouse.read("quality_signals").filter(pl.col("status") == "ok").select("signal", "signal_version")
    )
    scores = (
        warehouse.sql(
            "SELECT segment_id, system, system_version, signal, signal_version, score, gate FROM quality_scores"
        )
        .join(current, on=["signal", "signal_version"])
        .join(
            pl.DataFrame(
                {"signal": list(config.weights), "weight": list(config.weights.values())},
                schema={"signal": pl.String(), "weight": pl.Float64()},
            ),
            on="signal",
            how="left",
        )
        .with_columns(pl.col("weight").fill_null(0.0))
    )
    per_pair = scores.group_by("segment_id", "system", "system_version").agg(
        (
            (pl.col("score") * pl.col("weight")).sum()
            / pl.col("weight").filter(pl.col("score").is_not_null()).sum()
        ).alias("combined"),
        (pl.col("score").is_not_null() & (pl.col("weight") > 0)).sum().cast(pl.Int32).alias("n_signals"),
        pl.col("gate").drop_nulls().unique().sort().alias("gates"),
    )
    quality = (
        pairs.select("segment_id", "system", "system_version", "text_fr")
        .join(per_pair, on=["segment_id", "system", "system_version"], how="left")
        .with_columns(pl.col("gates").fill_null([]), pl.col("n_signals").fill_null(0))
        .with_columns(
            pl.when(pl.col("combined").is_nan()).then(None).otherwise(pl.col("combined")).alias("combined")
        )
    )
    quality = apply_expert_reviews(quality, warehouse).with_columns(
        assign_tier(pl.col("combined"), pl.col("gates").list.len() > 0, config.thresholds).alias("tier")
    )
    ranked = quality.with_columns((pl.col("gates").list.len() > 0).alias("_gated")).sort(
        ["segment_id", "_gated", "_reviewed", "combined", "system"],
        descending=[False, False, True, True, False],
        nulls_last=True,
    )
    best_keys = ranked.group_by("segment_id", maintain_order=True).first().select("segment_id", "system")
    quality = quality.join(
        best_keys.with_columns(pl.lit(True).alias("is_best")), on=["segment_id", "system"], how="left"
    ).with_columns(pl.col("is_best").fill_null(False))
    return quality.select(list(TRANSLATION_QUALITY.schema))


def expert_review_effects(warehouse: Warehouse) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(`human` translations backed by a review, translations rejected by their latest review)."""
    keys = {"segment_id": pl.String(), "system": pl.String()}
    if "expert_reviews" not in warehouse.catalog.tables:  # a test catalog without the review tables
        reviews = pl.DataFrame()
    else:
        reviews = warehouse.read("expert_reviews")
    if reviews.height == 0:
        return (
            pl.DataFrame(schema={**keys, "system_version": pl.String()}),
            pl.DataFrame(schema={**keys, "text_fr": pl.String()}),
        )
    backed = (
        reviews.filter(pl.col("action").is_in(["corrected", "approved"]))
        .select(
            "segment_id", pl.lit(HUMAN_SYSTEM).alias("system"), pl.col("file_hash").alias("system_version")
        )
        .unique()
    )
    # the latest review of each (segment, system, exact text) decides whether that text is rejected
    latest = (
        reviews.sort("imported_at", "row")
        .group_by("segment_id", "rated_system", "rated_fr", maintain_order=True)
        .last()
    )
    rejected = latest.filter(pl.col("action") == "rejected").select(
        "segment_id", pl.col("rated_system").alias("system"), pl.col("rated_fr").alias("text_fr")
    )
    return backed, rejected


def apply_expert_reviews(quality: pl.DataFrame, warehouse: Warehouse) -> pl.DataFrame:
    """Reviewed `human` translations: combined 1.0 and no gates; expert-rejected ones: gate. Adds `_reviewed`."""
    backed, rejected = expert_review_effects(warehouse)
    return (
        quality.join(
            backed.with_columns(pl.lit(True).alias("_reviewed")),
            on=["segment_id", "system", "system_version"],
            how="left",
        )
        .join(
            rejected.unique().with_columns(pl.lit(True).alias("_expert_rejected")),
            on=["segment_id", "system", "text_fr"],
            how="left",
        )
        .with_columns(pl.col("_reviewed").fill_null(False), pl.col("_expert_rejected").fill_null(False))
        .with_columns(
            pl.when(pl.col("_reviewed")).then(pl.lit(1.0)).otherwise(pl.col("combined")).alias("combined"),
            pl.when(pl.col("_expert_rejected"))
            .then(pl.lit([EXPERT_REJECTED], pl.List(pl.String)))
            .when(pl.col("_reviewed"))
            .then(pl.lit([], pl.List(pl.String)))
            .otherwise(pl.col("gates"))
            .alias("gates"),
        )
        .drop("_expert_rejected")
    )
