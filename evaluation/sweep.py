"""The threshold sweep (the user's ablation): for each combined-score cut, the training corpus it keeps,
how good that corpus's translations are against gold, and how well a model trained on it answers.

A cut keeps every training sample whose worst segment scores at least the cut and whose translations
passed every hard gate: `vlmfr_data.selection.kept`, the rule the tier corpora and the gold ablation use
(a tier set keeps what the cut at its lowest threshold keeps). Gold precision is occurrence-weighted, as
training consumes it: each translated segment occurrence in the kept samples counts once, so "no" (37% of
easy-vqa answers) weighs what it weighs in the loss.

The corpus is written by the tier corpora's writer (`vlmfr_data.corpora.write_corpus`: llava.json,
samples.parquet, manifest.json, images placed under `corpora/images`) under `$VLMFR_HOME/sweep/cut_<cut>/`,
train split only; training's `train_on_corpus` trains on it like on a tier corpus; the model is evaluated
on `easy_vqa_fr_gold`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import polars as pl

from vlmfr_data import selection
from vlmfr_data.corpora import CorpusSelection, write_corpus
from vlmfr_data.selection import SAMPLE_KEYS
from vlmfr_data.store import Warehouse

if TYPE_CHECKING:
    from training.config import TrainingSettings

log = logging.getLogger(__name__)
SWEEP_BENCHMARK = "easy_vqa_fr_gold"


def cut_key(cut: float) -> str:
    """The partition key of a cut: "0.70"."""
    return f"{cut:.2f}" if round(cut, 2) == cut else f"{cut:g}"


def sweep_dir(warehouse: Warehouse, cut: float | str) -> Path:
    return warehouse.home / "sweep" / f"cut_{cut if isinstance(cut, str) else cut_key(cut)}"


@dataclass
class CorpusCut:
    cut: float
    folder: Path
    samples: int
    share: float
    occurrences: int
    gold_precision: float | None
    gold_chrf: float | None


def sample_scores(warehouse: Warehouse, split: str = "train") -> pl.DataFrame:
    """Per French sample of `split`: its worst segment's combined score (`min_combined`), whether it can
    be kept at all (`eligible`: every segment translated and no gate) and its worst `tier`: what every
    cut reads (`vlmfr_data.selection.sample_scores` over the current best translations)."""
    return selection.warehouse_sample_scores(warehouse, split)


def kept_samples(
    warehouse: Warehouse, cut: float, split: str = "train", scores: pl.DataFrame | None = None
) -> pl.DataFrame:
    """French samples of `split` whose every segment's best translation scores >= cut with no gate
    (`scores`: `sample_scores` of that split, when the caller has them already)."""
    verdict = selection.kept(sample_scores(warehouse, split) if scores is None else scores, cut=cut)
    return (
        warehouse.scan("french_samples")
        .filter(pl.col("split") == split)
        .join(verdict.select(SAMPLE_KEYS).lazy(), on=SAMPLE_KEYS, how="semi")
        .collect()
    )


AUTO_PREFIX = "q"


def sweep_keys(cuts: list[float] | None, points: int) -> list[str]:
    """Partition keys of the sweep: the configured cuts ("0.85"), or `points` quantile levels of the
    samples' scores ("q000" keeps every eligible sample ... "q100" only the best-scored ones)."""
    if cuts:
        return [cut_key(c) for c in cuts]
    if points < 2:
        raise ValueError(f"[evaluation] sweep_points must be >= 2 (keep-all and the strictest), not {points}")
    return [f"{AUTO_PREFIX}{round(100 * i / (points - 1)):03d}" for i in range(points)]


def resolve_cut(warehouse: Warehouse, key: str, scores: pl.DataFrame | None = None) -> float:
    """The combined-score cut of a sweep key: the number itself, or for a quantile level the lowest
    score among the best (100 - level)% of eligible training samples (level 0: keep all, cut 0)."""
    if not key.startswith(AUTO_PREFIX):
        return float(key)
    level = int(key.removeprefix(AUTO_PREFIX)) / 100
    if level == 0:
        return 0.0
    scores = sample_scores(warehouse) if scores is None else scores
    eligible = scores.filter(pl.col("eligible"))["min_combined"].drop_nulls()
    if eligible.len() == 0:
        return 0.0
    # exact, not rounded: a rounded-up strictest cut would keep nothing
    return float(cast(float, eligible.quantile(level, interpolation="lower")))  # non-empty: a number


def gold_precision(
    warehouse: Warehouse, kept: pl.DataFrame, gold_high_chrf: float
) -> tuple[int, float | None, float | None]:
    """(occurrences with gold, share gold-high, mean chrF) over translated segment occurrences in `kept`."""
    if kept.height == 0 or not warehouse.partitions("gold_pairs"):
        return 0, None, None
    occurrences = (
        warehouse.scan("sample_segments")
        .filter(pl.col("segment_id").is_not_null())
        .join(kept.select(SAMPLE_KEYS).lazy(), on=SAMPLE_KEYS, how="semi")
        .select("segment_id")
        .collect()
    )
    best = selection.best_translations(warehouse).select("segment_id", "system").collect()
    gold = warehouse.read("gold_pairs").select("segment_id", "system", "chrf")
    scored = occurrences.join(best, on="segment_id").join(gold, on=["segment_id", "system"])
    if scored.height == 0:
        return 0, None, None
    return (
        scored.height,
        # polars types a reduction as any literal; over a non-empty float column it is a float
        float(cast(float, (scored["chrf"] >= gold_high_chrf).mean())),
        float(cast(float, scored["chrf"].mean())),
    )


def cut_corpus(
    warehouse: Warehouse,
    cut: float,
    gold_high_chrf: float = 60.0,
    key: str | None = None,
    scores: pl.DataFrame | None = None,
) -> CorpusCut:
    """Write the corpus a cut keeps (train split) and measure it (folder named by `key`, else the cut;
    `scores`: the train split's `sample_scores`, when the caller has them already)."""
    scores = sample_scores(warehouse) if scores is None else scores
    train = warehouse.scan("french_samples").filter(pl.col("split") == "train").select(SAMPLE_KEYS)
    # `kept_samples`' rows without their turns: the corpus writer streams those
    verdict = selection.kept(scores, cut=cut).select(SAMPLE_KEYS)
    kept = train.join(verdict.lazy(), on=SAMPLE_KEYS, how="semi").collect()
    total = train.select(pl.len()).collect().item()
    occurrences, precision, chrf = gold_precision(warehouse, kept, gold_high_chrf)
    key = key or cut_key(cut)
    share = kept.height / total if total else 0.0
    report = write_corpus(
        warehouse,
        CorpusSelection(
            name=f"sweep {key} (cut {cut:g})",
            folder=sweep_dir(warehouse, key),
            # the same verdict as `kept` above, applied batch by batch as the corpus streams
            keep=lambda batch: batch.join(kept, on=SAMPLE_KEYS, how="semi", maintain_order="left"),
            rule="train split; every segment's best translation has combined >= cut and no gate",
            splits=["train"],
            extra={
                "cut": cut,
                "share_of_train": share,
                "gold": {
                    "occurrences": occurrences,
                    "precision": precision,
                    "chrf": chrf,
                    "gold_high_chrf": gold_high_chrf,
                },
            },
        ),
    )
    return CorpusCut(cut, report.folder, report.samples, share, occurrences, precision, chrf)


def train_cut(
    warehouse: Warehouse,
    corpus: CorpusCut,
    method: str,
    seed: int,
    training: TrainingSettings | None = None,
    options: dict[str, Any] | None = None,
    dev: Any = None,
) -> dict[str, Any]:
    """Train one seed's model of `method` on the cut's corpus with exactly the tier models' recipe
    (`[training]` finetune, its example budget), so cuts and tier sets compare on data alone.

    The model lives under `models/runs/<run id>`: two cuts that keep the same samples share one model.
    `dev` (training.dev.DevSet): the checkpoint is chosen there, as for the tier models.
    `options` override more TrainConfig fields (every cut alike)."""
    from dataclasses import replace

    from training.config import training_settings
    from training.train import finetune_config, train_on_corpus

    settings = training if training is not None else training_settings()
    config = replace(finetune_config(settings, seed=seed), **(options or {}))
    started = time.perf_counter()
    report = train_on_corpus(
        warehouse,
        corpus.folder,
        method=method,
        config=config,
        method_config=settings.method(method),
        model_name=f"sweep:{corpus.folder.name}__{method}__seed{seed}",
        dev=dev,
    )
    return {
        "model_dir": str(report.model_dir),
        "final_loss": report.final_loss,
        "steps": report.steps,
        "train_seconds": report.seconds if report.seconds else time.perf_counter() - started,
    }
