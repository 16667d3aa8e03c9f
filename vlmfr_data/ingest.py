"""Ingest: any dataset format -> canonical `samples` rows, bad records -> `quarantine` with the reason.

Checks common to every format run here, vectorised over a batch of turn rows: unknown role, a turn with
no text or with more than `max_text_chars` characters, a missing or unreadable image file, a missing or duplicate sample id, and `<image>` tokens that do not match
the sample's image (every format has 0 or 1 image per sample: more than one token, or a token with no
image, is quarantined; an image with no token is fine, the corpus export adds `<image>\\n`). A record
with any problem is quarantined whole (one row per problem, naming file, record and field); the rest of
the dataset loads.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import polars as pl

from vlmfr_data.catalog import QUARANTINE_SCHEMA, SAMPLES
from vlmfr_data.config import DEFAULT_MAX_TEXT_CHARS, DatasetConfig
from vlmfr_data.datasets import FORMATS
from vlmfr_data.datasets.base import RAW_TURN_SCHEMA, RawBatch
from vlmfr_data.progress import Progress
from vlmfr_data.store import Warehouse

log = logging.getLogger(__name__)


IMAGE_TOKEN = "<image>"
# Canonical roles follow LLaVA (human / gpt / system); common aliases are accepted.
ROLE_ALIASES = {"human": "human", "user": "human", "gpt": "gpt", "assistant": "gpt", "system": "system"}
KIND_BY_ROLE = {"human": "question", "gpt": "answer", "system": "system"}


@dataclass
class IngestReport:
    dataset: str
    samples: int = 0
    turns: int = 0
    quarantined: int = 0
    seconds: float = 0.0
    per_split: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)


def image_problem(path: str) -> str | None:
    """Why an image file cannot be used ("not found", "not readable: ..."), or None when it can."""
    if not os.path.isfile(path):
        return "not found" if not os.path.exists(path) else "is not a file"
    if not os.access(path, os.R_OK):
        return "not readable (permission denied; fix its permissions)"
    return None


class _Validator:
    """Holds cross-batch state (ids seen, image check cache) for one dataset split."""

    def __init__(self, dataset: str, split: str, max_text_chars: int = DEFAULT_MAX_TEXT_CHARS) -> None:
        self.dataset = dataset
        self.split = split
        self.max_text_chars = max_text_chars
        # ids of earlier batches: a set, so each batch costs its own size (a Series re-hashed per batch
        # made ingest quadratic: 1M samples took 24x the CPU of 100k)
        self.seen_ids: set[str] = set()
        self.image_problems: dict[str, str | None] = {}

    def _seen_before(self, ids: pl.Series) -> pl.Series:
        """The ids of this batch that an earlier batch already loaded (usually none)."""
        seen = self.seen_ids
        return pl.Series([i for i in ids.drop_nulls().unique().to_list() if i in seen], dtype=pl.String())

    def __call__(self, batch: RawBatch) -> tuple[pl.DataFrame, pl.DataFrame]:
        turns = (
            pl.DataFrame(batch.turns, schema=RAW_TURN_SCHEMA, orient="row")
            if batch.turns
            else (pl.DataFrame(schema=RAW_TURN_SCHEMA))
        )
        new_images = [
            p for p in turns["image"].drop_nulls().unique().to_list() if p not in self.image_problems
        ]
        self.image_problems.update({p: image_problem(p) for p in new_images})

        # First occurrence of each id within this batch, by record; a later record with the same id is a dup.
        # A record reference ("#0 (id='x')") is unique within its file only, and a batch may span files.
        turns = turns.with_columns(pl.concat_str("source_file", "record", separator="\x00").alias("_record"))
        first_record = turns.group_by("sample_id", maintain_order=True).agg(
            pl.col("_record").first().alias("_first")
        )
        turns = turns.join(first_record, on="sample_id", how="left", nulls_equal=True).with_columns(
            pl.col("role")
            .str.strip_chars()
            .str.to_lowercase()
            .replace_strict(ROLE_ALIASES, default=None)
            .alias("_role"),
            pl.col("image")
            .replace_strict(self.image_problems, default=None, return_dtype=pl.String)
            .alias("_img_problem"),
        )
        turn_field = pl.format("conversations[{}]", pl.col("turn_index"))
        checks = [
            (
                pl.col("sample_id").is_null() | (pl.col("sample_id").str.strip_chars() == ""),
                pl.lit("id"),
                pl.lit("record has no id; give every record a unique 'id'"),
            ),
            (
                pl.col("sample_id").is_in(self._seen_before(turns["sample_id"]).implode())
                | (pl.col("_record") != pl.col("_first")),
                pl.lit("id"),
                pl.format("duplicate sample id {}; ids must be unique within a split", pl.col("sample_id")),
            ),
            (
                pl.col("_role").is_null(),
                pl.format("{}.from", turn_field),
                pl.format(
                    "unknown role '{}'; expected one of human/user, gpt/assistant, system", pl.col("role")
                ),
            ),
            (
                pl.col("text").is_null() | (pl.col("text").str.strip_chars() == ""),
                pl.format("{}.value", turn_field),
                pl.lit("turn has no text"),
            ),
            (
                pl.col("text").str.len_chars() > self.max_text_chars,
                pl.format("{}.value", turn_field),
                pl.format(
                    "turn text is {} characters, over the limit of {} (max_text_chars of the dataset in "
                    "vlmfr.toml); split the turn or raise the limit",
                    pl.col("text").str.len_chars(),
                    pl.lit(self.max_text_chars),
                ),
            ),
            (
                pl.col("_img_problem").is_not_null(),
                pl.lit("image"),
                pl.format("image file {}: {}", pl.col("_img_problem"), pl.col("image")),
            ),
        ]
        problems = pl.concat(
            [
                turns.filter(cond.fill_null(False)).select(
                    "source_file", "record", field_expr.alias("field"), reason.alias("reason")
                )
                for cond, field_expr, reason in checks
            ]
            + [image_token_problems(turns)]
        ).unique(maintain_order=True)
        good = turns.join(problems.select("source_file", "record"), on=["source_file", "record"], how="anti")
        self.seen_ids.update(good["sample_id"].drop_nulls().unique().to_list())

        samples = (
            good.with_columns(pl.coalesce("kind", pl.col("_role").replace_strict(KIND_BY_ROLE)).alias("kind"))
            .sort("turn_index")
            .group_by("sample_id", maintain_order=True)
            .agg(
                pl.col("image").first(),
                pl.col("source_file").first(),
                pl.len().cast(pl.Int32).alias("n_turns"),
                pl.struct(pl.col("_role").alias("role"), "kind", "text").alias("turns"),
            )
            .with_columns(pl.lit(self.dataset).alias("dataset"), pl.lit(self.split).alias("split"))
            .select(list(SAMPLES.schema))
        )
        quarantine = pl.concat(
            [
                problems.with_columns(
                    pl.lit(self.dataset).alias("dataset"), pl.lit(self.split).alias("split")
                ),
                pl.DataFrame(
                    batch.quarantine,
                    schema={k: pl.String() for k in ("source_file", "record", "field", "reason")},
                ).with_columns(pl.lit(self.dataset).alias("dataset"), pl.lit(self.split).alias("split")),
            ],
            how="diagonal",
        ).select(list(QUARANTINE_SCHEMA))
        return samples, quarantine


def image_token_problems(turns: pl.DataFrame) -> pl.DataFrame:
    """One problem row per record whose `<image>` token count does not fit its image (0 or 1 per sample):
    more than one token, or a token and no image. No token with an image is fine (the export adds it)."""
    per_record = turns.group_by("source_file", "record", maintain_order=True).agg(
        pl.col("text").str.count_matches(IMAGE_TOKEN, literal=True).sum().alias("tokens"),
        pl.col("image").is_not_null().any().cast(pl.Int64).alias("images"),
    )
    return per_record.filter(pl.col("tokens") > pl.col("images")).select(
        "source_file",
        "record",
        pl.lit("conversations").alias("field"),
        pl.when(pl.col("images") == 0)
        .then(
            pl.format(
                "{} <image> token(s) but the sample has no image; remove the token or give the record an image",
                pl.col("tokens"),
            )
        )
        .otherwise(
            pl.format(
                "{} <image> tokens but the sample has {} image; expected one token per image "
                "(or none: the corpus export adds it)",
                pl.col("tokens"),
                pl.col("images"),
            )
        )
        .alias("reason"),
    )


def iter_samples(
    config: DatasetConfig, batch_records: int = 5000
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """(samples, quarantine) batches for every split of one dataset. Usable from a notebook."""
    fmt = FORMATS.create(config.format)
    for split in fmt.splits(config):
        validate = _Validator(config.name, split, config.max_text_chars)
        for batch in fmt.batches(config, split, batch_records):
            yield validate(batch)


def ingest_dataset(warehouse: Warehouse, config: DatasetConfig, batch_records: int = 5000) -> IngestReport:
    """Write one dataset's `samples` and `quarantine` partitions (partition = dataset name)."""
    report = IngestReport(dataset=config.name)
    started = time.perf_counter()
    quarantined: list[pl.DataFrame] = []
    # the record count is unknown until the files are parsed: samples done and rate, no ETA
    progress = Progress(f"ingest {config.name}", total=None, unit="samples")

    def sample_batches() -> Iterator[pl.DataFrame]:
        for samples, quarantine in iter_samples(config, batch_records):
            quarantined.append(quarantine)
            for split, n in samples.group_by("split").len().iter_rows():
                report.per_split[split] = report.per_split.get(split, 0) + n
            report.turns += int(samples["n_turns"].sum() or 0)
            progress.update(samples.height, extra=f"{sum(q.height for q in quarantined):,} quarantine rows")
            yield samples
        progress.update(0, extra=f"{sum(q.height for q in quarantined):,} quarantine rows", force=True)

    report.samples = warehouse.write_partition("samples", sample_batches(), partition=config.name)
    rejected = pl.concat(quarantined) if quarantined else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    warehouse.write_partition("quarantine", rejected, partition=config.name)
    report.quarantined = rejected.select("source_file", "record").n_unique() if rejected.height else 0
    report.reasons = dict(rejected.group_by("field").len().iter_rows()) if rejected.height else {}
    for row in rejected.head(20).iter_rows(named=True):
        log.warning(
            "quarantined %s %s field %s: %s", row["source_file"], row["record"], row["field"], row["reason"]
        )
    report.seconds = time.perf_counter() - started
    return report
