"""French samples rebuilt from the best translation of each segment, with their tier.

A sample's tier is the worst tier among its segments, and a sample with an untranslated segment is
`rejected`: `vlmfr_data.selection.sample_scores`, the verdict the sweep and the gold ablation read too.
Turn order, roles and `<image>` placement come from the sample -> segment map, so they are exactly the
source's.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import polars as pl

from vlmfr_data.catalog import FRENCH_SAMPLES
from vlmfr_data.segments import rebuild_turns
from vlmfr_data.selection import SAMPLE_KEYS, best_translations, sample_scores
from vlmfr_data.store import Warehouse
from vlmfr_data.tiers import REJECTED


def build_french_samples(warehouse: Warehouse, dataset: str, samples_per_batch: int = 200_000) -> int:
    """Rebuild `dataset`'s samples in French and write them (one partition). Returns the sample count.

    Samples are processed in hash buckets of about `samples_per_batch`, each written as it is done, so
    memory follows the bucket, not the dataset (LLaVA-665k is 665,000 samples).
    """
    best = best_translations(warehouse, text=True).collect()  # one row per distinct segment: small
    total = warehouse.scan("samples", dataset).select(pl.len()).collect().item()
    buckets = max(1, math.ceil(total / samples_per_batch))

    def bucket_frames() -> Iterator[pl.DataFrame]:
        for bucket in range(buckets):
            in_bucket = (pl.col("sample_id").hash(seed=0) % buckets) == bucket
            pieces = warehouse.scan("sample_segments", dataset).filter(in_bucket).collect()
            samples = warehouse.scan("samples", dataset).filter(in_bucket).collect()
            yield rebuild_samples(samples, pieces, best)

    return warehouse.write_partition("french_samples", bucket_frames(), partition=dataset)


def rebuild_samples(samples: pl.DataFrame, pieces: pl.DataFrame, best: pl.DataFrame) -> pl.DataFrame:
    """Samples rebuilt in French from `best` (segment_id, text_fr, tier, combined, system, optionally
    gated), with their worst tier; a segment missing from `best` makes its sample `rejected`."""
    keys = SAMPLE_KEYS
    per_sample = sample_scores(pieces, best).collect()
    french_turns = rebuild_turns(pieces, best, text_column="text_fr")
    turns = (
        samples.select(*keys, "image", "turns")
        .with_columns(pl.int_ranges(pl.col("turns").list.len()).cast(pl.List(pl.Int32)).alias("turn_index"))
        .explode("turns", "turn_index")
        .unnest("turns")
        .drop("text")
        .join(french_turns, on=[*keys, "turn_index"], how="left")
        .sort([*keys, "turn_index"])
        .group_by(keys, maintain_order=True)
        .agg(pl.col("image").first(), pl.struct("role", "kind", "text").alias("turns"))
    )
    return (
        turns.join(per_sample, on=keys, how="left")
        .with_columns(pl.col("tier").fill_null(REJECTED), pl.col("systems").fill_null([]))
        .select(list(FRENCH_SAMPLES.schema))
    )
