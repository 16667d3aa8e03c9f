"""French corpora per tier, in the formats trainers read: LLaVA conversation JSON and Parquet.

Tiers are cumulative (`high`, `high+medium`, `high+medium+low`): a threshold ablation trains on each.
Every corpus folder `VLMFR_HOME/corpora/<tier>/` holds `llava.json`, `samples.parquet` and
`manifest.json` (counts, thresholds, MT systems and versions, source dataset versions). A folder is
built in staging and moved into place, so a reader never sees half a corpus.

`<image>` placement: a sample whose source already has `<image>` keeps it exactly where it was; a sample
with an image and no token (easy-vqa, COCO) gets the LLaVA convention, `<image>\\n` before the first
human turn.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from vlmfr_data.store import TableSpec, Warehouse, write_parquet_stream
from vlmfr_data.tiers import TIER_SETS

IMAGE_TOKEN = "<image>"
# samples.parquet of a corpus (not a warehouse table: the schema makes an empty corpus readable too)
CORPUS_SAMPLES = TableSpec(
    name="corpus_samples",
    schema={
        "id": pl.String(),
        "dataset": pl.String(),
        "split": pl.String(),
        "sample_id": pl.String(),
        "image": pl.String(),
        "conversations": pl.List(pl.Struct({"from": pl.String(), "value": pl.String()})),
        "tier": pl.String(),
        "min_combined": pl.Float64(),
        "systems": pl.List(pl.String()),
    },
)


@dataclass
class CorpusReport:
    name: str
    folder: Path
    samples: int
    by_dataset: dict[str, int]


def corpora_dir(warehouse: Warehouse) -> Path:
    return warehouse.home / "corpora"


def with_image_token(french: pl.DataFrame) -> pl.DataFrame:
    """Add `<image>\\n` before the first human turn of samples that have an image but no token."""
    keys = ["dataset", "split", "sample_id"]
    turns = (
        french.select(*keys, "image", "turns")
        .with_columns(pl.int_ranges(pl.col("turns").list.len()).alias("turn_index"))
        .explode("turns", "turn_index")
        .unnest("turns")
    )
    per_sample = turns.group_by(keys).agg(
        pl.col("text").str.contains(IMAGE_TOKEN, literal=True).any().alias("_has_token"),
        pl.col("turn_index").filter(pl.col("role") == "human").min().fill_null(0).alias("_first_human"),
    )
    turns = turns.join(per_sample, on=keys).with_columns(
        pl.when(
            pl.col("image").is_not_null()
            & ~pl.col("_has_token")
            & (pl.col("turn_index") == pl.col("_first_human"))
        )
        .then(pl.lit(IMAGE_TOKEN + "\n") + pl.col("text"))
        .otherwise(pl.col("text"))
        .alias("text")
    )
    conversations = (
        turns.sort([*keys, "turn_index"])
        .group_by(keys, maintain_order=True)
        .agg(pl.struct(pl.col("role").alias("from"), pl.col("text").alias("value")).alias("conversations"))
    )
    return french.join(conversations, on=keys, how="left")


def export_corpus(
    warehouse: Warehouse, name: str, thresholds: dict[str, float], batch_rows: int = 50_000
) -> CorpusReport:
    """Write one cumulative tier corpus; samples stream through in batches of `batch_rows`."""
    if name not in TIER_SETS:
        raise KeyError(f"unknown corpus {name!r}; known: {list(TIER_SETS)}")
    tiers = TIER_SETS[name]
    staging = warehouse.staging_dir(f"corpus-{name.replace('+', '_')}")
    by_dataset: dict[str, int] = {}
    by_split: dict[str, int] = {}
    with (staging / "llava.json").open("w", encoding="utf-8") as llava:
        llava.write("[")

        def corpus_batches() -> Iterator[pl.DataFrame]:
            """Each batch goes to llava.json as it passes, then on to samples.parquet."""
            for dataset in warehouse.partitions("french_samples"):
                for batch in warehouse.iter_batches("french_samples", dataset, batch_rows=batch_rows):
                    french = batch.filter(pl.col("tier").is_in(tiers))
                    if french.height == 0:
                        continue
                    french = with_image_token(french).with_columns(
                        pl.concat_str("dataset", "split", "sample_id", separator="/").alias("id")
                    )
                    body = french.select("id", "image", "conversations").write_json().strip()[1:-1]
                    llava.write(("," if by_dataset else "") + body)  # a comma after the first batch
                    by_dataset[dataset] = by_dataset.get(dataset, 0) + french.height
                    for split, count in french.group_by("split").len().iter_rows():
                        by_split[split] = by_split.get(split, 0) + count
                    yield french

        write_parquet_stream(corpus_batches(), staging / "samples.parquet", CORPUS_SAMPLES)
        llava.write("]")
    manifest = {
        "corpus": name,
        "tiers": tiers,
        "samples": sum(by_dataset.values()),
        "by_dataset": by_dataset,
        "by_split": dict(sorted(by_split.items())),
        "thresholds": thresholds,
        "mt_systems": _mt_systems(warehouse),
        "source_datasets": _source_versions(warehouse),
        "files": {
            "llava.json": "LLaVA conversation JSON (id, image, conversations[from, value])",
            "samples.parquet": "same samples with tier, min combined score and systems used",
        },
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    final = corpora_dir(warehouse) / name
    warehouse.replace_dir(staging, final)
    return CorpusReport(name=name, folder=final, samples=manifest["samples"], by_dataset=by_dataset)


def _mt_systems(warehouse: Warehouse) -> dict[str, Any]:
    rows = warehouse.sql(
        "SELECT system, any_value(system_version) AS version, count(*) AS segments_chosen "
        "FROM translation_quality WHERE is_best GROUP BY 1 ORDER BY 1"
    )
    return {
        r["system"]: {"version": r["version"], "segments_chosen": r["segments_chosen"]}
        for r in rows.iter_rows(named=True)
    }


def _source_versions(warehouse: Warehouse) -> dict[str, Any]:
    """Where each dataset came from: package version for packaged data, size and mtime for files."""
    sources = warehouse.sql("SELECT DISTINCT dataset, source_file FROM samples ORDER BY ALL")
    versions: dict[str, Any] = {}
    for dataset, source in sources.iter_rows():
        if source.startswith("easy_vqa:"):
            info = f"easy-vqa {importlib.metadata.version('easy-vqa')} ({source})"
        else:
            path = Path(source)
            info = (
                f"{path} ({path.stat().st_size} bytes, mtime {int(path.stat().st_mtime)})"
                if path.exists()
                else source
            )
        versions.setdefault(dataset, []).append(info)
    return versions
