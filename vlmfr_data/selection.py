"""Which samples a threshold keeps, defined once: the tier corpora, the threshold sweep and the gold
threshold ablation all select through `kept`.

A sample is as good as its worst segment (one bad turn spoils the conversation for training), so each
sample is summarised by `sample_scores`: its worst tier (an untranslated segment makes it `rejected`),
its worst combined score `min_combined`, and `eligible` (every segment translated, no hard gate). Two
ways to keep samples, which may be combined:

- a tier set (`high`, `high+medium`, ...): the sample's worst tier is in the set;
- a cut on the combined score: the sample is eligible and `min_combined >= cut`.

A tier set and the cut at its lowest tier's threshold keep the same samples (tiers are assigned by the
same `>=` on the same scores), so a sweep point and a tier corpus can be compared on data alone. Below
`low` they part: a cut keeps eligible samples the tiers call `rejected`, which is what a sweep explores.

Light: polars only; frames are polars (lazy or eager), no Python loop over rows.
"""

from __future__ import annotations

from typing import TypeVar

import polars as pl

from vlmfr_data.store import Warehouse
from vlmfr_data.tiers import KEPT_TIERS, REJECTED, TIER_ENUM, TIER_SETS

SAMPLE_KEYS: list[str] = ["dataset", "split", "sample_id"]
# the tier set that keeps every tier but `rejected`: a cut combined with it never keeps a rejected sample
ALL_KEPT = "+".join(KEPT_TIERS)

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def best_translations(warehouse: Warehouse, text: bool = False) -> pl.LazyFrame:
    """The chosen translation of every segment: `segment_id, system, combined, tier, gated` (and
    `text_fr` with `text`): what a sample's verdict is made of."""
    return (
        warehouse.scan("translation_quality")
        .filter(pl.col("is_best"))
        .select(
            "segment_id",
            *(["text_fr"] if text else []),
            "tier",
            "combined",
            "system",
            (pl.col("gates").list.len().fill_null(0) > 0).alias("gated"),
        )
    )


def sample_scores(pieces: pl.DataFrame | pl.LazyFrame, best: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Per sample of `pieces` (the sample -> segment map) with at least one segment: its worst `tier`,
    `min_combined`, `eligible` and the MT `systems` its segments use, from `best` (one row per segment:
    `segment_id, tier, combined, system`, optionally `gated`; a missing `gated` means no gate, as for
    gold references). A segment missing from `best` is untranslated: the sample is `rejected` and not
    eligible."""
    best = best.lazy()
    if "gated" not in best.collect_schema().names():
        best = best.with_columns(pl.lit(False).alias("gated"))
    return (
        pieces.lazy()
        .filter(pl.col("segment_id").is_not_null())
        .select(*SAMPLE_KEYS, "segment_id")
        .join(best.select("segment_id", "tier", "combined", "system", "gated"), on="segment_id", how="left")
        # the enum's order is best first, so `max` is the worst tier
        .with_columns(pl.col("tier").fill_null(REJECTED).cast(TIER_ENUM))
        .group_by(SAMPLE_KEYS)
        .agg(
            pl.col("tier").max().cast(pl.String),
            pl.col("combined").min().alias("min_combined"),
            (pl.col("combined").is_not_null() & ~pl.col("gated").fill_null(True)).all().alias("eligible"),
            pl.col("system").drop_nulls().unique().sort().alias("systems"),
        )
    )


def warehouse_sample_scores(warehouse: Warehouse, split: str | None = None) -> pl.DataFrame:
    """`sample_scores` of the warehouse's samples (of `split`, or every split), from the current best
    translations."""
    pieces = warehouse.scan("sample_segments")
    if split is not None:
        pieces = pieces.filter(pl.col("split") == split)
    return sample_scores(pieces, best_translations(warehouse)).collect()


def keep_rule(cut: float | None = None, tier_set: str | None = None, score: str = "min_combined") -> pl.Expr:
    """The one rule: True for the rows a cut and/or a tier set keep (both: both must hold).

    With a tier set, eligibility comes with the tier (a kept tier means every segment translated and
    ungated), so the rule also applies to frames with no `eligible` column (`french_samples`), and to
    single translations (`score="combined"`: a translation is a one-segment sample)."""
    if cut is None and tier_set is None:
        raise ValueError("keep_rule needs a cut, a tier set or both")
    if tier_set is not None and tier_set not in TIER_SETS:
        raise KeyError(f"unknown tier set {tier_set!r}; known: {list(TIER_SETS)}")
    conditions: list[pl.Expr] = []
    if tier_set is not None:
        conditions.append(pl.col("tier").is_in(TIER_SETS[tier_set]))
    if cut is not None:
        # `fill_null(False)`: an unscored sample is never kept, whatever the comparison says
        at_least = (pl.col(score) >= cut).fill_null(False)
        conditions.append(at_least if tier_set is not None else pl.col("eligible") & at_least)
    return pl.all_horizontal(conditions)


def kept(scores: Frame, cut: float | None = None, tier_set: str | None = None) -> Frame:
    """The rows of `scores` (`sample_scores`, or `french_samples` with a tier set) a cut and/or a tier
    set keep, in their order."""
    return scores.filter(keep_rule(cut, tier_set))


def kept_counts(
    scores: pl.DataFrame | pl.LazyFrame,
    cuts: list[float],
    tier_set: str | None = None,
    score: str = "min_combined",
) -> list[int]:
    """How many rows of `scores` each cut keeps (with `tier_set`, if given): one pass for every cut."""
    counts = (
        scores.lazy()
        .select([keep_rule(cut, tier_set, score).sum().alias(f"c{i}") for i, cut in enumerate(cuts)])
        .collect()
    )
    return [int(v or 0) for v in counts.row(0)]


def tier_set_cut(tier_set: str, thresholds: dict[str, float]) -> float:
    """The cut that keeps what `tier_set` keeps: the threshold of its lowest tier."""
    return thresholds[TIER_SETS[tier_set][-1]]
