"""The development split: a fixed share of the train split's images, held out of every training run.

Everything a run chooses (its checkpoint, the English VLM's settings, any learning rate) is chosen on
these samples, never on the test split. The rule reads only the dataset name and the image file name, so
the warehouse samples, the tier corpora and the gold corpus (whose image paths differ) agree on it, and
so do runs on other machines: md5 is stable where Python's and polars' hashes are not. Holding out by
image keeps every question about a dev image out of training, not only the dev questions.
"""

from __future__ import annotations

import hashlib
import os

import polars as pl

DEV_SPLIT = "dev"
DEV_SHARE = 0.05  # of the train split's images ($VLMFR_DEV_SHARE overrides it, for every stage at once)
_BUCKETS = 10_000


def dev_share() -> float:
    """The held-out share: one value for every stage of a process, so corpora and benchmarks agree."""
    value = os.environ.get("VLMFR_DEV_SHARE")
    if value is None:
        return DEV_SHARE
    share = float(value)
    if not 0.0 <= share < 1.0:
        raise ValueError(f"VLMFR_DEV_SHARE must be in [0, 1), not {value!r}")
    return share


def _bucket(keys: pl.Series) -> pl.Series:
    """md5 bucket of each distinct "dataset/image name" (computed once per distinct image)."""
    distinct = keys.drop_nulls().unique()
    table = {
        key: int(hashlib.md5(key.encode("utf-8")).hexdigest()[:8], 16) % _BUCKETS
        for key in distinct.to_list()
    }
    return keys.replace_strict(table, default=None, return_dtype=pl.Int64)


def is_dev(dataset: pl.Expr, image: pl.Expr, share: float | None = None) -> pl.Expr:
    """True for samples of a train split whose image falls in the held-out share (null image: False)."""
    key = pl.concat_str(dataset, image.str.split("/").list.last(), separator="/")
    bucket = key.map_batches(_bucket, return_dtype=pl.Int64)
    share = dev_share() if share is None else share
    return (bucket < round(share * _BUCKETS)).fill_null(False)


def without_dev(frame: pl.DataFrame, share: float | None = None) -> pl.DataFrame:
    """A training frame (`id` = dataset/split/sample_id, `image`) without its dev samples."""
    dataset = pl.col("id").str.split("/").list.first()
    return frame.filter(~is_dev(dataset, pl.col("image"), share))
