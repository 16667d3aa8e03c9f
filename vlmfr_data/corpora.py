"""French corpora per tier, in the formats trainers read: LLaVA conversation JSON and Parquet.

Tiers are cumulative (`high`, `high+medium`, `high+medium+low`): a threshold ablation trains on each.
Every corpus folder `VLMFR_HOME/corpora/<tier>/` holds `llava.json`, `samples.parquet` and
`manifest.json` (counts, thresholds, MT systems and versions, source dataset versions, image folder). A
folder is built in staging and moved into place, so a reader never sees half a corpus. `write_corpus`
writes any `CorpusSelection` in that layout, wherever its folder is: the threshold sweep's cut corpora
(`evaluation/sweep.py`) are written by it too, so every corpus a model trains on has one layout.

Images: a corpus never points at the source files (easy-vqa's live in the virtualenv, which `make clean`
deletes). The images a corpus uses are hard-linked (copied across filesystems) into
`VLMFR_HOME/corpora/images/<dataset>/<path under the dataset's image root>`, shared by every corpus;
an image already there is not placed again. `image` in `llava.json` and `samples.parquet` is relative to
that folder (LLaVA trainers: `--image_folder $VLMFR_HOME/corpora/images`); the manifest's `image_folder`
names it relative to the corpus folder (`../images` for a tier set); `samples.parquet` also has
`image_path`, the absolute path of the placed file.

`<image>` placement: a sample whose source already has `<image>` keeps it exactly where it was; a sample
with an image and no token (easy-vqa, VQAv2) gets the LLaVA convention, `<image>\\n` before the first
human turn. A sample with no human turn (a COCO caption: one `gpt` turn) gets one, as LLaVA's caption
data has: `<image>\\n` + a French brief-description instruction, the caption stays the `gpt` turn.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from vlmfr_data.selection import kept
from vlmfr_data.store import TableSpec, Warehouse, write_parquet_stream
from vlmfr_data.tiers import GOLD_CORPUS, TIER_SETS

log = logging.getLogger(__name__)

IMAGE_TOKEN = "<image>"
IMAGES_FOLDER = "images"  # under corpora/, beside the tier-set folders
# French brief-description instructions for caption samples (samples with no human turn). English
# source: the "list of instructions for brief image description" of LLaVA (Liu et al. 2023, "Visual
# Instruction Tuning", appendix), which LLaVA pairs with captions in its caption (pre-training) data
# ("Describe the image concisely.", "Provide a brief description of the given image.", ...). Translated
# by hand, one per English line (the 11th, "Create a compact narrative representing the image
# presented.", is left out). Formal "vous", as in instructions to a model. Changing this list changes the
# corpus: append only, never reorder (the choice is an index into it).
FRENCH_BRIEF_DESCRIPTION_INSTRUCTIONS: tuple[str, ...] = (
    "Décrivez l'image de manière concise.",
    "Donnez une brève description de l'image.",
    "Expliquez succinctement l'image présentée.",
    "Résumez le contenu visuel de l'image.",
    "Donnez une explication courte et claire de l'image suivante.",
    "Proposez une interprétation concise de l'image fournie.",
    "Présentez en quelques mots les éléments clés de la photo.",
    "Faites un compte rendu bref et clair de l'image montrée.",
    "Rédigez un résumé clair et concis de la photo.",
    "Écrivez un résumé bref mais informatif de l'image.",
)
INSTRUCTION_RULE = (
    "samples with no human turn get a human turn '<image>\\n' + FRENCH_BRIEF_DESCRIPTION_INSTRUCTIONS[i], "
    "i = int(md5(id).hexdigest()[:8], 16) % len(list), id = 'dataset/split/sample_id'"
)

# samples.parquet of a corpus (not a warehouse table: the schema makes an empty corpus readable too)
CORPUS_SAMPLES = TableSpec(
    name="corpus_samples",
    schema={
        "id": pl.String(),
        "dataset": pl.String(),
        "split": pl.String(),
        "sample_id": pl.String(),
        "image": pl.String(),  # relative to the image folder (tier corpora), as in llava.json
        "image_path": pl.String(),  # absolute path of the image file
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


def instruction_index(ids: pl.Series) -> pl.Series:
    """Which French instruction each sample id gets: a stable hash (MD5, not Python's salted `hash`),
    so every export, process and machine gives a sample the same instruction."""
    # hashlib per id (~4 us each, only caption samples): polars has no stable string hash, and DuckDB's
    # md5 over a registered frame measured 5-7 s per 100,000 ids here against 0.4 s for this loop.
    n = len(FRENCH_BRIEF_DESCRIPTION_INSTRUCTIONS)
    return pl.Series(
        "instruction",
        [int(hashlib.md5(i.encode()).hexdigest()[:8], 16) % n for i in ids.to_list()],
        dtype=pl.UInt32(),
    )


def llava_conversations(french: pl.DataFrame) -> pl.DataFrame:
    """`french` (dataset, split, sample_id, image, turns) plus `conversations` in LLaVA form.

    Samples with an image and no token get `<image>\\n` before the first human turn; samples with no
    human turn get one first: `<image>\\n` (when they have an image and no token) + a French
    brief-description instruction chosen by `instruction_index`.
    """
    keys = ["dataset", "split", "sample_id"]
    turns = (
        french.select(*keys, "image", "turns")
        .with_columns(pl.int_ranges(pl.col("turns").list.len()).alias("turn_index"))
        .explode("turns", "turn_index")
        .unnest("turns")
    )
    per_sample = turns.group_by(keys).agg(
        pl.col("image").first(),
        pl.col("text").str.contains(IMAGE_TOKEN, literal=True).any().alias("_has_token"),
        pl.col("turn_index").filter(pl.col("role") == "human").min().alias("_first_human"),
    )
    needs_token = pl.col("image").is_not_null() & ~pl.col("_has_token")
    no_human = per_sample.filter(pl.col("_first_human").is_null())
    instructions = no_human.select(
        *keys,
        pl.lit(-1, dtype=turns.schema["turn_index"]).alias("turn_index"),
        pl.lit("human").alias("role"),
        (pl.when(needs_token).then(pl.lit(IMAGE_TOKEN + "\n")).otherwise(pl.lit("")))
        .add(
            pl.lit(pl.Series(FRENCH_BRIEF_DESCRIPTION_INSTRUCTIONS)).gather(
                instruction_index(no_human.select(pl.concat_str(*keys, separator="/")).to_series())
            )
        )
        .alias("text"),
    )
    turns = turns.join(per_sample.drop("image"), on=keys).with_columns(
        pl.when(needs_token & (pl.col("turn_index") == pl.col("_first_human")))
        .then(pl.lit(IMAGE_TOKEN + "\n") + pl.col("text"))
        .otherwise(pl.col("text"))
        .alias("text")
    )
    conversations = (
        pl.concat([turns.select(instructions.columns), instructions])
        .sort([*keys, "turn_index"])
        .group_by(keys, maintain_order=True)
        .agg(pl.struct(pl.col("role").alias("from"), pl.col("text").alias("value")).alias("conversations"))
    )
    return french.join(conversations, on=keys, how="left", maintain_order="left")


@dataclass
class ImageCounts:
    linked: int = 0
    copied: int = 0
    already_present: int = 0
    missing: int = 0
    samples_dropped: int = 0


@dataclass
class CorpusImages:
    """Places the images of corpus samples under `corpora/images/<dataset>/...`, batch by batch.

    A dataset's image root is the deepest folder holding every image of its `french_samples` (all
    tiers), so an image has the same relative path in every tier set. An image whose file is already in
    place with the source's size is left alone (idempotent, also after the source is gone); otherwise it
    is hard-linked (same filesystem) or copied, through a temporary name and a rename, so parallel tier
    exports and killed runs never leave a half-written image.
    """

    warehouse: Warehouse
    counts: ImageCounts = field(default_factory=ImageCounts)
    _roots: dict[str, str] = field(default_factory=dict)
    _seen: pl.Series = field(default_factory=lambda: pl.Series("image", [], dtype=pl.String()))
    _missing: list[str] = field(default_factory=list)  # relative paths with no file to place

    @property
    def folder(self) -> Path:
        return corpora_dir(self.warehouse) / IMAGES_FOLDER

    def root(self, dataset: str) -> str:
        """The dataset's image root with a trailing '/' (common folder of its lexicographic extremes)."""
        if dataset not in self._roots:
            lo, hi = (
                self.warehouse.scan("french_samples", dataset)
                .select(pl.col("image").min().alias("lo"), pl.col("image").max().alias("hi"))
                .collect()
                .row(0)
            )
            prefix = os.path.commonprefix([lo, hi]) if lo is not None else ""
            self._roots[dataset] = prefix[: prefix.rfind("/") + 1]
        return self._roots[dataset]

    def place(self, french: pl.DataFrame) -> pl.DataFrame:
        """`image` relative to the image folder and `image_path` absolute; rows whose image can be
        neither found nor placed are dropped (and counted)."""
        roots = pl.DataFrame(
            {
                "dataset": (datasets := french["dataset"].unique().to_list()),
                "_root": [self.root(d) for d in datasets],
            }
        )
        french = french.join(roots, on="dataset", how="left", maintain_order="left").with_columns(
            pl.col("image").alias("_source"),
            pl.when(pl.col("image").str.starts_with(pl.col("_root")))
            .then(pl.col("dataset") + "/" + pl.col("image").str.slice(pl.col("_root").str.len_chars()))
            .otherwise(pl.col("dataset") + "/" + pl.col("image").str.strip_chars_start("/"))
            .alias("image"),
        )
        pending = (
            french.select("image", "_source")
            .drop_nulls()
            .unique("image", maintain_order=True)
            .filter(~pl.col("image").is_in(self._seen.implode()))
        )
        for relative, source in pending.iter_rows():  # one file operation per distinct new image
            if not self._place(source, self.folder / relative):
                self._missing.append(relative)
        self._seen = pl.concat([self._seen, pending["image"]])
        missing = pl.Series(self._missing, dtype=pl.String()).implode()
        dropped = french.filter(pl.col("image").is_in(missing))
        if dropped.height:
            self.counts.samples_dropped += dropped.height
            log.warning(
                "%d samples dropped: image file gone and not in %s (e.g. %s)",
                dropped.height,
                self.folder,
                dropped["_source"][0],
            )
        folder = str(self.folder.resolve())
        return (
            french.filter(~pl.col("image").is_in(missing).fill_null(False))
            .with_columns((pl.lit(folder + "/") + pl.col("image")).alias("image_path"))
            .drop("_root", "_source")
        )

    def _place(self, source: str, target: Path) -> bool:
        source_size = _size(source)
        target_size = _size(target)
        if target_size is not None and (source_size is None or source_size == target_size):
            self.counts.already_present += 1
            return True
        if source_size is None:
            self.counts.missing += 1
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        try:
            os.link(source, part)
            self.counts.linked += 1
        except OSError:  # another filesystem (EXDEV) or links not allowed there
            shutil.copyfile(source, part)
            self.counts.copied += 1
        os.replace(part, target)
        return True


def _size(path: str | Path) -> int | None:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return None


def gold_french_samples(warehouse: Warehouse, dataset: str, gold: pl.DataFrame) -> pl.DataFrame:
    """`dataset`'s samples rebuilt from the gold references (`segment_id, reference`), tier `high` when
    every segment has one and `rejected` otherwise: the French samples' own rule with gold for MT."""
    from vlmfr_data.quality.french_samples import rebuild_samples

    best = gold.select(
        "segment_id",
        pl.col("reference").alias("text_fr"),
        pl.lit("high").alias("tier"),
        pl.lit(1.0).alias("combined"),
        pl.lit(GOLD_CORPUS).alias("system"),
    ).unique("segment_id")
    # one dataset at a time: the gold covers only datasets with hand-written references (small)
    pieces = warehouse.scan("sample_segments", dataset).collect()
    samples = warehouse.scan("samples", dataset).collect()
    return rebuild_samples(samples, pieces, best)


@dataclass
class CorpusSelection:
    """Which French samples a corpus holds and where it goes: what `write_corpus` needs besides the
    warehouse. `keep` picks the rows of a batch of French samples (through `vlmfr_data.selection`)."""

    name: str  # the manifest's `corpus`
    folder: Path
    keep: Callable[[pl.DataFrame], pl.DataFrame]
    rule: str  # the manifest's `rule`, in words
    tiers: list[str] | None = None
    thresholds: dict[str, float] | None = None
    # only these splits (None: every split); each is in the manifest's `by_split`, also when empty
    splits: list[str] | None = None
    # the French samples of one dataset, in batches (None: its `french_samples` partition)
    source: Callable[[str], Iterator[pl.DataFrame]] | None = None
    # more manifest fields, after `rule` (the sweep's cut and gold precision)
    extra: dict[str, Any] = field(default_factory=dict)


def export_corpus(
    warehouse: Warehouse,
    name: str,
    thresholds: dict[str, float],
    batch_rows: int = 50_000,
    gold: pl.DataFrame | None = None,
) -> CorpusReport:
    """Write one cumulative tier corpus (or the `gold` ceiling corpus, from `gold` references) under
    `corpora/<name>/`; samples stream through in batches of `batch_rows`."""
    if name == GOLD_CORPUS:
        if gold is None:
            raise ValueError("the gold corpus needs the gold references (vlmfr_data.quality.gold)")
        tier_set = "high"  # gold samples are `high` when every segment has a reference
    elif name in TIER_SETS:
        tier_set = name
    else:
        raise KeyError(f"unknown corpus {name!r}; known: {[*TIER_SETS, GOLD_CORPUS]}")

    def gold_batches(dataset: str) -> Iterator[pl.DataFrame]:
        if gold is not None and gold.height:
            frame = gold_french_samples(warehouse, dataset, gold)
            for start in range(0, frame.height, batch_rows):
                yield frame.slice(start, batch_rows)

    selection = CorpusSelection(
        name=name,
        folder=corpora_dir(warehouse) / name,
        keep=lambda batch: kept(batch, tier_set=tier_set),
        rule="every segment has a gold reference; French text from the references"
        if name == GOLD_CORPUS
        else "samples whose worst segment tier is in `tiers`",
        tiers=TIER_SETS[tier_set],
        thresholds=thresholds if name != GOLD_CORPUS else None,
        source=gold_batches if name == GOLD_CORPUS else None,
    )
    return write_corpus(warehouse, selection, batch_rows=batch_rows)


def write_corpus(warehouse: Warehouse, selection: CorpusSelection, batch_rows: int = 50_000) -> CorpusReport:
    """Write the samples `selection` keeps as a corpus folder (llava.json, samples.parquet, manifest.json)
    at `selection.folder`, streaming them in batches of `batch_rows`."""

    def french_batches(dataset: str) -> Iterator[pl.DataFrame]:
        if selection.source is not None:
            yield from selection.source(dataset)
        else:
            yield from warehouse.iter_batches("french_samples", dataset, batch_rows=batch_rows)

    final = selection.folder
    staging = warehouse.staging_dir(f"corpus-{final.name.replace('+', '_')}")
    images = CorpusImages(warehouse)
    by_dataset: dict[str, int] = {}
    by_split: dict[str, int] = dict.fromkeys(selection.splits or [], 0)
    instructed = 0
    with (staging / "llava.json").open("w", encoding="utf-8") as llava:
        llava.write("[")

        def corpus_batches() -> Iterator[pl.DataFrame]:
            """Each batch goes to llava.json as it passes, then on to samples.parquet."""
            nonlocal instructed
            for dataset in warehouse.partitions("french_samples"):
                for batch in french_batches(dataset):
                    if selection.splits is not None:
                        batch = batch.filter(pl.col("split").is_in(selection.splits))
                    french = selection.keep(batch)
                    if french.height == 0:
                        continue
                    french = images.place(
                        llava_conversations(french).with_columns(
                            pl.concat_str("dataset", "split", "sample_id", separator="/").alias("id")
                        )
                    )
                    if french.height == 0:
                        continue
                    instructed += french.filter(
                        ~pl.col("turns").list.eval(pl.element().struct.field("role") == "human").list.any()
                    ).height
                    body = french.select("id", "image", "conversations").write_json().strip()[1:-1]
                    llava.write(("," if by_dataset else "") + body)  # a comma after the first batch
                    by_dataset[dataset] = by_dataset.get(dataset, 0) + french.height
                    for split, count in french.group_by("split").len().iter_rows():
                        by_split[split] = by_split.get(split, 0) + count
                    yield french

        write_parquet_stream(corpus_batches(), staging / "samples.parquet", CORPUS_SAMPLES)
        llava.write("]")
    manifest = {
        "corpus": selection.name,
        "tiers": selection.tiers,
        "samples": sum(by_dataset.values()),
        "by_dataset": by_dataset,
        "by_split": dict(sorted(by_split.items())),
        "thresholds": selection.thresholds,
        "rule": selection.rule,
        **selection.extra,
        "mt_systems": _mt_systems(warehouse),
        "source_datasets": _source_versions(warehouse),
        # relative to this manifest's folder: `Path(corpus_folder) / image_folder / image`
        "image_folder": os.path.relpath(images.folder, final),
        "image_folder_absolute": str(images.folder.resolve()),
        "images": vars(images.counts),
        "caption_instructions": {
            "samples": instructed,
            "rule": INSTRUCTION_RULE,
            "instructions": list(FRENCH_BRIEF_DESCRIPTION_INSTRUCTIONS),
        },
        "files": {
            "llava.json": "LLaVA conversation JSON (id, image relative to image_folder, conversations[from, value])",
            "samples.parquet": "same samples (image relative to image_folder, image_path absolute) with tier, "
            "min combined score and systems used",
        },
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    warehouse.replace_dir(staging, final)
    return CorpusReport(name=selection.name, folder=final, samples=manifest["samples"], by_dataset=by_dataset)


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
