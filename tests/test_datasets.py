"""Every loader on small fixtures, the bad inputs, and quarantine."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.conftest import write_json
from vlmfr_data.config import DatasetConfig
from vlmfr_data.ingest import ingest_dataset, iter_samples
from vlmfr_data.store import Warehouse

LLAVA_RECORDS = [
    {
        "id": "s1",
        "image": "a.png",
        "conversations": [
            {"from": "human", "value": "<image>\nWhat is in the picture?"},
            {"from": "gpt", "value": "A red square on a 3 x 3 grid."},
            {"from": "human", "value": "And   its colour?"},
            {"from": "gpt", "value": "Red."},
        ],
    },
    {
        "id": "s2",
        "image": "b.png",
        "conversations": [
            {"from": "user", "value": "Describe <image> briefly, see https://example.org/x."},
            {"from": "assistant", "value": "A square."},
        ],
    },
]


def collect(config: DatasetConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    parts = list(iter_samples(config, batch_records=2))
    return pl.concat([p[0] for p in parts]), pl.concat([p[1] for p in parts])


def test_llava_json_loads_turns_in_order(tmp_path: Path, images: Path) -> None:
    path = write_json(tmp_path / "llava.json", LLAVA_RECORDS)
    samples, quarantine = collect(
        DatasetConfig("toy", "llava", {"json": str(path), "image_root": str(images)})
    )
    assert quarantine.height == 0
    assert samples["sample_id"].to_list() == ["s1", "s2"]
    s1 = samples.filter(pl.col("sample_id") == "s1").row(0, named=True)
    assert [t["role"] for t in s1["turns"]] == ["human", "gpt", "human", "gpt"]
    assert [t["kind"] for t in s1["turns"]] == ["question", "answer", "question", "answer"]
    assert s1["turns"][0]["text"] == "<image>\nWhat is in the picture?"
    assert s1["image"] == str((images / "a.png").resolve())
    # user/assistant aliases map to the LLaVA roles
    s2 = samples.filter(pl.col("sample_id") == "s2").row(0, named=True)
    assert [t["role"] for t in s2["turns"]] == ["human", "gpt"]


def test_llava_jsonl_and_split_placeholder(tmp_path: Path, images: Path) -> None:
    import json

    (tmp_path / "conv_val.jsonl").write_text("\n".join(json.dumps(r) for r in LLAVA_RECORDS) + "\n")
    cfg = DatasetConfig(
        "toy",
        "llava",
        {"json": str(tmp_path / "conv_{split}.jsonl"), "image_root": str(images)},
        splits=["val"],
    )
    samples, quarantine = collect(cfg)
    assert samples.height == 2 and quarantine.height == 0
    assert set(samples["split"]) == {"val"}


def test_coco_captions(tmp_path: Path, images: Path) -> None:
    path = write_json(
        tmp_path / "captions.json",
        {
            "images": [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "b.png"}],
            "annotations": [
                {"id": 10, "image_id": 1, "caption": "A red square."},
                {"id": 11, "image_id": 2, "caption": "Two shapes side by side."},
                {"id": 12, "image_id": 99, "caption": "Orphan caption."},
            ],
        },
    )
    samples, quarantine = collect(
        DatasetConfig("coco", "coco_captions", {"annotations": str(path), "image_root": str(images)})
    )
    assert samples["sample_id"].to_list() == ["10", "11"]
    assert samples["turns"].to_list()[0] == [{"role": "gpt", "kind": "caption", "text": "A red square."}]
    assert quarantine.select("record", "field").rows() == [("annotations[2] (id=12)", "image_id")]


def test_vqav2(tmp_path: Path, images: Path) -> None:
    q = write_json(
        tmp_path / "q.json",
        {
            "questions": [
                {"question_id": 100, "image_id": 1, "question": "What color is the square?"},
                {"question_id": 101, "image_id": 2, "question": "How many shapes?"},
                {"question_id": 102, "image_id": 3, "question": "Unanswered?"},
            ]
        },
    )
    a = write_json(
        tmp_path / "a.json",
        {
            "annotations": [
                {"question_id": 100, "image_id": 1, "multiple_choice_answer": "red"},
                {"question_id": 101, "image_id": 2, "multiple_choice_answer": "2"},
            ]
        },
    )
    for i, name in ((1, "a.png"), (2, "b.png")):
        (images / f"img_{i}.png").write_bytes((images / name).read_bytes())
    cfg = DatasetConfig(
        "vqa",
        "vqav2",
        {
            "questions": str(q),
            "annotations": str(a),
            "image_root": str(images),
            "image_pattern": "img_{image_id}.png",
        },
        splits=["val"],
    )
    samples, quarantine = collect(cfg)
    assert samples["sample_id"].to_list() == ["100", "101"]
    assert [t["text"] for t in samples["turns"].to_list()[1]] == ["How many shapes?", "2"]
    assert quarantine["field"].to_list() == ["annotations"]
    assert "question_id=102" in quarantine["record"][0]


def test_easy_vqa_default_dataset() -> None:
    samples, quarantine = collect(DatasetConfig("easy_vqa", "easy_vqa", splits=["test"], limit=5))
    assert samples.height == 5 and quarantine.height == 0
    turns = samples["turns"].to_list()[0]
    assert [t["kind"] for t in turns] == ["question", "answer"]
    assert Path(samples["image"][0]).exists()


def test_bad_records_are_quarantined_and_the_rest_loads(
    tmp_path: Path, images: Path, warehouse: Warehouse
) -> None:
    records = [
        {
            "id": "ok1",
            "image": "a.png",
            "conversations": [{"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "Yes."}],
        },
        {"id": "noimg", "image": "missing.png", "conversations": [{"from": "human", "value": "Q?"}]},
        {"id": "empty", "image": "a.png", "conversations": [{"from": "human", "value": "   "}]},
        {"id": "role", "image": "a.png", "conversations": [{"from": "robot", "value": "beep"}]},
        {"id": "ok1", "image": "b.png", "conversations": [{"from": "human", "value": "Dup?"}]},
        {"image": "a.png", "conversations": [{"from": "human", "value": "No id?"}]},
        {"id": "noconv", "image": "a.png"},
    ]
    good = write_json(tmp_path / "good.json", records)
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": "x", "conversations": [}]')
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(
        b'{"id": "l1", "image": "a.png", "conversations": [{"from": "human", "value": "caf\xe9?"}]}\n'
        b'{"id": "l2", "image": "c.png", "conversations": [{"from": "human", "value": "fine?"}]}\n'
        b'{"id": "l3", "conversations": [\n'
    )
    cfg = DatasetConfig("bad", "llava", {"json": f"{good},{broken},{latin1}", "image_root": str(images)})
    report = ingest_dataset(warehouse, cfg, batch_records=3)
    samples = warehouse.read("samples")
    assert sorted(samples["sample_id"]) == ["l2", "ok1"]
    q = warehouse.sql(
        "SELECT source_file, record, field, reason FROM quarantine ORDER BY source_file, record"
    )
    by_field = {(Path(r["source_file"]).name, r["field"]): r for r in q.iter_rows(named=True)}
    assert "image file not found" in by_field[("good.json", "image")]["reason"]
    assert "noimg" in by_field[("good.json", "image")]["record"]
    assert by_field[("good.json", "conversations[0].value")]["reason"] == "turn has no text"
    assert "unknown role 'robot'" in by_field[("good.json", "conversations[0].from")]["reason"]
    dup = q.filter(pl.col("reason").str.contains("duplicate sample id ok1"))
    assert dup.height == 1 and "#4" in dup["record"][0]
    assert "missing or empty 'conversations'" in by_field[("good.json", "conversations")]["reason"]
    assert q.filter(pl.col("reason").str.contains("record has no id")).height == 1
    assert by_field[("broken.json", "<file>")]["reason"].startswith("malformed JSON at line 1 column")
    bad_utf8 = by_field[("latin1.jsonl", "conversations")]
    assert "not valid UTF-8" in bad_utf8["reason"] and "l1" in bad_utf8["record"]
    assert "line 3" in by_field[("latin1.jsonl", "<record>")]["record"]
    assert report.samples == 2 and report.quarantined == q.select("source_file", "record").n_unique()


def test_unknown_format_and_missing_path_are_clear_errors() -> None:
    with pytest.raises(KeyError, match="unknown dataset format 'parquetz'; known: coco_captions, easy_vqa"):
        list(iter_samples(DatasetConfig("x", "parquetz")))
    with pytest.raises(ValueError, match="needs paths.json"):
        list(iter_samples(DatasetConfig("x", "llava")))


def test_non_string_values_say_what_they_are(tmp_path: Path, images: Path) -> None:
    records = [
        {"id": "num", "image": "a.png", "conversations": [{"from": "human", "value": 3}]},
        {
            "id": "mixed",
            "image": "a.png",
            "conversations": [
                {"from": "human", "value": ["What?"]},
                {"from": "gpt", "value": True},
                {"from": "human", "value": {"text": "x"}},
            ],
        },
        {"id": "imgnum", "image": 7, "conversations": [{"from": "human", "value": "Q?"}]},
        {"id": "null", "image": "a.png", "conversations": [{"from": "human", "value": None}]},
        {"id": "fine", "image": "a.png", "conversations": [{"from": "human", "value": "Q?"}]},
    ]
    path = write_json(tmp_path / "types.json", records)
    samples, quarantine = collect(DatasetConfig("t", "llava", {"json": str(path), "image_root": str(images)}))
    assert samples["sample_id"].to_list() == ["fine"]
    reasons = {(r["record"].split("'")[1], r["field"]): r["reason"] for r in quarantine.iter_rows(named=True)}
    assert reasons[("num", "conversations[0].value")] == "value is a number, expected a string"
    assert reasons[("mixed", "conversations[0].value")] == "value is a list, expected a string"
    assert reasons[("mixed", "conversations[1].value")] == "value is a boolean, expected a string"
    assert reasons[("mixed", "conversations[2].value")] == "value is an object, expected a string"
    assert reasons[("imgnum", "image")] == "image is a number, expected a string (a file path)"
    assert reasons[("null", "conversations[0].value")] == "turn has no text"  # null is absent text

    coco = write_json(
        tmp_path / "captions.json",
        {
            "images": [{"id": 1, "file_name": "a.png"}],
            "annotations": [{"id": 5, "image_id": 1, "caption": 42}],
        },
    )
    _, quarantine = collect(
        DatasetConfig("c", "coco_captions", {"annotations": str(coco), "image_root": str(images)})
    )
    assert quarantine.select("field", "reason").rows() == [
        ("caption", "caption is a number, expected a string")
    ]


def test_image_token_count_must_match_the_image(tmp_path: Path, images: Path, warehouse: Warehouse) -> None:
    records = [
        {
            "id": "two_tokens",
            "image": "a.png",
            "conversations": [
                {"from": "human", "value": "<image>\nWhat is this?"},
                {"from": "gpt", "value": "A square."},
                {"from": "human", "value": "<image>\nAnd this?"},
            ],
        },
        {
            "id": "two_in_one",
            "image": "a.png",
            "conversations": [{"from": "human", "value": "<image><image> Q?"}],
        },
        {"id": "token_no_image", "conversations": [{"from": "human", "value": "<image>\nWhat is this?"}]},
        {
            "id": "two_images",
            "image": ["a.png", "b.png"],
            "conversations": [{"from": "human", "value": "<image>\nQ?"}],
        },
        {"id": "one_token", "image": "a.png", "conversations": [{"from": "human", "value": "<image>\nQ?"}]},
        {
            "id": "no_token",
            "image": ["b.png"],
            "conversations": [{"from": "human", "value": "Q?"}],
        },  # export adds it
        {
            "id": "text_only",
            "conversations": [{"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "Hi."}],
        },
    ]
    path = write_json(tmp_path / "tokens.json", records)
    ingest_dataset(warehouse, DatasetConfig("tok", "llava", {"json": str(path), "image_root": str(images)}))
    assert sorted(warehouse.read("samples")["sample_id"]) == ["no_token", "one_token", "text_only"]
    q = warehouse.read("quarantine")
    reasons = {r["record"].split("'")[1]: (r["field"], r["reason"]) for r in q.iter_rows(named=True)}
    assert reasons["two_tokens"] == (
        "conversations",
        "2 <image> tokens but the sample has 1 image; expected one token per image "
        "(or none: the corpus export adds it)",
    )
    assert reasons["two_in_one"][1].startswith("2 <image> tokens but the sample has 1 image")
    assert reasons["token_no_image"] == (
        "conversations",
        "1 <image> token(s) but the sample has no image; remove the token or give the record an image",
    )
    assert reasons["two_images"] == ("image", "record has 2 images; only one image per sample is supported")
    assert q.height == 4


def test_same_id_in_two_files_of_one_batch_is_a_duplicate(tmp_path: Path, images: Path) -> None:
    record = {"id": "x", "image": "a.png", "conversations": [{"from": "human", "value": "Q?"}]}
    first = write_json(tmp_path / "first.json", [record])
    second = write_json(tmp_path / "second.json", [record])  # same reference "#0 (id='x')" in both files
    parts = list(
        iter_samples(
            DatasetConfig("two", "llava", {"json": f"{first},{second}", "image_root": str(images)}),
            batch_records=10,  # both records in one batch
        )
    )
    samples, quarantine = pl.concat([p[0] for p in parts]), pl.concat([p[1] for p in parts])
    assert samples["sample_id"].to_list() == ["x"]
    assert quarantine.select(pl.col("source_file").str.split("/").list.last(), "reason").rows() == [
        ("second.json", "duplicate sample id x; ids must be unique within a split")
    ]
