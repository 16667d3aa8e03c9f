"""The dev sets training chooses on, built from the dev benchmarks (held-out train images; never test).

`dev_set("easy_vqa_fr_gold_dev")` is what every French run (tier models, gold ceiling, sweep cuts) is
chosen on; `dev_set("easy_vqa_en_dev")` the English VLM. `limit` evenly spaced items keep each
evaluation under a second on 2 cores.
"""

from __future__ import annotations

import polars as pl

from training.dev import DevSet
from vlmfr_data.store import Warehouse

FRENCH_DEV = "easy_vqa_fr_gold_dev"
ENGLISH_DEV = "easy_vqa_en_dev"


def dev_items(warehouse: Warehouse, benchmark: str, limit: int = 1000) -> pl.DataFrame:
    from evaluation.benchmarks import BENCHMARKS
    from evaluation.run import evenly_spaced

    return evenly_spaced(BENCHMARKS.create(benchmark).items(warehouse), limit)


def dev_set(
    warehouse: Warehouse, benchmark: str = FRENCH_DEV, limit: int = 1000, every: int = 20
) -> DevSet | None:
    """The dev set of `benchmark`, or None when the warehouse has no dev samples for it."""
    from evaluation.benchmarks import BENCHMARKS

    try:
        items = dev_items(warehouse, benchmark, limit)
    except ValueError:  # no samples of the dataset's train split here
        return None
    if items.height == 0:
        return None
    bench = BENCHMARKS.create(benchmark)
    normalize = bench.normalize
    references = [normalize(a) for a in items["answer"].to_list()]

    def score(answers: list[str]) -> float:
        return sum(normalize(a) == r for a, r in zip(answers, references, strict=True)) / len(references)

    return DevSet(
        name=benchmark,
        item_ids=items["item_id"].to_list(),
        images=items["image"].to_list(),
        questions=items["question"].to_list(),
        score=score,
        every=every,
        version=bench.version(items),
    )
