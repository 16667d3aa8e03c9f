"""One rule for which samples a threshold keeps: the tier corpora, the threshold sweep and the gold
threshold ablation agree with `vlmfr_data.selection` and with each other. Built here: a toy dataset
segmented for real, each segment's chosen translation given a known combined score (and tier by the
scoring's own rule), including a gated and an untranslated segment and one below `low`."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from evaluation.sweep import cut_corpus, kept_samples, sample_scores
from vlmfr_data.catalog import SAMPLES, TRANSLATION_QUALITY
from vlmfr_data.corpora import export_corpus
from vlmfr_data.quality.french_samples import build_french_samples
from vlmfr_data.quality.gold import evaluate_against_gold, load_gold
from vlmfr_data.quality.scoring import assign_tier
from vlmfr_data.segments import build_sample_segments, build_segments
from vlmfr_data.selection import (
    ALL_KEPT,
    SAMPLE_KEYS,
    kept,
    kept_counts,
    tier_set_cut,
    warehouse_sample_scores,
)
from vlmfr_data.store import Warehouse
from vlmfr_data.tiers import TIER_SETS

THRESHOLDS = {"high": 0.88, "medium": 0.72, "low": 0.6}
# English text -> (combined score of its chosen translation, gated); a text not here is untranslated
SCORES: dict[str, tuple[float, bool]] = {
    "What color is the circle?": (0.95, False),
    "red": (0.9, False),
    "Is there a square?": (0.8, False),
    "yes": (0.95, False),
    "What shape is this?": (0.65, False),
    "triangle": (0.99, False),
    "How many circles are there?": (0.55, False),  # below `low`: rejected by tier, kept by a low cut
    "two": (0.9, False),
    "Is it blue?": (0.97, True),  # gated: never kept, whatever its score
    "no": (0.92, False),
}
# sample id -> (split, question, answer); "f"'s question has no translation
SAMPLES_: dict[str, tuple[str, str, str]] = {
    "a": ("train", "What color is the circle?", "red"),
    "b": ("train", "Is there a square?", "yes"),
    "c": ("train", "What shape is this?", "triangle"),
    "d": ("train", "How many circles are there?", "two"),
    "e": ("train", "Is it blue?", "no"),
    "f": ("train", "Where is the triangle?", "yes"),
    "g": ("test", "What color is the circle?", "red"),
    "h": ("train", "Is there a square?", "no"),
}


@pytest.fixture
def toy(tmp_path: Path, warehouse: Warehouse) -> Warehouse:
    images = tmp_path / "images"
    images.mkdir()
    rows = []
    for i, (sample_id, (split, question, answer)) in enumerate(SAMPLES_.items()):
        image = images / f"{sample_id}.png"
        Image.new("RGB", (4, 4), (i * 30, 10, 10)).save(image)
        turns = [
            {"role": "human", "kind": "question", "text": question},
            {"role": "gpt", "kind": "answer", "text": answer},
        ]
        rows.append((split, sample_id, str(image), turns))
    samples = pl.DataFrame(
        {
            "dataset": "toy",
            "split": [r[0] for r in rows],
            "sample_id": [r[1] for r in rows],
            "image": [r[2] for r in rows],
            "source_file": "toy.json",
            "n_turns": 2,
            "turns": [r[3] for r in rows],
        },
        schema=SAMPLES.schema,
    )
    warehouse.write_partition("samples", samples, partition="toy")
    build_sample_segments(warehouse, "toy")
    build_segments(warehouse)
    segments = warehouse.read("segments").select("segment_id", "text_en")
    scored = segments.filter(pl.col("text_en").is_in(list(SCORES))).with_columns(
        pl.col("text_en").replace_strict({t: s for t, (s, _) in SCORES.items()}).alias("combined"),
        pl.col("text_en").replace_strict({t: g for t, (_, g) in SCORES.items()}).alias("_gated"),
    )
    assert scored.height == len(SCORES)  # each text is one segment
    quality = scored.select(
        "segment_id",
        pl.lit("apertium").alias("system"),
        pl.lit("1").alias("system_version"),
        ("fr:" + pl.col("text_en")).alias("text_fr"),
        "combined",
        pl.lit(3, pl.Int32).alias("n_signals"),
        pl.when("_gated")
        .then(pl.lit(["wrong_language"]))
        .otherwise(pl.lit([], pl.List(pl.String)))
        .alias("gates"),
        assign_tier(pl.col("combined"), pl.col("_gated"), THRESHOLDS).alias("tier"),
        pl.lit(True).alias("is_best"),
    )
    warehouse.write_partition("translation_quality", quality.select(list(TRANSLATION_QUALITY.schema)))
    build_french_samples(warehouse, "toy")
    return warehouse


def _ids(frame: pl.DataFrame) -> list[str]:
    return sorted(frame.select(pl.concat_str(*SAMPLE_KEYS, separator="/"))[:, 0].to_list())


def _corpus_ids(folder: Path) -> list[str]:
    return sorted(r["id"] for r in json.loads((folder / "llava.json").read_text()))


def test_sample_scores_worst_segment_tier_and_eligibility(toy: Warehouse) -> None:
    scores = warehouse_sample_scores(toy).sort("sample_id")
    rows = {r["sample_id"]: r for r in scores.iter_rows(named=True)}
    assert {k: rows[k]["tier"] for k in "abcdefgh"} == {
        "a": "high", "b": "medium", "c": "low", "d": "rejected", "e": "rejected", "f": "rejected",
        "g": "high", "h": "medium",
    }  # fmt: skip
    assert rows["d"]["min_combined"] == 0.55 and rows["d"]["eligible"]  # scored, ungated: a cut may keep it
    assert not rows["e"]["eligible"] and not rows["f"]["eligible"]  # gated; untranslated
    # the stored French samples carry the same verdict
    french = toy.read("french_samples").select(*SAMPLE_KEYS, "tier", "min_combined").sort("sample_id")
    assert french.equals(scores.select(french.columns))


def test_a_tier_set_and_its_cut_keep_the_same_samples(toy: Warehouse) -> None:
    french = toy.read("french_samples")
    scores = warehouse_sample_scores(toy)
    train = sample_scores(toy)  # the sweep's scores: train split
    for tier_set in TIER_SETS:
        cut = tier_set_cut(tier_set, THRESHOLDS)
        by_tier = _ids(kept(french, tier_set=tier_set))
        assert by_tier == _ids(kept(scores, cut=cut))
        corpus = export_corpus(toy, tier_set, THRESHOLDS)
        assert _corpus_ids(corpus.folder) == by_tier
        # the sweep at the same cut writes the train part of the same corpus, in the same layout
        swept = cut_corpus(toy, cut, key=f"as_{tier_set}", scores=train)
        train_ids = [i for i in by_tier if "/train/" in i]
        assert _corpus_ids(swept.folder) == train_ids == _ids(kept_samples(toy, cut, scores=train))
        assert swept.samples == len(train_ids)
        assert (
            pl.read_parquet(swept.folder / "samples.parquet")
            .drop("image_path")
            .equals(
                pl.read_parquet(corpus.folder / "samples.parquet")
                .filter(pl.col("split") == "train")
                .drop("image_path")
            )
        )
        manifest = json.loads((swept.folder / "manifest.json").read_text())
        assert manifest["cut"] == cut and manifest["by_split"] == {"train": len(train_ids)}
        images = swept.folder / manifest["image_folder"]
        assert images.resolve() == (corpus.folder / "../images").resolve()
        assert all(
            (images / r["image"]).is_file() for r in json.loads((swept.folder / "llava.json").read_text())
        )
    # below `low` the two part: a cut keeps an eligible sample the tiers reject, never a gated one
    assert _ids(kept(train, cut=0.5)) == [
        "toy/train/a",
        "toy/train/b",
        "toy/train/c",
        "toy/train/d",
        "toy/train/h",
    ]
    assert _ids(kept(train, cut=0.5, tier_set=ALL_KEPT)) == [
        "toy/train/a",
        "toy/train/b",
        "toy/train/c",
        "toy/train/h",
    ]
    nothing = cut_corpus(toy, 1.01, scores=train)
    assert nothing.samples == 0 and json.loads((nothing.folder / "llava.json").read_text()) == []
    assert json.loads((nothing.folder / "manifest.json").read_text())["by_split"] == {"train": 0}


def test_the_gold_ablation_counts_what_the_selection_keeps(toy: Warehouse, tmp_path: Path) -> None:
    gold_csv = tmp_path / "gold.csv"
    pl.DataFrame(
        {
            "text_en": ["What color is the circle?", "red", "How many circles are there?", "Is it blue?"],
            "text_fr": [
                "fr:What color is the circle?",
                "rouge",
                "fr:How many circles are there?",
                "Est-il bleu ?",
            ],
        }
    ).write_csv(gold_csv)
    ablation = evaluate_against_gold(toy, load_gold(gold_csv))["ablation"]
    cuts = ablation["threshold"].to_list()
    french = toy.read("french_samples")
    samples = [kept(french, cut=c, tier_set=ALL_KEPT).height for c in cuts]
    assert ablation["samples"].to_list() == samples == kept_counts(french, cuts, tier_set=ALL_KEPT)
    assert (samples[0], samples[cuts.index(0.8825)], samples[-1]) == (5, 2, 0)  # a b c g h; a g; none
    # from `low` on, every kept tier is eligible: the ablation counts what the sweep's rule keeps
    scores = warehouse_sample_scores(toy)
    for cut, count in zip(cuts, samples, strict=True):
        if cut >= THRESHOLDS["low"]:
            assert count == kept(scores, cut=cut).height
    assert ablation["share_of_samples"].to_list() == [n / french.height for n in samples]
    # translations: each gold pair judged as a one-segment sample (the gated one never counts)
    pairs = toy.read("gold_pairs")
    assert ablation["translations_kept"].to_list() == kept_counts(pairs, cuts, ALL_KEPT, score="combined")
    assert (ablation["translations_kept"][0], ablation["translations_kept"][-1]) == (2, 1)
