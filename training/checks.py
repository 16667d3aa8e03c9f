"""Leak check: no evaluation (test split) sample may be in a training set.

Training reads only split 'train' rows, so a leak means a corpus or dataset mislabels a test sample; the
check compares the training rows' ids (and their `dataset/sample_id` part, whatever split they claim)
against every evaluation sample id in the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from training.data import TRAIN_SPLIT


@dataclass
class LeakReport:
    training_samples: int
    evaluation_samples: int
    leaked: list[str]

    @property
    def ok(self) -> bool:
        return not self.leaked


def evaluation_ids(warehouse: Any) -> pl.Series:
    """`dataset/sample_id` of every sample outside the train split (what evaluation scores)."""
    frame = (
        warehouse.scan("samples")
        .filter(pl.col("split") != TRAIN_SPLIT)
        .select(pl.concat_str("dataset", "sample_id", separator="/").alias("key"))
        .collect()
    )
    return frame["key"]


def training_ids(corpus_dirs: list[Path]) -> pl.Series:
    """`dataset/sample_id` of the rows training reads (split 'train') in these corpus folders."""
    frames = [
        pl.scan_parquet(Path(d) / "samples.parquet")
        .filter(pl.col("split") == TRAIN_SPLIT)
        .select(pl.concat_str("dataset", "sample_id", separator="/").alias("key"))
        for d in corpus_dirs
        if (Path(d) / "samples.parquet").exists()
    ]
    if not frames:
        return pl.Series("key", [], dtype=pl.String())
    return pl.concat(frames).unique().collect()["key"]


def check_no_test_leak(warehouse: Any, corpus_dirs: list[Path]) -> LeakReport:
    train = training_ids(corpus_dirs)
    evaluation = evaluation_ids(warehouse)
    leaked = train.filter(train.is_in(evaluation.implode())).sort().to_list()
    return LeakReport(training_samples=train.len(), evaluation_samples=evaluation.len(), leaked=leaked)
