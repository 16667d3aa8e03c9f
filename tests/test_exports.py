"""Exports the ecosystem loads: the tier corpora as a Hugging Face dataset folder (`datasets` opens it)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.test_corpora import THRESHOLDS, _fill
from vlmfr_data.corpora import export_corpus
from vlmfr_data.hf_export import export_hf_dataset
from vlmfr_data.store import Warehouse


def test_hf_export_loads_with_datasets_rows_images_and_card(tmp_path: Path, warehouse: Warehouse) -> None:
    import datasets
    from PIL import Image

    _fill(warehouse, tmp_path / "site-packages" / "pkg")
    high = export_corpus(warehouse, "high", THRESHOLDS)
    wider = export_corpus(warehouse, "high+medium", THRESHOLDS)
    result = export_hf_dataset(warehouse, licenses={"coco": "cc-by-4.0", "vqa": "cc-by-4.0"}, batch_rows=7)
    assert set(result.configs) == {"high", "high_medium"}
    assert result.configs["high_medium"] == {"test": 1, "train": 42} and wider.samples == 43

    assert datasets.get_dataset_config_names(str(result.folder)) == ["high", "high_medium"]
    loaded = datasets.load_dataset(str(result.folder), "high_medium", cache_dir=str(tmp_path / "hf_cache"))
    assert {split: ds.num_rows for split, ds in loaded.items()} == {"test": 1, "train": 42}
    row = next(r for r in loaded["train"] if r["id"] == "vqa/train/q1")
    assert row["conversations"] == [
        {"from": "human", "value": "<image>\nDe quelle couleur ?"},
        {"from": "gpt", "value": "rouge"},
    ]
    assert isinstance(row["image"], Image.Image) and row["image"].size == (4, 4)
    assert row["image"].convert("RGB").getpixel((0, 0)) == (0, 10, 10)  # the file's own pixels
    no_image = next(r for r in loaded["train"] if r["id"] == "vqa/train/q3")
    assert no_image["image"] is None
    default = datasets.load_dataset(str(result.folder), cache_dir=str(tmp_path / "hf_cache"))
    assert list(default) == ["train"] and default["train"].num_rows == high.samples == 42  # `high`: first

    card = (result.folder / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(card.split("---")[1])
    assert header["language"] == ["fr"] and header["license"] == "cc-by-4.0"
    assert {c["config_name"] for c in header["configs"]} == {"high", "high_medium"}
    info = {c["config_name"]: {s["name"]: s["num_examples"] for s in c["splits"]} for c in header["dataset_info"]}
    assert info["high_medium"] == {"test": 1, "train": 42}
    assert "apertium" in card and "worst segment" in card


def test_hf_export_names_missing_corpora_and_unknown_licences(tmp_path: Path, warehouse: Warehouse) -> None:
    _fill(warehouse, tmp_path / "site-packages" / "pkg")
    export_corpus(warehouse, "high", THRESHOLDS)
    with pytest.raises(FileNotFoundError, match=r"no corpus \['gold'\].*materialize the `corpora` asset"):
        export_hf_dataset(warehouse, corpora=["gold"])
    result = export_hf_dataset(warehouse, licenses={"coco": "cc-by-4.0"})  # vqa's is not known
    header = yaml.safe_load((result.folder / "README.md").read_text(encoding="utf-8").split("---")[1])
    assert header["license"] == "other" and "vqa: unknown" in header["license_details"]
