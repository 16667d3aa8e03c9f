from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from vlmfr_data.catalog import TRANSLATIONS
from vlmfr_data.store import Warehouse


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    monkeypatch.setenv("VLMFR_HOME", str(tmp_path / "home"))
    return Warehouse()


@pytest.fixture
def images(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    root.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        Image.new("RGB", (8, 8), (200, 10, 10)).save(root / name)
    return root


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def fixture_translations(
    warehouse: Warehouse, system: str, rows: dict[str, str], version: str = "fixture-1"
) -> None:
    """Translation rows as a (hypothetical) MT system produced them: `rows` maps English segment text to
    French; segments not in `rows` get no row."""
    frame = (
        warehouse.read("segments")
        .select("segment_id", "text_en")
        .with_columns(
            pl.col("text_en").replace_strict(rows, default=None).alias("text_fr"),
            pl.lit(system).alias("system"),
            pl.lit(version).alias("system_version"),
            pl.lit(0.0).alias("seconds"),
            pl.lit(None, pl.String).alias("error"),
            pl.lit(True).alias("spans_ok"),
            pl.lit([], pl.List(pl.String)).alias("span_problems"),
            pl.lit("b0").alias("batch_id"),
            pl.lit(datetime.now(UTC)).alias("created_at"),
        )
        .drop_nulls("text_fr")
    )
    warehouse.append("translations", TRANSLATIONS.conform(frame), partition=system)
