"""The threshold sweep (the user's ablation): for each combined-score cut, the training corpus it keeps,
how good that corpus's translations are against gold, and how well a model trained on it answers.

A cut keeps every training sample whose worst segment scores at least the cut and whose translations
passed every hard gate (the tiers' rule, with the cut in place of the tier thresholds). Gold precision is
occurrence-weighted, as training consumes it: each translated segment occurrence in the kept samples
counts once, so "no" (37% of easy-vqa answers) weighs what it weighs in the loss.

The corpus is written in the platform's corpus format (llava.json, samples.parquet, manifest.json) under
`$VLMFR_HOME/sweep/cut_<cut>/`, train split only; training's `train_on_corpus` trains on it like on a
tier corpus; the model is evaluated on `easy_vqa_fr_gold`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from vlmfr_data.corpora import CORPUS_SAMPLES, with_image_token
from vlmfr_data.store import Warehouse, write_parquet_stream

log = logging.getLogger(__name__)
SWEEP_BENCHMARK = "easy_vqa_fr_gold"


def cut_key(cut: float) -> str:
    """The partition key of a cut: "0.70"."""
    return f"{cut:.2f}" if round(cut, 2) == cut else f"{cut:g}"


def sweep_dir(warehouse: Warehouse, cut: float) -> Path:
    return warehouse.home / "sweep" / f"cut_{cut_key(cut)}"


@dataclass
class CorpusCut:
    cut: float
    folder: Path
    samples: int
    share: float
    occurrences: int
    gold_precision: float | None
    gold_chrf: float | None


def _gated_segments(warehouse: Warehouse) -> pl.DataFrame:
    return warehouse.sql(
        "SELECT segment_id, system, combined, coalesce(len(gates), 0) > 0 AS gated "
        "FROM translation_quality WHERE is_best"
    )


def kept_samples(warehouse: Warehouse, cut: float, split: str = "train") -> pl.DataFrame:
    """French samples of `split` whose every segment's best translation scores >= cut with no gate."""
    best = _gated_segments(warehouse)
    pieces = (
        warehouse.scan("sample_segments")
        .filter(pl.col("split") == split)
        .select("dataset", "split", "sample_id", "segment_id")
    )
    keys = ["dataset", "split", "sample_id"]
    verdict = (
        pieces.filter(pl.col("segment_id").is_not_null())
        .join(best.lazy(), on="segment_id", how="left")
        .group_by(keys)
        .agg(
            (
                pl.col("combined").is_not_null()
                & ~pl.col("gated").fill_null(True)
                & (pl.col("combined") >= cut)
            )
            .all()
            .alias("keep")
        )
        .filter(pl.col("keep"))
        .select(keys)
    )
    return (
        warehouse.scan("french_samples")
        .filter(pl.col("split") == split)
        .join(verdict, on=keys, how="semi")
        .collect()
    )


def gold_precision(
    warehouse: Warehouse, kept: pl.DataFrame, gold_high_chrf: float
) -> tuple[int, float | None, float | None]:
    """(occurrences with gold, share gold-high, mean chrF) over translated segment occurrences in `kept`."""
    if kept.height == 0 or not warehouse.partitions("gold_pairs"):
        return 0, None, None
    keys = ["dataset", "split", "sample_id"]
    occurrences = (
        warehouse.scan("sample_segments")
        .filter(pl.col("segment_id").is_not_null())
        .join(kept.select(keys).lazy(), on=keys, how="semi")
        .select("segment_id")
        .collect()
    )
    best = _gated_segments(warehouse).select("segment_id", "system")
    gold = warehouse.read("gold_pairs").select("segment_id", "system", "chrf")
    scored = occurrences.join(best, on="segment_id").join(gold, on=["segment_id", "system"])
    if scored.height == 0:
        return 0, None, None
    return (
        scored.height,
        float((scored["chrf"] >= gold_high_chrf).mean()),
        float(scored["chrf"].mean()),
    )


def cut_corpus(warehouse: Warehouse, cut: float, gold_high_chrf: float = 60.0) -> CorpusCut:
    """Write the corpus a cut keeps (train split) and measure it."""
    kept = kept_samples(warehouse, cut)
    total = (
        warehouse.scan("french_samples").filter(pl.col("split") == "train").select(pl.len()).collect().item()
    )
    occurrences, precision, chrf = gold_precision(warehouse, kept, gold_high_chrf)
    staging = warehouse.staging_dir(f"sweep-{cut_key(cut)}")
    french = (
        with_image_token(kept).with_columns(
            pl.concat_str("dataset", "split", "sample_id", separator="/").alias("id")
        )
        if kept.height
        else pl.DataFrame(schema=CORPUS_SAMPLES.schema)
    )
    (staging / "llava.json").write_text(
        french.select("id", "image", "conversations").write_json() if kept.height else "[]", encoding="utf-8"
    )
    write_parquet_stream([french], staging / "samples.parquet", CORPUS_SAMPLES)
    manifest: dict[str, Any] = {
        "corpus": f"sweep cut {cut_key(cut)}",
        "cut": cut,
        "rule": "train split; every segment's best translation has combined >= cut and no gate",
        "samples": kept.height,
        "by_split": {"train": kept.height},
        "share_of_train": kept.height / total if total else 0.0,
        "gold": {
            "occurrences": occurrences,
            "precision": precision,
            "chrf": chrf,
            "gold_high_chrf": gold_high_chrf,
        },
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    folder = sweep_dir(warehouse, cut)
    warehouse.replace_dir(staging, folder)
    return CorpusCut(cut, folder, kept.height, manifest["share_of_train"], occurrences, precision, chrf)


def train_cut(
    warehouse: Warehouse,
    corpus: CorpusCut,
    method: str,
    steps: int,
    options: dict[str, Any],
    training: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train a model of `method` on the cut's corpus with training's own entry point.

    The finetuning recipe is the project's `[training]` one with `max_steps = steps`; `options` override
    more of its fields (e.g. `batch_size`, `max_samples`)."""
    from dataclasses import replace

    from training.config import parse_training
    from training.train import models_dir, train_on_corpus

    settings = parse_training(training)
    config = replace(settings.finetune, max_steps=steps, **options)
    started = time.perf_counter()
    report = train_on_corpus(
        warehouse,
        corpus.folder,
        method=method,
        out_dir=models_dir(warehouse) / "sweep" / f"cut_{cut_key(corpus.cut)}__{method}",
        config=config,
        method_config=settings.method(method),
        model_name=f"sweep:cut_{cut_key(corpus.cut)}__{method}",
    )
    return {
        "model_dir": str(report.model_dir),
        "final_loss": report.final_loss,
        "steps": report.steps,
        "train_seconds": report.seconds if report.seconds else time.perf_counter() - started,
    }
