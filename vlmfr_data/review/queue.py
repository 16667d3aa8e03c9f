"""The review queue: which segments a reviewer's minute should go to.

Priority of a segment = occurrences x uncertainty of its best translation, where

    uncertainty = 1                                     if every translation is gated or unscored
                = 1 - combined                          if only one engine translated the segment
                = 0.5 (1 - combined) + 0.5 (1 - agreement)   otherwise

`combined` is the best translation's combined score (`translation_quality`) and `agreement` is the
closest other engine's output to the best one: the larger of the symmetric sentence chrF (mean of both
directions, sacrebleu, 0-100, divided by 100) between the best output and each other ungated output.
Two engines that write the same French make an error less likely; a low combined score or engines that
disagree make it more likely. Occurrences come from `segments.n_occurrences` (every time the string is
used in any dataset), so a correction's reach is counted the way training consumes the data.

Budget N = `round(share x N)` stratified picks + the rest by priority. The priority picks alone would
rate mostly low-score, high-occurrence strings, which biases any agreement figure (Spearman of combined
vs rating) toward that corner. The stratified share (default 20%) draws segments at random, with a fixed
seed, round robin over the strata (rated system x tier) of every machine translation not yet picked,
so each system and each tier gets rated; a stratified row asks for a rating of that stratum's system's
French, which may not be the best one. Segments with a review already imported are not queued again.
"""

from __future__ import annotations

import functools
import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl

from vlmfr_data.review import HUMAN_SYSTEM
from vlmfr_data.review.tables import REVIEW_QUEUE
from vlmfr_data.segments import rebuild_turns
from vlmfr_data.store import Warehouse

if TYPE_CHECKING:
    from sacrebleu.metrics.chrf import CHRF


@dataclass(frozen=True)
class QueueSettings:
    """What the review queue asks experts for: `[review]` in vlmfr.toml."""

    budget: int = 50  # rows per review queue
    # share of the budget drawn at random, round robin over the strata (rated system x tier), so every
    # system and tier gets rated; the rest goes by priority (where the machines disagree most)
    stratified_share: float = 0.2
    seed: int = 13  # of the stratified draw

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise ValueError(f"review budget must be at least 1, got {self.budget}")
        if not 0.0 <= self.stratified_share <= 1.0:
            raise ValueError(f"stratified share must be within [0, 1], got {self.stratified_share}")


@functools.cache
def _chrf() -> CHRF:
    from sacrebleu.metrics.chrf import CHRF  # sacrebleu loads on demand

    return CHRF()


def symmetric_chrf(a: str, b: str) -> float:
    """Sentence chrF between two outputs, mean of both directions (chrF weighs recall over precision)."""
    chrf = _chrf()
    return (chrf.sentence_score(a, [b]).score + chrf.sentence_score(b, [a]).score) / 2


def machine_translations(warehouse: Warehouse) -> pl.DataFrame:
    """Every machine translation with its quality and its segment's source, kind and occurrences."""
    segments = warehouse.scan("segments").select("segment_id", "text_en", "kind", "n_occurrences")
    return (
        warehouse.scan("translation_quality")
        .filter(pl.col("system") != HUMAN_SYSTEM)
        .join(segments, on="segment_id")
        .with_columns((pl.col("gates").list.len() > 0).alias("gated"))
        .collect()
    )


def reviewed_segments(warehouse: Warehouse) -> pl.DataFrame:
    return warehouse.scan("expert_reviews").select("segment_id").unique().collect()


def _agreement(best: pl.DataFrame, others: pl.DataFrame) -> pl.DataFrame:
    """`segment_id` -> best symmetric chrF between the best output and any other ungated output."""
    pairs = best.select("segment_id", pl.col("text_fr").alias("best_fr")).join(
        others.filter(~pl.col("gated")).select("segment_id", "text_fr"), on="segment_id"
    )
    scores = [symmetric_chrf(a or "", b or "") for a, b in pairs.select("best_fr", "text_fr").iter_rows()]
    return (
        pairs.select("segment_id")
        .with_columns(pl.Series("engine_agreement", scores, dtype=pl.Float64))
        .group_by("segment_id")
        .agg(pl.col("engine_agreement").max())
    )


def prioritise(translations: pl.DataFrame, keep: int) -> pl.DataFrame:
    """The `keep` segments of highest priority (one row each, the best translation), exactly.

    chrF runs in Python, so it is computed only where it can matter: segments are taken in order of an
    upper bound of their priority (agreement 0), and the candidate set grows until the keep-th exact
    priority is at least the bound of every segment left out.
    """
    best = translations.filter(pl.col("is_best"))
    others = translations.filter(~pl.col("is_best"))
    has_other = (
        others.filter(~pl.col("gated"))
        .select("segment_id")
        .unique()
        .with_columns(pl.lit(True).alias("has_other"))
    )
    score_part = (
        pl.when(pl.col("gated") | pl.col("combined").is_null())
        .then(1.0)
        .otherwise((1.0 - pl.col("combined")).clip(0.0, 1.0))
    )
    best = (
        best.join(has_other, on="segment_id", how="left")
        .with_columns(pl.col("has_other").fill_null(False), score_part.alias("score_uncertainty"))
        .with_columns(
            # upper bound of the uncertainty: engines that share nothing
            pl.when(pl.col("gated") | pl.col("combined").is_null() | ~pl.col("has_other"))
            .then(pl.col("score_uncertainty"))
            .otherwise(0.5 * pl.col("score_uncertainty") + 0.5)
            .alias("_bound")
        )
        .with_columns((pl.col("n_occurrences") * pl.col("_bound")).alias("_bound"))
        .sort(["_bound", "segment_id"], descending=[True, False])
    )
    candidates = max(4 * keep + 100, 1)
    while True:
        head = best.head(candidates)
        scored = _with_uncertainty(
            head, _agreement(head, others.join(head.select("segment_id"), on="segment_id"))
        )
        top = scored.sort(["priority", "segment_id"], descending=[True, False]).head(keep)
        if candidates >= best.height:
            return top
        next_bound = best["_bound"][candidates]
        if top.height == keep and top["priority"].min() >= next_bound:  # type: ignore[operator]
            return top
        candidates *= 2


def _with_uncertainty(best: pl.DataFrame, agreement: pl.DataFrame) -> pl.DataFrame:
    return (
        best.join(agreement, on="segment_id", how="left")
        .with_columns(
            pl.when(pl.col("gated") | pl.col("combined").is_null())
            .then(1.0)
            .when(pl.col("engine_agreement").is_null())
            .then(pl.col("score_uncertainty"))
            .otherwise(0.5 * pl.col("score_uncertainty") + 0.5 * (1.0 - pl.col("engine_agreement") / 100.0))
            .alias("uncertainty")
        )
        .with_columns((pl.col("n_occurrences") * pl.col("uncertainty")).alias("priority"))
        .drop("_bound", "has_other", "score_uncertainty")
    )


def stratified_picks(translations: pl.DataFrame, count: int, exclude: set[str], seed: int) -> pl.DataFrame:
    """`count` machine translations drawn at random, round robin over (system, tier) strata, one per segment."""
    pool = translations.filter(~pl.col("segment_id").is_in(list(exclude))).sort(
        "system", "tier", "segment_id"
    )
    by_stratum: dict[str, list[int]] = {}
    for index, (system, tier) in enumerate(pool.select("system", "tier").iter_rows()):
        by_stratum.setdefault(f"{system}/{tier}", []).append(index)
    rng = random.Random(seed)
    for indices in by_stratum.values():
        rng.shuffle(indices)
    segment_ids = pool["segment_id"].to_list()
    taken: set[str] = set()
    picked: list[tuple[int, str]] = []
    while len(picked) < count and any(by_stratum.values()):
        for stratum in sorted(by_stratum):
            indices = by_stratum[stratum]
            while indices and segment_ids[indices[-1]] in taken:
                indices.pop()  # that segment was drawn through another system's stratum
            if not indices or len(picked) >= count:
                continue
            index = indices.pop()
            taken.add(segment_ids[index])
            picked.append((index, stratum))
    if not picked:
        return pool.head(0).with_columns(pl.lit(None, pl.String).alias("stratum"))
    rows, strata = zip(*picked, strict=True)
    return pool[list(rows)].with_columns(pl.Series("stratum", list(strata), dtype=pl.String))


def previous_turn_context(warehouse: Warehouse, segment_ids: list[str]) -> pl.DataFrame:
    """`segment_id` -> the most frequent text of the turn before it (an answer's question) and its share."""
    keys = ["dataset", "split", "sample_id"]
    pieces = warehouse.scan("sample_segments")
    occurrences = (
        pieces.filter(pl.col("segment_id").is_in(segment_ids))
        .select(*keys, "turn_index", "segment_id")
        .unique()
        .filter(pl.col("turn_index") > 0)
        .with_columns((pl.col("turn_index") - 1).alias("previous"))
        .collect()
    )
    if occurrences.height == 0:
        return pl.DataFrame(schema={"segment_id": pl.String(), "context": pl.String()})
    wanted = occurrences.select(*keys, pl.col("previous").alias("turn_index")).unique()
    previous_pieces = pieces.join(wanted.lazy(), on=[*keys, "turn_index"], how="semi").collect()
    texts = warehouse.scan("segments").select("segment_id", "text_en").collect()
    # the turn as the dataset has it, less image tokens: the reviewer reads the words
    previous_text = rebuild_turns(previous_pieces, texts).with_columns(
        pl.col("text").str.replace_all("<image>", "", literal=True).str.strip_chars()
    )
    counted = (
        occurrences.join(
            previous_text.rename({"turn_index": "previous"}), on=[*keys, "previous"], how="inner"
        )
        .group_by("segment_id", "text")
        .len()
        .with_columns((pl.col("len") / pl.col("len").sum().over("segment_id")).alias("share"))
        .sort(["segment_id", "len", "text"], descending=[False, True, False])
        .group_by("segment_id", maintain_order=True)
        .first()
    )
    return counted.select(
        "segment_id",
        pl.format(
            "{} ({}% of its uses)", pl.col("text"), (100 * pl.col("share")).round(0).cast(pl.Int32)
        ).alias("context"),
    )


def build_queue(warehouse: Warehouse, settings: QueueSettings) -> pl.DataFrame:
    """The review queue (schema `review_queue`), most valuable first."""
    translations = machine_translations(warehouse)
    done = set(reviewed_segments(warehouse)["segment_id"].to_list())
    translations = translations.filter(~pl.col("segment_id").is_in(list(done)))
    n_stratified = round(settings.stratified_share * settings.budget)
    by_priority = prioritise(translations, settings.budget - n_stratified)
    stratified = stratified_picks(
        translations, n_stratified, set(by_priority["segment_id"].to_list()), settings.seed
    )
    # the stratified rows' priority (of their best translation) too, for the order and the budget curve
    strat_best = prioritise(
        translations.join(stratified.select("segment_id"), on="segment_id"), stratified.height
    )
    rated = pl.concat(
        [
            by_priority.with_columns(
                pl.lit("priority").alias("selection"),
                pl.format("{}/{}", "system", "tier").alias("stratum"),
                pl.col("system").alias("best_system"),
            ),
            stratified.join(
                strat_best.select(
                    "segment_id",
                    pl.col("system").alias("best_system"),
                    "uncertainty",
                    "engine_agreement",
                    "priority",
                ),
                on="segment_id",
            ).with_columns(pl.lit("stratified").alias("selection")),
        ],
        how="diagonal_relaxed",
    ).sort(["priority", "segment_id"], descending=[True, False])
    ids = rated["segment_id"].to_list()
    engines = (
        translations.filter(pl.col("segment_id").is_in(ids))
        .sort("system")
        .group_by("segment_id")
        .agg(pl.struct("system", "text_fr").alias("translations"))
    )
    queue = (
        rated.join(engines, on="segment_id", how="left")
        .join(previous_turn_context(warehouse, ids), on="segment_id", how="left")
        .with_columns(
            pl.int_range(1, pl.len() + 1, dtype=pl.Int32).alias("rank"),
            pl.col("system").alias("rated_system"),
            pl.col("text_fr").alias("rated_fr"),
            pl.lit(datetime.now(UTC)).alias("created_at"),
        )
    )
    queue_id = hashlib.sha256(
        "\n".join(
            f"{s}\t{t}\t{f}" for s, t, f in queue.select("segment_id", "rated_system", "rated_fr").iter_rows()
        ).encode()
    ).hexdigest()[:12]
    return queue.with_columns(pl.lit(queue_id).alias("queue_id")).select(
        [pl.col(name).cast(dtype) for name, dtype in REVIEW_QUEUE.schema.items()]
    )


def budget_curve(warehouse: Warehouse, queue: pl.DataFrame) -> pl.DataFrame:
    """Share of all segment occurrences covered by the top K queued segments, K = 1..N, beside the best
    possible K (the K most frequent segments)."""
    occurrences = warehouse.scan("segments").select("n_occurrences").collect()["n_occurrences"]
    total = float(occurrences.sum() or 0)
    top = occurrences.sort(descending=True).head(queue.height).cast(pl.Float64)
    return pl.DataFrame(
        {
            "k": pl.int_range(1, queue.height + 1, eager=True).cast(pl.Int32),
            "queue_coverage": queue["n_occurrences"].cast(pl.Float64).cum_sum() / total if total else 0.0,
            "most_frequent_coverage": top.cum_sum() / total if total else 0.0,
        }
    )
