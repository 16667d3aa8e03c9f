"""Segments: dedup, protected spans, and the exact round trip from segments back to conversations."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tests.conftest import write_json
from tests.test_datasets import LLAVA_RECORDS
from vlmfr_data.config import DatasetConfig
from vlmfr_data.ingest import ingest_dataset
from vlmfr_data.segments import (
    build_sample_segments,
    build_segments,
    decompose,
    protected_spans,
    rebuild_turns,
)
from vlmfr_data.store import Warehouse

TRICKY = [
    "<image>\nWhat is  in the image?\nDescribe it.  ",
    "Count the 3 cats at https://a.b/c <image> now",
    "  <image>",
    "x\r\n\r\ny <video>",
    "Caf\u0065\u0301 or café?",  # decomposed vs composed é: same segment, exact surfaces kept
    "<|im_start|>Answer with `ls -la` and {name}.<|im_end|>",
]


def test_decompose_keeps_every_byte() -> None:
    for text in TRICKY:
        pieces = decompose(text)
        assert "".join(p.literal or p.surface or p.text_en for p in pieces) == text
    first = decompose(TRICKY[0])
    assert first[0].literal == "<image>\n"
    assert first[1].text_en == "What is in the image?" and first[1].surface == "What is  in the image?"
    # a special token inside a sentence stays inside the segment (as a protected span)
    assert [p.text_en for p in decompose(TRICKY[1]) if p.text_en] == [TRICKY[1]]


def test_protected_spans_kinds() -> None:
    spans = protected_spans("Use `foo()` with {name}, %s and 3.5 kg at https://x.org/a?b=1 <image> here")
    assert [(s["kind"], s["text"]) for s in spans] == [
        ("code", "`foo()`"),
        ("placeholder", "{name}"),
        ("placeholder", "%s"),
        ("number", "3.5"),
        ("url", "https://x.org/a?b=1"),
        ("special", "<image>"),
    ]


def test_round_trip_is_byte_exact(tmp_path: Path, images: Path, warehouse: Warehouse) -> None:
    records = LLAVA_RECORDS + [
        {
            "id": f"t{i}",
            "image": "c.png",
            "conversations": [{"from": "human", "value": t}, {"from": "gpt", "value": "ok"}],
        }
        for i, t in enumerate(TRICKY)
    ]
    path = write_json(tmp_path / "llava.json", records)
    ingest_dataset(warehouse, DatasetConfig("toy", "llava", {"json": str(path), "image_root": str(images)}))
    build_sample_segments(warehouse, "toy", batch_rows=3)
    segments = build_segments(warehouse)
    original = (
        warehouse.read("samples")
        .with_columns(pl.int_ranges(pl.col("turns").list.len()).cast(pl.List(pl.Int32)).alias("turn_index"))
        .explode("turns", "turn_index")
        .unnest("turns")
        .select("dataset", "split", "sample_id", "turn_index", "text")
    )
    rebuilt = rebuild_turns(warehouse.read("sample_segments"), segments)
    joined = original.join(rebuilt, on=["dataset", "split", "sample_id", "turn_index"], suffix="_rebuilt")
    assert joined.height == original.height
    mismatches = joined.filter(pl.col("text") != pl.col("text_rebuilt"))
    assert mismatches.height == 0, mismatches
    assert all(a.encode() == b.encode() for a, b in joined.select("text", "text_rebuilt").rows())
    # "ok" appears 6 times but is one segment; é composed/decomposed share one segment
    ok = segments.filter(pl.col("text_en") == "ok")
    assert ok["n_occurrences"].to_list() == [len(TRICKY)]
    assert segments.filter(pl.col("text_en").str.starts_with("Caf")).height == 1


def test_easy_vqa_dedup(warehouse: Warehouse) -> None:
    ingest_dataset(warehouse, DatasetConfig("easy_vqa", "easy_vqa", splits=["train"]))
    build_sample_segments(warehouse, "easy_vqa")
    build_segments(warehouse)
    counts = dict(warehouse.sql("SELECT kind, count(*) FROM segments GROUP BY 1").rows())
    assert counts == {"question": 107, "answer": 13}
    total = warehouse.sql("SELECT sum(n_occurrences)::BIGINT FROM segments WHERE kind = 'question'").item()
    assert total == 38575
