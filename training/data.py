"""Training examples: one frame shape for every source, `id, split, image, conversations, weight`.

- English (stage 0): the warehouse `samples` table of a dataset, split 'train' only.
- French: a tier corpus folder (`samples.parquet` from `vlmfr_data.corpora`), split 'train' only; the
  weight is the sample's quality score (`min_combined`, the worst of its segments) for `qe_weighted`,
  1 otherwise.
Evaluation ids (test split) never reach a training frame; `training.checks` verifies it on the result.
Neither do dev samples (`vlmfr_data.splits`: a share of the train split's images, where runs choose
their checkpoint and settings).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import polars as pl

from vlmfr_data.splits import without_dev

IMAGE_TOKEN = "<image>"
CONVERSATION = pl.List(pl.Struct({"from": pl.String(), "value": pl.String()}))
TRAIN_SPLIT = "train"


def _with_image_token(frame: pl.DataFrame) -> pl.DataFrame:
    """`<image>\\n` before the first human turn of samples with an image and no token (the corpora's rule)."""
    turns = (
        frame.select("id", "image", "conversations")
        .with_columns(pl.int_ranges(pl.col("conversations").list.len()).alias("turn"))
        .explode("conversations", "turn")
        .unnest("conversations")
    )
    per_sample = turns.group_by("id").agg(
        pl.col("value").str.contains(IMAGE_TOKEN, literal=True).any().alias("has_token"),
        pl.col("turn").filter(pl.col("from") == "human").min().alias("first_human"),
    )
    turns = turns.join(per_sample, on="id").with_columns(
        pl.when(
            pl.col("image").is_not_null() & ~pl.col("has_token") & (pl.col("turn") == pl.col("first_human"))
        )
        .then(pl.lit(IMAGE_TOKEN + "\n") + pl.col("value"))
        .otherwise(pl.col("value"))
        .alias("value")
    )
    conversations = (
        turns.sort("id", "turn")
        .group_by("id", maintain_order=True)
        .agg(pl.struct("from", "value").alias("conversations"))
    )
    return frame.drop("conversations").join(conversations, on="id", how="left", maintain_order="left")


def english_examples(warehouse: Any, dataset: str = "easy_vqa", split: str = TRAIN_SPLIT) -> pl.DataFrame:
    """Samples of one dataset and split from the warehouse, as training examples (weight 1)."""
    frame = (
        warehouse.scan("samples")
        .filter((pl.col("dataset") == dataset) & (pl.col("split") == split))
        .select(
            pl.concat_str("dataset", "split", "sample_id", separator="/").alias("id"),
            "split",
            "image",
            pl.col("turns")
            .list.eval(
                pl.struct(
                    pl.element().struct.field("role").alias("from"),
                    pl.element().struct.field("text").alias("value"),
                )
            )
            .alias("conversations"),
        )
        .sort("id")
        .collect()
    )
    if split == TRAIN_SPLIT:
        frame = without_dev(frame)
    return _with_image_token(frame).with_columns(pl.lit(1.0).alias("weight"))


def corpus_examples(corpus_dir: str | Path, weight_by_quality: bool = False) -> pl.DataFrame:
    """The train split of a corpus folder; `weight_by_quality`: weight = the sample's quality score."""
    path = Path(corpus_dir) / "samples.parquet"
    frame = pl.read_parquet(path).filter(pl.col("split") == TRAIN_SPLIT)
    # `image` is relative to the corpus's image folder (LLaVA's --image_folder); `image_path` is the
    # placed file. A corpus without `image_path` resolves `image` through the manifest.
    if "image_path" in frame.columns:
        frame = frame.with_columns(pl.coalesce("image_path", "image").alias("image"))
    else:
        manifest = Path(corpus_dir) / "manifest.json"
        folder = json.loads(manifest.read_text()).get("image_folder") if manifest.exists() else None
        if folder:
            root = (Path(corpus_dir) / folder).resolve()
            frame = frame.with_columns(
                pl.when(pl.col("image").is_not_null())
                .then(pl.lit(f"{root}/") + pl.col("image"))
                .alias("image")
            )
    weight = (
        pl.col("min_combined").fill_null(0.0).clip(0.0, 1.0) if weight_by_quality else pl.lit(1.0)
    ).cast(pl.Float64)
    return without_dev(
        frame.select(
            "id", "split", "image", pl.col("conversations").cast(CONVERSATION), weight.alias("weight")
        )
    ).sort("id")


def subset(frame: pl.DataFrame, max_samples: int | None, seed: int) -> pl.DataFrame:
    """A seeded random subset (the demo recipe); the whole frame when `max_samples` is None or larger."""
    if max_samples is None or frame.height <= max_samples:
        return frame
    return frame.sample(n=max_samples, seed=seed).sort("id")


def frame_hash(frame: pl.DataFrame) -> str:
    """Content hash of the training rows (ids, images, texts, weights): equal corpora share runs."""
    digest = hashlib.sha256()
    for batch in frame.sort("id").iter_slices(20_000):
        digest.update(batch.select("id", "image", "conversations", "weight").write_json().encode())
    return digest.hexdigest()[:16]


def english_texts(warehouse: Any) -> list[str]:
    """Distinct English training texts (train split of every dataset) for the tokenizer."""
    turns = (
        warehouse.scan("samples")
        .filter(pl.col("split") == TRAIN_SPLIT)
        .select(pl.col("turns").list.eval(pl.element().struct.field("text")).alias("text"))
        .explode("text")
        .unique()
        .collect()
    )
    return turns["text"].drop_nulls().sort().to_list()


def french_texts() -> list[str]:
    """French shipped with the package (hand-written gold for easy-vqa) for the tokenizer."""
    from importlib.resources import files

    gold = files("vlmfr_data") / "data" / "gold_easy_vqa_fr.csv"
    return pl.read_csv(gold.read_bytes())["text_fr"].drop_nulls().sort().to_list()
