"""The tier corpora as one Hugging Face dataset folder: `datasets.load_dataset(folder, "high")` opens it.

`VLMFR_HOME/exports/hf/<name>/` holds `data/<config>/<split>-00000-of-00001.parquet` per corpus (a
config: `high`, `high_medium`, `high_medium_low`, `gold`) and split, with the image bytes embedded
(the Hub's own Parquet layout: `image` is a struct of bytes and path, read back as a PIL image), and a
dataset card `README.md` whose YAML header declares the configs, their data files and features, the
split sizes, the languages and the source datasets' licences; its text says how the corpus was made
and gives its quality statistics. Written in the warehouse's staging and moved into place (`Warehouse.replace_dir`): a reader never
sees half.

Each image file is read once per batch of samples (the corpora share images), never per row.
"""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from vlmfr_data import markdown
from vlmfr_data.corpora import corpora_dir
from vlmfr_data.store import Warehouse
from vlmfr_data.tiers import CORPUS_NAMES

COLUMNS = ("id", "dataset", "split", "sample_id", "image", "conversations", "tier", "min_combined", "systems")
# The card's features, in the YAML form `datasets` reads (one per column above).
FEATURES: list[dict[str, Any]] = [
    {"name": "id", "dtype": "string"},
    {"name": "dataset", "dtype": "string"},
    {"name": "split", "dtype": "string"},
    {"name": "sample_id", "dtype": "string"},
    {"name": "image", "dtype": "image"},
    {
        "name": "conversations",
        "list": [{"name": "from", "dtype": "string"}, {"name": "value", "dtype": "string"}],
    },
    {"name": "tier", "dtype": "string"},
    {"name": "min_combined", "dtype": "float64"},
    {"name": "systems", "sequence": "string"},
]
IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


@dataclass
class ExportReport:
    folder: Path
    configs: dict[str, dict[str, int]] = field(default_factory=dict)  # config -> split -> rows
    bytes_written: int = 0


def config_name(corpus: str) -> str:
    """A corpus name as a config name and folder: `high+medium` -> `high_medium`."""
    return corpus.replace("+", "_")


def export_hf_dataset(
    warehouse: Warehouse,
    corpora: list[str] | None = None,
    name: str = "vlmfr_fr",
    folder: Path | None = None,
    licenses: dict[str, str | None] | None = None,
    batch_rows: int = 5_000,
) -> ExportReport:
    """Export `corpora` (default: every corpus folder with a manifest) as one dataset folder.
    `licenses`: each source dataset's licence (a Hub licence id), for the card."""
    root = corpora_dir(warehouse)
    present = {p.name for p in root.iterdir() if (p / "manifest.json").exists()} if root.exists() else set()
    # the tier sets in their order (the first is the card's default config), then any other corpus
    available = [c for c in CORPUS_NAMES if c in present] + sorted(present - set(CORPUS_NAMES))
    corpora = corpora or available
    missing = [c for c in corpora if c not in available]
    if missing:
        raise FileNotFoundError(
            f"no corpus {missing} under {root} (found: {available}); materialize the `corpora` asset first"
        )
    final = folder or warehouse.home / "exports" / "hf" / name
    staging = warehouse.staging_dir(f"hf-{name}")
    report = ExportReport(final)
    manifests: dict[str, dict[str, Any]] = {}
    try:
        for corpus in corpora:
            manifests[corpus] = json.loads((root / corpus / "manifest.json").read_text(encoding="utf-8"))
            counts, size = _write_splits(
                root / corpus / "samples.parquet", staging / "data" / config_name(corpus), batch_rows
            )
            report.configs[config_name(corpus)] = counts
            report.bytes_written += size
        card = dataset_card(name, report.configs, manifests, licenses or {})
        (staging / "README.md").write_text(card, encoding="utf-8")
        warehouse.replace_dir(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # left only when the export failed
    return report


SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("dataset", pa.string()),
        ("split", pa.string()),
        ("sample_id", pa.string()),
        ("image", IMAGE_TYPE),
        ("conversations", pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))),
        ("tier", pa.string()),
        ("min_combined", pa.float64()),
        ("systems", pa.list_(pa.string())),
    ]
)


def _write_splits(samples: Path, folder: Path, batch_rows: int) -> tuple[dict[str, int], int]:
    """One Parquet file per split of a corpus, in one streaming pass over its samples: rows per split
    and the bytes written."""
    writers: dict[str, pq.ParquetWriter] = {}
    paths: dict[str, Path] = {}
    rows: dict[str, int] = {}
    try:
        for record_batch in pq.ParquetFile(samples).iter_batches(batch_size=batch_rows):
            batch = pl.from_arrow(pa.Table.from_batches([record_batch]))
            assert isinstance(batch, pl.DataFrame)
            for (split,), part in batch.group_by("split"):
                if str(split) not in writers:
                    paths[str(split)] = folder / f"{split}-00000-of-00001.parquet"
                    folder.mkdir(parents=True, exist_ok=True)
                    writers[str(split)] = pq.ParquetWriter(paths[str(split)], SCHEMA)
                rows[str(split)] = rows.get(str(split), 0) + part.height
                embedded = embed_images(part, read_from="image_path").select(COLUMNS)
                writers[str(split)].write_table(embedded.to_arrow().cast(SCHEMA))
    finally:
        for writer in writers.values():
            writer.close()
    return dict(sorted(rows.items())), sum(p.stat().st_size for p in paths.values())


def embed_images(frame: pl.DataFrame, read_from: str, path_from: str = "image") -> pl.DataFrame:
    """`frame` with `image` as the Hub's image struct {bytes, path}: the bytes of the file named in column
    `read_from`, each distinct file read once, and `path` from column `path_from`. A row without a file
    has a null image, not a struct of nulls (`datasets` rejects that)."""
    paths = frame[read_from].drop_nulls().unique().to_list()
    contents = pl.DataFrame(
        {read_from: paths, "_bytes": [Path(p).read_bytes() for p in paths]},
        schema={read_from: pl.String(), "_bytes": pl.Binary()},
    )
    return (
        frame.join(contents, on=read_from, how="left")
        .with_columns(
            pl.when(pl.col("_bytes").is_not_null())
            .then(pl.struct(pl.col("_bytes").alias("bytes"), pl.col(path_from).alias("path")))
            .alias("image")
        )
        .drop("_bytes")
    )


def dataset_card(
    name: str,
    configs: dict[str, dict[str, int]],
    manifests: dict[str, dict[str, Any]],
    licenses: dict[str, str | None],
) -> str:
    """README.md: the YAML header `datasets` and the Hub read, then how the corpus was made."""
    first = next(iter(manifests.values()))
    used = sorted({d for m in manifests.values() for d in m.get("by_dataset") or {}})
    known = {licenses.get(d) or "unknown" for d in used}
    header: dict[str, Any] = {
        "language": ["fr"],
        "license": known.pop() if len(known) == 1 and "unknown" not in known else "other",
        "pretty_name": f"{name}: quality-tiered French translations",
        "task_categories": ["visual-question-answering", "image-to-text"],
        "tags": ["machine-translation", "french", "vlm", "quality-estimation"],
        "size_categories": [_size_category(max(sum(c.values()) for c in configs.values()))],
        "configs": [
            {
                "config_name": config,
                "data_files": [
                    {"split": split, "path": f"data/{config}/{split}-*.parquet"} for split in splits
                ],
                **({"default": True} if index == 0 else {}),
            }
            for index, (config, splits) in enumerate(configs.items())
        ],
        "dataset_info": [
            {
                "config_name": config,
                "features": copy.deepcopy(FEATURES),  # no YAML anchors between configs
                "splits": [{"name": split, "num_examples": n} for split, n in splits.items()],
            }
            for config, splits in configs.items()
        ],
    }
    if header["license"] == "other":
        header["license_name"] = "per-source"
        header["license_details"] = "; ".join(f"{d}: {licenses.get(d) or 'unknown'}" for d in used)
    rows = [
        {
            "config": config_name(corpus),
            "rule": m.get("rule", ""),
            "tiers": ", ".join(m.get("tiers") or []),
            **{f"{s} samples": n for s, n in sorted((m.get("by_split") or {}).items())},
        }
        for corpus, m in manifests.items()
    ]
    systems = pl.DataFrame(
        [
            {
                "system": system,
                "version": info.get("version", ""),
                "segments chosen": info.get("segments_chosen"),
            }
            for system, info in (first.get("mt_systems") or {}).items()
        ]
    )
    thresholds = first.get("thresholds") or {}
    return "\n".join(
        [
            "---",
            yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=100).rstrip(),
            "---",
            "",
            f"# {name}",
            "",
            "French vision-language training data, machine-translated from English by several MT systems, every",
            "translation scored, each sample kept in the tiers its worst segment reaches. Made by vlmfr-data.",
            "",
            "```python",
            "from datasets import load_dataset",
            f'ds = load_dataset("path/to/{name}", "{next(iter(configs))}")',
            'ds["train"][0]["image"], ds["train"][0]["conversations"]',
            "```",
            "",
            "## Configs",
            "",
            markdown.table(pl.DataFrame(rows)),
            "",
            "## How it was made",
            "",
            "- Every English segment (question, answer, caption) was translated by each MT system below; the",
            "  translations were scored by the quality signals of vlmfr-data and combined into one score per",
            "  translation; the best translation of each segment is used.",
            f"- Tier thresholds on the combined score: {json.dumps(thresholds)}; a sample's tier is its",
            "  worst segment's. Tiers are cumulative: `high_medium` holds `high` and `medium` samples.",
            "- `gold` (when present) uses the shipped hand-written French references instead of MT: a ceiling.",
            "- `min_combined` is the sample's worst segment score; `systems` the MT systems its text came from.",
            "",
            markdown.table(systems) if systems.height else "",
            "",
            "## Source datasets",
            "",
            *[f"- `{d}`: {', '.join(v)}" for d, v in (first.get("source_datasets") or {}).items()],
            "",
        ]
    )


def _size_category(n: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return label
    return "1M<n<10M"
