"""Corpus export: caption instructions, image placement under corpora/images, manifest; fixtures built here."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from vlmfr_data.catalog import FRENCH_SAMPLES, SAMPLES, TRANSLATION_QUALITY
from vlmfr_data.corpora import (
    FRENCH_BRIEF_DESCRIPTION_INSTRUCTIONS,
    export_corpus,
    llava_conversations,
)
from vlmfr_data.store import Warehouse

THRESHOLDS = {"high": 0.82, "medium": 0.72, "low": 0.6}


def _turn(role: str, kind: str, text: str) -> dict[str, str]:
    return {"role": role, "kind": kind, "text": text}


def _fill(warehouse: Warehouse, source: Path) -> None:
    """Two datasets like the real ones: COCO captions (one gpt turn) and VQA (question, answer), their
    images inside a fake site-packages folder, with the same file name in two splits."""
    for split in ("train", "test"):
        (source / split / "images").mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (4, 4), (i * 80, 10, 10)).save(source / split / "images" / f"{i}.png")
    coco = pl.DataFrame(
        {
            "dataset": "coco",
            "split": "train",
            "sample_id": [str(n) for n in range(40)],
            "image": [str(source / "train" / "images" / f"{n % 3}.png") for n in range(40)],
            "turns": [[_turn("gpt", "caption", f"Un chat numéro {n}.")] for n in range(40)],
            "tier": "high",
            "min_combined": 0.9,
            "systems": [["apertium"]] * 40,
        },
        schema=FRENCH_SAMPLES.schema,
    )
    vqa = pl.DataFrame(
        {
            "dataset": "vqa",
            "split": ["train", "test", "train"],
            "sample_id": ["q1", "q2", "q3"],
            "image": [str(source / "train/images/0.png"), str(source / "test/images/0.png"), None],
            "turns": [
                [_turn("human", "question", "De quelle couleur ?"), _turn("gpt", "answer", "rouge")],
                [_turn("human", "question", "<image>\nQuelle forme ?"), _turn("gpt", "answer", "cercle")],
                [_turn("human", "question", "Bonjour ?"), _turn("gpt", "answer", "Bonjour.")],
            ],
            "tier": ["high", "medium", "high"],
            "min_combined": [0.9, 0.75, 0.95],
            "systems": [["apertium"]] * 3,
        },
        schema=FRENCH_SAMPLES.schema,
    )
    for frame in (coco, vqa):
        dataset = frame["dataset"][0]
        warehouse.write_partition("french_samples", frame, partition=dataset)
        english = frame.select(
            "dataset",
            "split",
            "sample_id",
            "image",
            pl.lit("fixture.json").alias("source_file"),
            pl.col("turns").list.len().cast(pl.Int32).alias("n_turns"),
            "turns",
        )
        warehouse.write_partition("samples", english.select(list(SAMPLES.schema)), partition=dataset)
    warehouse.write_partition(
        "translation_quality",
        pl.DataFrame(
            {
                "segment_id": ["s"],
                "system": ["apertium"],
                "system_version": ["3.8"],
                "text_fr": ["x"],
                "combined": [0.9],
                "n_signals": [3],
                "gates": [[]],
                "tier": ["high"],
                "is_best": [True],
            },
            schema=TRANSLATION_QUALITY.schema,
        ),
    )


def _instruction(sample_id: str) -> str:
    """The documented rule, recomputed here with hashlib."""
    index = int(hashlib.md5(sample_id.encode()).hexdigest()[:8], 16) % len(
        FRENCH_BRIEF_DESCRIPTION_INSTRUCTIONS
    )
    return FRENCH_BRIEF_DESCRIPTION_INSTRUCTIONS[index]


def test_caption_samples_get_a_french_instruction_turn(tmp_path: Path, warehouse: Warehouse) -> None:
    _fill(warehouse, tmp_path / "site-packages" / "pkg")
    corpus = export_corpus(warehouse, "high", THRESHOLDS, batch_rows=7)
    records = {r["id"]: r for r in json.loads((corpus.folder / "llava.json").read_text())}
    caption = records["coco/train/5"]
    assert caption["conversations"] == [
        {"from": "human", "value": "<image>\n" + _instruction("coco/train/5")},
        {"from": "gpt", "value": "Un chat numéro 5."},
    ]
    captions = [r for r in records.values() if r["id"].startswith("coco/")]
    assert all(r["conversations"][0]["value"] == "<image>\n" + _instruction(r["id"]) for r in captions)
    chosen = {r["conversations"][0]["value"] for r in captions}
    assert len(chosen) >= 5  # 40 ids spread over the list, not one fixed prompt
    # samples that have a human turn are not given an instruction: the token goes before the question
    assert records["vqa/train/q1"]["conversations"][0] == {
        "from": "human",
        "value": "<image>\nDe quelle couleur ?",
    }
    assert records["vqa/train/q3"]["conversations"][0] == {"from": "human", "value": "Bonjour ?"}  # no image
    manifest = json.loads((corpus.folder / "manifest.json").read_text())
    assert manifest["caption_instructions"]["samples"] == 40
    assert manifest["caption_instructions"]["instructions"] == list(FRENCH_BRIEF_DESCRIPTION_INSTRUCTIONS)
    # the same sample gets the same instruction in any batch and in a frame of its own
    alone = llava_conversations(warehouse.read("french_samples", "coco").filter(pl.col("sample_id") == "5"))
    assert alone["conversations"][0][0]["value"] == caption["conversations"][0]["value"]


def test_caption_without_image_gets_the_instruction_without_token() -> None:
    frame = pl.DataFrame(
        {
            "dataset": ["d"],
            "split": ["s"],
            "sample_id": ["1"],
            "image": [None],
            "turns": [[_turn("gpt", "caption", "Un chien.")]],
        },
        schema={k: FRENCH_SAMPLES.schema[k] for k in ("dataset", "split", "sample_id", "image", "turns")},
    )
    conversation = llava_conversations(frame)["conversations"].to_list()[0]
    assert conversation == [
        {"from": "human", "value": _instruction("d/s/1")},
        {"from": "gpt", "value": "Un chien."},
    ]


def test_corpus_images_survive_the_source_folder_and_are_placed_once(
    tmp_path: Path, warehouse: Warehouse
) -> None:
    source = tmp_path / "venv" / "site-packages" / "pkg"
    _fill(warehouse, source)
    first = export_corpus(warehouse, "high", THRESHOLDS)
    wider = export_corpus(warehouse, "high+medium", THRESHOLDS, batch_rows=2)
    manifest = json.loads((wider.folder / "manifest.json").read_text())
    image_folder = wider.folder / manifest["image_folder"]
    assert manifest["image_folder"] == "../images"
    assert Path(manifest["image_folder_absolute"]) == image_folder.resolve()
    records = json.loads((wider.folder / "llava.json").read_text())
    with_image = [r for r in records if r["image"] is not None]
    # relative to the image root of the dataset: train/ and test/ keep their own 0.png
    assert {r["id"]: r["image"] for r in with_image if r["id"].startswith("vqa/")} == {
        "vqa/train/q1": "vqa/train/images/0.png",
        "vqa/test/q2": "vqa/test/images/0.png",
    }
    assert all(not Path(r["image"]).is_absolute() for r in with_image)
    table = pl.read_parquet(wider.folder / "samples.parquet")
    assert (
        table.filter(pl.col("image").is_not_null())
        .select((pl.lit(str(image_folder.resolve()) + "/") + pl.col("image") == pl.col("image_path")).all())
        .item()
    )
    # coco's images all lie in train/images: that folder is its root
    assert {r["image"] for r in with_image if r["id"].startswith("coco/")} == {
        "coco/0.png",
        "coco/1.png",
        "coco/2.png",
    }
    # the first export placed 3 coco + 1 vqa image; the second added only the vqa test image
    first_counts = json.loads((first.folder / "manifest.json").read_text())["images"]
    assert first_counts["linked"] + first_counts["copied"] == 4
    assert manifest["images"]["linked"] + manifest["images"]["copied"] == 1
    assert manifest["images"]["already_present"] == 4
    inode = (image_folder / "coco/1.png").stat().st_ino

    shutil.rmtree(tmp_path / "venv")  # `make clean`
    assert all((image_folder / r["image"]).exists() for r in with_image)
    Image.open(image_folder / "vqa/test/images/0.png").verify()
    again = export_corpus(warehouse, "high+medium", THRESHOLDS)  # idempotent, and the sources are gone
    counts = json.loads((again.folder / "manifest.json").read_text())["images"]
    assert counts == {"linked": 0, "copied": 0, "already_present": 5, "missing": 0, "samples_dropped": 0}
    assert again.samples == wider.samples == 43
    assert (image_folder / "coco/1.png").stat().st_ino == inode


def test_images_are_copied_when_links_fail_and_lost_images_drop_their_samples(
    tmp_path: Path, warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "pkg"
    _fill(warehouse, source)

    def cross_device(src: str, dst: str) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    (source / "test" / "images" / "0.png").unlink()  # gone before the first export
    corpus = export_corpus(warehouse, "high+medium", THRESHOLDS)
    manifest = json.loads((corpus.folder / "manifest.json").read_text())
    assert manifest["images"] == {
        "linked": 0,
        "copied": 4,
        "already_present": 0,
        "missing": 1,
        "samples_dropped": 1,
    }
    assert corpus.samples == 42 and "vqa/test/q2" not in (corpus.folder / "llava.json").read_text()
    copy = Path(manifest["image_folder_absolute"]) / "coco/2.png"
    assert copy.read_bytes() == (source / "train/images/2.png").read_bytes()
    assert copy.stat().st_ino != (source / "train/images/2.png").stat().st_ino
    assert not list(copy.parent.glob(".*.part"))  # no temporary file left behind
