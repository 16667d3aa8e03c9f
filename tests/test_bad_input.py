"""Bad-input matrix: every loader, the config file and the review import, fed broken input.

Each loader case writes one bad file (or record) beside good records and checks that
- the good records load,
- the bad ones are in `quarantine` with a message naming the file, the record and the field,
- a whole-file failure names the file, where in it (line / column / byte) and what to do.
Config cases check that the error names the file, the entry and the field, and says what is valid.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from tests.test_review import _counts, _export_csv, _filled, _write_csv, base_home  # noqa: F401 - a fixture
from vlmfr_data.catalog import QUARANTINE_SCHEMA
from vlmfr_data.config import DatasetConfig, load_config
from vlmfr_data.ingest import ingest_dataset, iter_samples
from vlmfr_data.review.importer import import_review_files
from vlmfr_data.store import Warehouse

LONG = "word " * 20_480  # 100 kB of text in one turn


def good_llava(i: int) -> dict:
    return {
        "id": f"good{i}",
        "image": "a.png",
        "conversations": [
            {"from": "human", "value": "<image>\nWhat is shown?"},
            {"from": "gpt", "value": f"A red square, number {i}."},
        ],
    }


def turn(value: object, role: object = "human") -> dict:
    return {"from": role, "value": value}


@dataclass
class Expect:
    """What quarantine must hold for the bad input: (file name, record part, field part, reason part)."""

    file: str
    record: str
    field: str
    reason: str


@dataclass
class Case:
    build: Callable[[Path, Path], DatasetConfig]  # (folder, images) -> dataset config
    kept: set[str]  # sample ids that must load
    expect: list[Expect]  # rows quarantine must contain


# ------------------------------------------------------------------------------------------ LLaVA
def llava_json(records: list, name: str = "data.json", raw: bytes | None = None) -> Callable:
    """A good file (good0, good1) plus one file holding `records` (or `raw` bytes)."""

    def build(folder: Path, images: Path) -> DatasetConfig:
        (folder / "good.json").write_text(json.dumps([good_llava(0), good_llava(1)]), encoding="utf-8")
        bad = folder / name
        if raw is not None:
            bad.write_bytes(raw)
        elif name.endswith(".jsonl"):
            bad.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
        else:
            bad.write_text(json.dumps(records), encoding="utf-8")
        return DatasetConfig(
            "ds", "llava", {"json": f"{folder / 'good.json'},{bad}", "image_root": str(images)}
        )

    return build


GOOD = {"good0", "good1"}
OK2 = {**good_llava(2), "id": "ok2"}
LATIN1_JSONL = (
    json.dumps(good_llava(5)).encode()
    + b'\n{"id": "latin", "image": "a.png", "conversations": [{"from": "human", "value": "caf\xe9 ?"}]}\n'
    + '{"id": "utf8", "image": "a.png", "conversations": [{"from": "human", "value": "café ?"}]}\n'.encode()
)
LATIN1_JSON = (
    json.dumps([good_llava(6), {**good_llava(7), "id": "latin7"}]).replace("red", "r\\u00e9d").encode()
)
LATIN1_JSON = LATIN1_JSON.replace(b"r\\u00e9d", b"r\xe9d", 1)  # good6's text in Latin-1, the rest ASCII

CASES: dict[str, Case] = {
    "llava malformed json": Case(
        llava_json([], raw=b'[{"id": "x", "conversations": [}]'),
        GOOD,
        [Expect("data.json", "<file>", "<file>", "malformed JSON at line 1 column")],
    ),
    "llava truncated json": Case(
        llava_json([], raw=json.dumps([good_llava(3), good_llava(4)]).encode()[:90]),
        GOOD,
        [Expect("data.json", "<file>", "<file>", "fix the file")],
    ),
    "llava truncated jsonl": Case(
        llava_json([], "data.jsonl", raw=(json.dumps(OK2) + "\n" + json.dumps(good_llava(3))[:40]).encode()),
        GOOD | {"ok2"},
        [Expect("data.jsonl", "line 2", "<record>", "malformed JSON at column")],
    ),
    "llava malformed jsonl line": Case(
        llava_json([], "data.jsonl", raw=b'{"id": oops}\n' + json.dumps(OK2).encode() + b"\n"),
        GOOD | {"ok2"},
        [Expect("data.jsonl", "line 1", "<record>", "malformed JSON")],
    ),
    "llava latin-1 and utf-8 mixed jsonl": Case(
        llava_json([], "data.jsonl", raw=LATIN1_JSONL),
        GOOD | {"good5", "utf8"},
        [Expect("data.jsonl", "latin", "conversations", "not valid UTF-8 (first bad byte at offset")],
    ),
    "llava latin-1 json": Case(
        llava_json([], raw=LATIN1_JSON),
        GOOD | {"latin7"},
        [Expect("data.json", "good6", "conversations", "re-encode it as UTF-8")],
    ),
    "llava missing image": Case(
        llava_json([{**OK2, "id": "noimg", "image": "nope.png"}]),
        GOOD,
        [Expect("data.json", "noimg", "image", "image file not found")],
    ),
    "llava empty string": Case(
        llava_json([{**OK2, "id": "empty", "conversations": [turn(""), turn("Yes.", "gpt")]}]),
        GOOD,
        [Expect("data.json", "empty", "conversations[0].value", "turn has no text")],
    ),
    "llava 100 kB string": Case(
        llava_json([{**OK2, "id": "long", "conversations": [turn("Describe."), turn(LONG, "gpt")]}, OK2]),
        GOOD | {"ok2"},
        [Expect("data.json", "long", "conversations[1].value", "characters, over the limit")],
    ),
    "llava two image tokens": Case(
        llava_json(
            [{**OK2, "id": "two", "conversations": [turn("<image>\n<image>\nQ?"), turn("A.", "gpt")]}]
        ),
        GOOD,
        [Expect("data.json", "two", "conversations", "2 <image> tokens but the sample has 1 image")],
    ),
    "llava token without image": Case(
        llava_json([{"id": "noi", "conversations": [turn("<image>\nQ?"), turn("A.", "gpt")]}]),
        GOOD,
        [Expect("data.json", "noi", "conversations", "but the sample has no image")],
    ),
    "llava duplicate id": Case(
        llava_json([{**OK2, "id": "good0"}]),
        GOOD,
        [Expect("data.json", "good0", "id", "duplicate sample id good0")],
    ),
    "llava missing id": Case(
        llava_json([{k: v for k, v in OK2.items() if k != "id"}]),
        GOOD,
        [Expect("data.json", "#0", "id", "record has no id")],
    ),
    "llava unknown role": Case(
        llava_json([{**OK2, "id": "robot", "conversations": [turn("beep", "robot")]}]),
        GOOD,
        [Expect("data.json", "robot", "conversations[0].from", "unknown role 'robot'")],
    ),
    "llava unknown fields are ignored": Case(
        llava_json(
            [{**OK2, "model": "gpt-4", "conversations": [{**turn("Q?"), "weight": 1}, turn("A.", "gpt")]}]
        ),
        GOOD | {"ok2"},
        [],
    ),
    "llava non-string values": Case(
        llava_json(
            [
                {**OK2, "id": "num", "conversations": [turn(3), turn("A.", "gpt")]},
                {**OK2, "id": "role", "conversations": [turn("Q?", 1), turn("A.", "gpt")]},
                {**OK2, "id": "img", "image": 7},
                {**OK2, "id": "conv", "conversations": "Q? A."},
                "just a string",
            ]
        ),
        GOOD,
        [
            Expect("data.json", "num", "conversations[0].value", "value is a number, expected a string"),
            Expect("data.json", "role", "conversations[0].from", "from is a number"),
            Expect("data.json", "img", "image", "image is a number"),
            Expect("data.json", "conv", "conversations", "missing or empty 'conversations'"),
            Expect("data.json", "#4", "<record>", "expected an object, got str"),
        ],
    ),
    "llava top level not a list": Case(
        llava_json({"data": []}),  # type: ignore[arg-type]
        GOOD,
        [Expect("data.json", "<file>", "<file>", "expected a JSON array of records")],
    ),
    "llava missing file": Case(
        lambda folder, images: DatasetConfig(
            "ds",
            "llava",
            {"json": f"{llava_json([])(folder, images).paths['json'].split(',')[0]},{folder}/gone.json"},
        ),
        set(),  # good.json has images relative to no root: checked by the quarantine rows instead
        [Expect("gone.json", "<file>", "<file>", "cannot read file")],
    ),
}


# ------------------------------------------------------------------------------------------ COCO
def coco(annotations: list, images_list: list | None = None, raw: bytes | None = None) -> Callable:
    def build(folder: Path, images: Path) -> DatasetConfig:
        path = folder / "captions.json"
        imgs = (
            images_list
            if images_list is not None
            else [{"id": 1, "file_name": "a.png"}, {"id": 9, "file_name": "gone.png"}]
        )
        base = [
            {"id": 100, "image_id": 1, "caption": "A red square."},
            {"id": 101, "image_id": 1, "caption": "A square."},
        ]
        if raw is not None:
            path.write_bytes(raw)
        else:
            path.write_text(json.dumps({"images": imgs, "annotations": base + annotations}), encoding="utf-8")
        return DatasetConfig("ds", "coco_captions", {"annotations": str(path), "image_root": str(images)})

    return build


COCO_GOOD = {"100", "101"}
COCO_JSON = json.dumps(
    {
        "images": [{"id": 1, "file_name": "a.png"}],
        "annotations": [{"id": 100, "image_id": 1, "caption": "A red square."}],
    }
).encode()
CASES |= {
    "coco malformed json": Case(
        coco([], raw=COCO_JSON[:-5]),
        set(),
        [Expect("captions.json", "<file>", "<file>", "malformed JSON at line 1 column")],
    ),
    "coco latin-1 caption": Case(
        coco([], raw=COCO_JSON.replace(b"}]}", b'}, {"id": 102, "image_id": 1, "caption": "caf\xe9"}]}')),
        {"100"},
        [Expect("captions.json", "id=102", "caption", "not valid UTF-8")],
    ),
    "coco missing image": Case(
        coco([{"id": 102, "image_id": 9, "caption": "Gone."}]),
        COCO_GOOD,
        [Expect("captions.json", "id=102", "image", "image file not found")],
    ),
    "coco unknown image id": Case(
        coco([{"id": 102, "image_id": 5, "caption": "X."}]),
        COCO_GOOD,
        [Expect("captions.json", "id=102", "image_id", "is not in 'images'")],
    ),
    "coco empty caption": Case(
        coco([{"id": 102, "image_id": 1, "caption": ""}]),
        COCO_GOOD,
        [Expect("captions.json", "id=102", "value", "turn has no text")],
    ),
    "coco 100 kB caption": Case(
        coco([{"id": 102, "image_id": 1, "caption": LONG}]),
        COCO_GOOD,
        [Expect("captions.json", "id=102", "value", "over the limit")],
    ),
    "coco non-string caption": Case(
        coco([{"id": 102, "image_id": 1, "caption": ["a", "b"]}]),
        COCO_GOOD,
        [Expect("captions.json", "id=102", "caption", "caption is a list")],
    ),
    "coco duplicate id": Case(
        coco([{"id": 100, "image_id": 1, "caption": "Again."}]),
        COCO_GOOD,
        [Expect("captions.json", "annotations[2]", "id", "duplicate sample id 100")],
    ),
    "coco missing id": Case(
        coco([{"image_id": 1, "caption": "No id."}]),
        COCO_GOOD,
        [Expect("captions.json", "annotations[2]", "id", "record has no id")],
    ),
    "coco two image tokens": Case(
        coco([{"id": 102, "image_id": 1, "caption": "<image> <image> x"}]),
        COCO_GOOD,
        [Expect("captions.json", "id=102", "conversations", "2 <image> tokens")],
    ),
    "coco unknown fields are ignored": Case(
        coco([{"id": 102, "image_id": 1, "caption": "Ok.", "score": 0.3}]), COCO_GOOD | {"102"}, []
    ),
    "coco annotations not a list": Case(
        coco([], raw=json.dumps({"images": [], "annotations": {"id": 1}}).encode()),
        set(),
        [Expect("captions.json", "<file>", "<file>", "'annotations' must be a list")],
    ),
}


# ----------------------------------------------------------------------------------------- VQAv2
def vqa(
    questions: list | dict, annotations: list | dict, q_raw: bytes | None = None, a_raw: bytes | None = None
) -> Callable:
    def build(folder: Path, images: Path) -> DatasetConfig:
        base_q = [
            {"question_id": 1, "image_id": 1, "question": "What color?"},
            {"question_id": 2, "image_id": 2, "question": "How many?"},
        ]
        base_a = [
            {"question_id": 1, "multiple_choice_answer": "red"},
            {"question_id": 2, "multiple_choice_answer": "2"},
        ]
        q, a = folder / "q.json", folder / "a.json"
        q_doc = {"questions": base_q + questions} if isinstance(questions, list) else questions
        a_doc = {"annotations": base_a + annotations} if isinstance(annotations, list) else annotations
        q.write_bytes(q_raw if q_raw is not None else json.dumps(q_doc).encode())
        a.write_bytes(a_raw if a_raw is not None else json.dumps(a_doc).encode())
        paths = {
            "questions": str(q),
            "annotations": str(a),
            "image_root": str(images),
            "image_pattern": "{image_id}.png",
        }
        return DatasetConfig("ds", "vqav2", paths)

    return build


VQA_GOOD = {"1", "2"}
CASES |= {
    "vqav2 malformed questions": Case(
        vqa([], [], q_raw=b'{"questions": [{]}'),
        set(),
        [Expect("q.json", "<file>", "<file>", "malformed JSON at line 1 column")],
    ),
    "vqav2 truncated annotations": Case(
        vqa([], [], a_raw=b'{"annotations": [{"question_id": 1'),
        set(),
        [Expect("a.json", "<file>", "<file>", "malformed JSON")],
    ),
    "vqav2 latin-1 question": Case(
        vqa(
            [],
            [],
            q_raw=b'{"questions": [{"question_id": 1, "image_id": 1, "question": "Caf\xe9?"}, {"question_id": 2, "image_id": 2, "question": "How many?"}]}',
        ),
        {"2"},
        [Expect("q.json", "question_id=1", "question", "not valid UTF-8")],
    ),
    "vqav2 missing image": Case(
        vqa(
            [{"question_id": 3, "image_id": 9, "question": "Where?"}],
            [{"question_id": 3, "multiple_choice_answer": "x"}],
        ),
        VQA_GOOD,
        [Expect("q.json", "question_id=3", "image", "image file not found")],
    ),
    "vqav2 missing annotation": Case(
        vqa([{"question_id": 3, "image_id": 1, "question": "Where?"}], []),
        VQA_GOOD,
        [Expect("a.json", "question_id=3", "annotations", "no annotation")],
    ),
    "vqav2 empty question": Case(
        vqa(
            [{"question_id": 3, "image_id": 1, "question": " "}],
            [{"question_id": 3, "multiple_choice_answer": "x"}],
        ),
        VQA_GOOD,
        [Expect("q.json", "question_id=3", "value", "turn has no text")],
    ),
    "vqav2 100 kB answer": Case(
        vqa(
            [{"question_id": 3, "image_id": 1, "question": "Why?"}],
            [{"question_id": 3, "multiple_choice_answer": LONG}],
        ),
        VQA_GOOD,
        [Expect("q.json", "question_id=3", "conversations[1].value", "over the limit")],
    ),
    "vqav2 non-string answer": Case(
        vqa(
            [{"question_id": 3, "image_id": 1, "question": "Why?"}],
            [{"question_id": 3, "multiple_choice_answer": 2}],
        ),
        VQA_GOOD,
        [Expect("a.json", "question_id=3", "multiple_choice_answer", "is a number")],
    ),
    "vqav2 duplicate question id": Case(
        vqa([{"question_id": 2, "image_id": 1, "question": "Again?"}], []),
        VQA_GOOD,
        [Expect("q.json", "questions[2]", "id", "duplicate sample id 2")],
    ),
    "vqav2 missing question id": Case(
        vqa([{"image_id": 1, "question": "No id?"}], [{"multiple_choice_answer": "x"}]),
        VQA_GOOD,
        [Expect("q.json", "questions[2]", "question_id", "no question_id")],
    ),
    "vqav2 bad image id": Case(
        vqa(
            [{"question_id": 3, "image_id": "one", "question": "Q?"}],
            [{"question_id": 3, "multiple_choice_answer": "x"}],
        ),
        VQA_GOOD,
        [Expect("q.json", "question_id=3", "image_id", "bad image_id 'one'")],
    ),
    "vqav2 image token": Case(
        vqa(
            [{"question_id": 3, "image_id": 1, "question": "<image> <image> Q?"}],
            [{"question_id": 3, "multiple_choice_answer": "x"}],
        ),
        VQA_GOOD,
        [Expect("q.json", "question_id=3", "conversations", "2 <image> tokens")],
    ),
    "vqav2 unknown fields are ignored": Case(
        vqa(
            [{"question_id": 3, "image_id": 1, "question": "Q?", "x": 1}],
            [{"question_id": 3, "multiple_choice_answer": "y", "answers": []}],
        ),
        VQA_GOOD | {"3"},
        [],
    ),
    "vqav2 top level is a list": Case(
        vqa([], [], q_raw=b"[]"),
        set(),
        [Expect("q.json", "<file>", "<file>", "expected an object with 'questions'")],
    ),
    "vqav2 question not an object": Case(
        vqa([1, 2], []), VQA_GOOD, [Expect("q.json", "questions[2]", "<record>", "question is not an object")]
    ),
}


@pytest.fixture
def images(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    root.mkdir()
    for name in ("a.png", "1.png", "2.png"):
        Image.new("RGB", (8, 8), (200, 10, 10)).save(root / name)
    return root


@pytest.mark.parametrize("name", sorted(CASES))
def test_loader_bad_input(name: str, tmp_path: Path, images: Path) -> None:
    case = CASES[name]
    folder = tmp_path / "data"
    folder.mkdir()
    config = case.build(folder, images)
    # what ingest writes, without the warehouse: (samples, quarantine) batches of 2 records
    parts = list(iter_samples(config, batch_records=2))
    kept = set(pl.concat([p[0] for p in parts])["sample_id"].to_list()) if parts else set()
    quarantine = pl.concat([p[1] for p in parts]) if parts else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    assert case.kept <= kept, f"good records lost: {case.kept - kept}"
    for expect in case.expect:
        hits = quarantine.filter(
            pl.col("source_file").str.ends_with("/" + expect.file)
            & pl.col("record").str.contains(expect.record, literal=True)
            & pl.col("field").str.contains(expect.field, literal=True)
            & pl.col("reason").str.contains(expect.reason, literal=True)
        )
        assert hits.height >= 1, (
            f"{expect} not in quarantine:\n{quarantine.select('source_file', 'record', 'field', 'reason')}"
        )
    if not case.expect:
        assert quarantine.height == 0, quarantine
    # the record reference of every quarantine row lets a person find it; nothing is anonymous
    assert (
        quarantine.filter(
            pl.col("record").is_null() | pl.col("field").is_null() | pl.col("reason").is_null()
        ).height
        == 0
    )


def test_unreadable_image(tmp_path: Path, images: Path) -> None:
    locked = images / "locked.png"
    locked.write_bytes((images / "a.png").read_bytes())
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: chmod 000 does not stop this process reading the file")
        records = [good_llava(0), {**good_llava(1), "id": "locked", "image": "locked.png"}]
        (tmp_path / "d.json").write_text(json.dumps(records), encoding="utf-8")
        warehouse = Warehouse(tmp_path / "home")
        ingest_dataset(
            warehouse,
            DatasetConfig("ds", "llava", {"json": str(tmp_path / "d.json"), "image_root": str(images)}),
        )
        assert warehouse.read("samples")["sample_id"].to_list() == ["good0"]
        q = warehouse.read("quarantine").row(0, named=True)
        assert q["field"] == "image" and "not readable" in q["reason"] and "locked" in q["record"]
    finally:
        locked.chmod(0o644)


def test_easy_vqa_unknown_split_is_named() -> None:
    with pytest.raises(ValueError, match="easy_vqa has splits 'train' and 'test', not 'validation'"):
        list(iter_samples(DatasetConfig("e", "easy_vqa", splits=["validation"])))


# ----------------------------------------------------------------------------------------- config
CONFIG_CASES: dict[str, tuple[str, list[str]]] = {
    "invalid toml": ('[[datasets]\nname = "x"\n', ["vlmfr.toml", "not valid TOML", "line 1"]),
    "unknown dataset format": (
        '[[datasets]]\nname = "x"\nformat = "parquetz"\n',
        [
            "vlmfr.toml",
            "datasets[0]",
            "'x'",
            "format",
            "unknown dataset format 'parquetz'",
            "known: coco_captions",
        ],
    ),
    "unknown mt backend": (
        '[[mt_systems]]\nname = "m"\nbackend = "deepl"\n',
        ["vlmfr.toml", "mt_systems[0]", "'m'", "backend", "unknown MT backend 'deepl'", "known: apertium"],
    ),
    "thresholds out of order": (
        "[quality.thresholds]\nhigh = 0.5\nmedium = 0.7\nlow = 0.6\n",
        ["vlmfr.toml", "[quality]", "high >= medium >= low", "'high': 0.5"],
    ),
    "threshold not a number": (
        '[quality.thresholds]\nhigh = "0.9"\n',
        ["vlmfr.toml", "[quality]", "thresholds must be numbers", "high"],
    ),
    "unknown quality signal": (
        "[quality.weights]\nbleurt = 2.0\n",
        ["vlmfr.toml", "[quality]", "unknown quality signals ['bleurt']"],
    ),
    "dataset missing format": ('[[datasets]]\nname = "x"\n', ["vlmfr.toml", "datasets[0]", "format"]),
    "dataset unknown key": (
        '[[datasets]]\nname = "x"\nformat = "llava"\npathz = {}\n',
        ["vlmfr.toml", "datasets[0]", "'x'", "pathz"],
    ),
    "datasets not an array of tables": ('datasets = "x"\n', ["vlmfr.toml", "[[datasets]]"]),
    "latin-1 config": (None, ["vlmfr.toml", "UTF-8", "byte"]),  # type: ignore[dict-item]
}


@pytest.mark.parametrize("name", sorted(CONFIG_CASES))
def test_config_bad_input(name: str, tmp_path: Path) -> None:
    text, needles = CONFIG_CASES[name]
    path = tmp_path / "vlmfr.toml"
    if text is None:
        path.write_bytes('[[datasets]]\nname = "caf\xe9"\nformat = "llava"\n'.encode("latin-1"))
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises((ValueError, KeyError, TypeError)) as info:
        load_config(path)
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in: {message}"


# ----------------------------------------------------------------------------------- review import
# The review importer is all-or-nothing per file (vlmfr_data/review/importer.py): a bad file is refused
# whole with problems naming file, row, line and field, and nothing is written. tests/test_review.py
# covers unknown segments and systems, ratings, spans, reviewer, dates, duplicates, Latin-1 and missing
# columns; these are the cases of the matrix it does not.


@pytest.fixture
def review_warehouse(base_home: Path, tmp_path: Path) -> Warehouse:  # noqa: F811 - the imported fixture
    """A copy of test_review's small warehouse (segments, two systems' translations, tiers)."""
    shutil.copytree(base_home, tmp_path / "review_home")
    return Warehouse(tmp_path / "review_home")


def _review_file(
    warehouse: Warehouse, tmp_path: Path, edits: dict[str, dict[str, str]]
) -> tuple[Path, list, list]:
    export_csv = _export_csv(warehouse, tmp_path / "out")
    columns, rows = _filled(export_csv, {"red": {"rating": "5"}, **edits})
    return _write_csv(tmp_path / "review.csv", columns, rows), columns, rows


def test_review_truncated_file_is_refused_naming_row_and_line(
    review_warehouse: Warehouse, tmp_path: Path
) -> None:
    path, _, rows = _review_file(review_warehouse, tmp_path, {"yes": {"rating": "4", "comment": "ok"}})
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b"\n", 0, len(data) - 1) + 20])  # the last row cut after 20 bytes
    counts = _counts(review_warehouse)
    (outcome,) = import_review_files(review_warehouse, [path])
    assert outcome.status == "failed" and _counts(review_warehouse) == counts
    text = "\n".join(str(p) for p in outcome.problems)
    assert str(path) in text and f"row {len(rows)}" in text and "fields where the header has" in text


def test_review_unterminated_quote_is_refused(review_warehouse: Warehouse, tmp_path: Path) -> None:
    path, _, _ = _review_file(review_warehouse, tmp_path, {"yes": {"rating": "4", "comment": "ok"}})
    path.write_bytes(path.read_bytes() + b'x,"an unterminated quote\n')
    (outcome,) = import_review_files(review_warehouse, [path])
    assert outcome.status == "failed"
    assert str(path) in "\n".join(str(p) for p in outcome.problems)


def test_review_empty_file_is_refused(review_warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    (outcome,) = import_review_files(review_warehouse, [path])
    assert (
        outcome.status == "failed"
        and "empty file" in str(outcome.problems[0])
        and "empty.csv" in str(outcome.problems[0])
    )


def test_review_unknown_column_is_ignored(review_warehouse: Warehouse, tmp_path: Path) -> None:
    export_csv = _export_csv(review_warehouse, tmp_path / "out")
    columns, rows = _filled(export_csv, {"red": {"rating": "5"}})
    for row in rows:
        row["my_notes"] = "x"
    path = _write_csv(tmp_path / "extra.csv", [*columns, "my_notes"], rows)
    (outcome,) = import_review_files(review_warehouse, [path])
    assert outcome.status == "imported" and outcome.reviews == 1


def test_review_100_kb_correction_is_refused(review_warehouse: Warehouse, tmp_path: Path) -> None:
    path, _, _ = _review_file(review_warehouse, tmp_path, {"yes": {"correction": "oui " * 25_600}})
    (outcome,) = import_review_files(review_warehouse, [path])
    assert outcome.status == "failed" and "correction" in "\n".join(str(p) for p in outcome.problems)


def test_config_names_an_unknown_top_level_key(tmp_path: Path) -> None:
    path = tmp_path / "vlmfr.toml"
    path.write_text("[qualty.thresholds]\nhigh = 0.9\n")
    with pytest.raises(ValueError, match=r"unknown top-level key\(s\) \['qualty'\]; allowed: .*'quality'"):
        load_config(path)


def test_config_review_section_reaches_the_review_settings(tmp_path: Path) -> None:
    from vlmfr_data.review.stages import review_settings

    path = tmp_path / "vlmfr.toml"
    path.write_text("[review]\nbudget = 7\n")
    assert review_settings(load_config(path)).budget == 7
