"""Warehouse tables of the expert review loop (polars types only: `vlmfr sql` imports this)."""

from __future__ import annotations

import polars as pl

from vlmfr_data.schema import TableSpec

REVIEW_QUEUE = TableSpec(
    name="review_queue",
    schema={
        "queue_id": pl.String(),  # short hash of the exported queue: the page's localStorage key
        "rank": pl.Int32(),
        "segment_id": pl.String(),
        "kind": pl.String(),
        "text_en": pl.String(),
        "context": pl.String(),  # the most frequent previous turn (for an answer: its question)
        "n_occurrences": pl.Int64(),
        "selection": pl.String(),  # "priority" (occurrences x uncertainty) or "stratified" (random draw)
        "stratum": pl.String(),  # "<system>/<tier>" of the rated translation
        "rated_system": pl.String(),  # whose French the reviewer rates
        "rated_fr": pl.String(),
        "best_system": pl.String(),
        "combined": pl.Float64(),  # of the rated translation
        "tier": pl.String(),
        "uncertainty": pl.Float64(),
        "engine_agreement": pl.Float64(),  # best chrF (0-100) between the best and another engine's output
        "priority": pl.Float64(),
        "translations": pl.List(pl.Struct({"system": pl.String(), "text_fr": pl.String()})),
        "created_at": pl.Datetime("us", "UTC"),
    },
    description="Segments where expert review is worth most (occurrences x uncertainty of the best "
    "translation) plus a stratified random share by system and tier; what `vlmfr review export` wrote last.",
)

EXPERT_REVIEWS = TableSpec(
    name="expert_reviews",
    schema={
        "file_hash": pl.String(),  # sha256 of the review file's bytes (16 hex): the `human` system_version
        "source_file": pl.String(),
        "row": pl.Int32(),  # line of the row in the file (header = line 1)
        "segment_id": pl.String(),
        "rated_system": pl.String(),
        "rated_fr": pl.String(),
        "reviewer": pl.String(),
        "reviewed_at": pl.String(),  # ISO date or date-time as the reviewer's file says
        "rating": pl.Int8(),  # 1-5 or null
        "correction": pl.String(),
        "comment": pl.String(),
        "action": pl.String(),  # corrected | approved | rejected | rated | commented
        "selection": pl.String(),  # the queue's "priority" / "stratified" when the file says (agreement)
        "imported_at": pl.Datetime("us", "UTC"),
    },
    description="Imported expert reviews: reviewer, date, 1-5 rating of one system's French, correction, "
    "comment, and the review file's hash (the version of the `human` translations it created).",
)

TABLES: list[TableSpec] = [REVIEW_QUEUE, EXPERT_REVIEWS]
