"""Weights of the combined score, calibrated on both shipped gold sets together (never on one alone).

    VLMFR_HOME=/path/to/home .venv/bin/python perf/calibrate.py [--top 8]

Needs a home where `score` and `evaluate_gold` ran (the demo's). For each point of a small grid over
the weights of the meaning and agreement signals it re-ranks the translations from the stored scores
(`rank_translations`, nothing is written) and measures, per gold set:
- easy-vqa: the share of answer and question occurrences whose chosen translation is gold-high;
- captions: the corpus chrF of the chosen translations;
- the combined score's Spearman with sentence chrF within each engine (the weakest engine is reported).
The objective is the mean of the easy-vqa share and the caption chrF / 100. Per setting it also gives
the lowest `high` cut (the most data kept) at which the chosen translations above it reach a gold
precision of 0.95 per occurrence over both sets together (what training on `high` sees), and the share
of gold occurrences that cut keeps. The two sets are development data: these figures are optimistic.
"""

from __future__ import annotations

import argparse
import itertools
from typing import cast

import polars as pl
from sacrebleu.metrics.chrf import CHRF
from scipy.stats import spearmanr

from vlmfr_data.config import load_config
from vlmfr_data.quality.config import QualityConfig
from vlmfr_data.quality.scoring import rank_translations
from vlmfr_data.store import Warehouse

GRID = {
    "consensus": [0.0, 1.5, 3.0, 4.5],
    "use_similarity": [1.0, 2.0, 3.0],
    "round_trip_chrf": [1.0, 2.0, 3.0],
    "engine_unknown_words": [0.0, 2.0],
    "french_lexicon": [0.75, 1.5],
}
# Opt-in signals join the grid when the home scored them (their weight 0 means "left out").
OPT_IN_GRID = {"translation_likelihood": [0.0, 1.0, 2.0, 4.0]}
PRECISION = 0.95


def int_sum(series: pl.Series) -> int:
    """The sum of an integer column (polars types any Series sum as int | float | Decimal)."""
    return cast(int, series.sum())


def measure(quality: pl.DataFrame, gold: pl.DataFrame) -> dict[str, float | None]:
    joined = gold.join(
        quality.select("segment_id", "system", "combined", "is_best"), on=["segment_id", "system"]
    )
    chosen = joined.filter("is_best")
    vqa = chosen.filter(pl.col("gold_set") == "easy_vqa")
    captions = chosen.filter(pl.col("gold_set") == "captions_dev")
    share = float(
        int_sum(vqa["gold_high"].cast(pl.Int64) * vqa["n_occurrences"]) / int_sum(vqa["n_occurrences"])
    )
    chrf = (
        CHRF()
        .corpus_score(captions["text_fr"].fill_null("").to_list(), [captions["reference"].to_list()])
        .score
    )
    within = []
    for (_, _), group in joined.drop_nulls("combined").group_by("gold_set", "system"):
        if group["combined"].n_unique() > 1:
            # scipy builds its result tuple at run time: pyright cannot type its fields
            within.append(float(cast(float, spearmanr(group["combined"], group["chrf"])[0])))
    cut, kept = lowest_cut(chosen)
    return {
        "vqa_gold_high_occ": share,
        "captions_chrf": chrf,
        "min_within_spearman": min(within),
        "high_cut": cut,
        "high_occ_kept": kept,
        "objective": (share + chrf / 100) / 2,
    }


def lowest_cut(chosen: pl.DataFrame) -> tuple[float | None, float]:
    """The lowest cut whose kept chosen translations reach PRECISION per occurrence, and the share of
    occurrences it keeps (None, 0.0 when no cut does)."""
    weight = chosen["n_occurrences"].fill_null(0)
    for cut in [round(0.5 + 0.01 * i, 2) for i in range(50)]:
        keep = chosen["combined"].fill_null(-1.0) >= cut
        kept = int_sum(weight * keep.cast(pl.Int64))
        if (
            kept
            and int_sum(chosen["gold_high"].cast(pl.Int64) * weight * keep.cast(pl.Int64)) / kept >= PRECISION
        ):
            return cut, float(kept / int_sum(weight))
    return None, 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    warehouse = Warehouse()
    base = load_config().quality
    gold = warehouse.read("gold_pairs").select(
        "gold_set", "segment_id", "system", "text_fr", "reference", "chrf", "gold_high", "n_occurrences"
    )
    scored = set(warehouse.read("quality_signals").filter(pl.col("status") == "ok")["signal"].to_list())
    grid = {**GRID, **{name: values for name, values in OPT_IN_GRID.items() if name in scored}}
    rows = []
    for values in itertools.product(*grid.values()):
        weights = {**base.weights, **dict(zip(grid, values, strict=True))}
        config = QualityConfig(signals=base.signals, weights=weights, thresholds=base.thresholds)
        rows.append(
            {**dict(zip(grid, values, strict=True)), **measure(rank_translations(warehouse, config), gold)}
        )
    table = pl.DataFrame(rows).sort("objective", descending=True)
    default = table.filter(*(pl.col(k) == base.weights.get(k, 0.0) for k in grid))
    with pl.Config(tbl_rows=args.top + 2, tbl_cols=20, tbl_width_chars=200):
        print(
            f"{len(rows)} weight settings; the default:\n{default}\nbest {args.top}:\n{table.head(args.top)}"
        )


if __name__ == "__main__":
    main()
