"""The data layer's warehouse tables and views (ingest, segments, translations, quality, gold).

Tables are what a stage writes (Parquet partitions); views are SQL over tables, created after them.
Review, training and evaluation declare theirs in their own light `tables.py` modules; the whole
catalog is `vlmfr_data.schema.installed_catalog()` (a `Warehouse` uses it by default), and a test that
adds a table builds its own (`installed_catalog().extended(...)`) instead of leaking it into others.
"""

from __future__ import annotations

import polars as pl

from vlmfr_data.schema import TableSpec, ViewSpec
from vlmfr_data.tiers import tier_order_sql

# ----------------------------------------------------------------------------- shared column types
TURN_STRUCT = pl.Struct({"role": pl.String(), "kind": pl.String(), "text": pl.String()})
SPAN_STRUCT = pl.Struct({"kind": pl.String(), "start": pl.Int32(), "end": pl.Int32(), "text": pl.String()})
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "dataset": pl.String(),
    "split": pl.String(),
    "source_file": pl.String(),
    "record": pl.String(),
    "field": pl.String(),
    "reason": pl.String(),
}

# The latest row per key: a new system or signal version supersedes the old rows in the view while the
# Parquet cache keeps every version.
_LATEST = (
    "SELECT * FROM {{source}} QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY created_at DESC) = 1"
)

# ------------------------------------------------------------------------------------------ ingest
SAMPLES = TableSpec(
    name="samples",
    schema={
        "dataset": pl.String(),
        "split": pl.String(),
        "sample_id": pl.String(),
        "image": pl.String(),
        "source_file": pl.String(),
        "n_turns": pl.Int32(),
        "turns": pl.List(TURN_STRUCT),
    },
    description="Canonical English samples: one row per sample, ordered conversation turns.",
)
QUARANTINE = TableSpec(
    name="quarantine", schema=QUARANTINE_SCHEMA, description="Rejected source records and why."
)

# ---------------------------------------------------------------------------------------- segments
SAMPLE_SEGMENTS = TableSpec(
    name="sample_segments",
    schema={
        "dataset": pl.String(),
        "split": pl.String(),
        "sample_id": pl.String(),
        "turn_index": pl.Int32(),
        "piece_index": pl.Int32(),
        "literal": pl.String(),  # set for untranslated pieces
        "segment_id": pl.String(),  # set for translatable pieces
        "surface": pl.String(),  # the occurrence's exact text where it differs from segments.text_en
    },
    description="Sample -> segment map: the ordered pieces of every turn.",
)
DATASET_SEGMENTS = TableSpec(
    name="dataset_segments",
    schema={
        "dataset": pl.String(),
        "segment_id": pl.String(),
        "text_en": pl.String(),
        "kind": pl.String(),
        "n_occurrences": pl.Int64(),
        "protected_spans": pl.List(SPAN_STRUCT),
    },
    description="Distinct segments of one dataset with their counts.",
)
SEGMENTS = TableSpec(
    name="segments",
    schema={
        "segment_id": pl.String(),
        "text_en": pl.String(),
        "kind": pl.String(),
        "n_occurrences": pl.Int64(),
        "n_chars": pl.Int32(),
        "n_protected": pl.Int32(),
        "protected_spans": pl.List(SPAN_STRUCT),
        "datasets": pl.List(pl.String()),
    },
    description="Every distinct translatable string across datasets: what the MT systems translate.",
)
SEGMENT_CONTEXTS = TableSpec(
    name="segment_contexts",
    schema={
        "segment_id": pl.String(),  # a short segment (an answer, a label of a few words)
        "rank": pl.Int32(),  # 1 = the context it follows most often
        "context_id": pl.String(),  # the segment it follows in the sample (its question, the turn's text)
        "context_en": pl.String(),
        "n_occurrences": pl.Int64(),  # how often it follows this context
    },
    description="Short segments and the segments they most often follow (an answer's questions): the "
    "context MT translates them in.",
)

# ------------------------------------------------------------------------------------- translation
TRANSLATIONS = TableSpec(
    name="translations",
    schema={
        "segment_id": pl.String(),
        "system": pl.String(),
        "system_version": pl.String(),
        "text_fr": pl.String(),
        "seconds": pl.Float64(),  # this segment's share of its batch's wall time
        "error": pl.String(),
        "spans_ok": pl.Boolean(),
        "span_problems": pl.List(pl.String()),
        "batch_id": pl.String(),
        "created_at": pl.Datetime("us", "UTC"),
        # words the engine itself marked as unknown (Apertium `*teal`); null: the engine marks nothing
        "unknown_words": pl.List(pl.String()),
        # short segments are translated inside their contexts (segment_contexts) and the span recovered:
        # the contexts used, the span recovered from each (null: not found), and their cache key
        "contexts_en": pl.List(pl.String()),
        "candidates_fr": pl.List(pl.String()),
        "context_key": pl.String(),
    },
    view_sql=_LATEST.format(keys="segment_id, system"),
    description="Latest translation attempt per (segment, MT system); errors kept for retry.",
)

# ----------------------------------------------------------------------------------------- quality
QUALITY_SCORES = TableSpec(
    name="quality_scores",
    schema={
        "segment_id": pl.String(),
        "system": pl.String(),
        "system_version": pl.String(),
        "signal": pl.String(),
        "signal_version": pl.String(),
        "value": pl.Float64(),
        "score": pl.Float64(),
        "gate": pl.String(),
        "detail": pl.String(),
        "created_at": pl.Datetime("us", "UTC"),
    },
    view_sql=_LATEST.format(keys="segment_id, system, signal"),
    description="One row per (segment, MT system, quality signal): raw value, [0,1] score, gate.",
)
QUALITY_SIGNALS = TableSpec(
    name="quality_signals",
    schema={
        "signal": pl.String(),
        "signal_version": pl.String(),
        "status": pl.String(),
        "reason": pl.String(),
        "weight": pl.Float64(),
        "description": pl.String(),
        "pairs_scored": pl.Int64(),
        "new_pairs": pl.Int64(),
        "seconds": pl.Float64(),
    },
    description="Each configured quality signal: ok or skipped (with why), weight, documented range.",
)
TRANSLATION_QUALITY = TableSpec(
    name="translation_quality",
    schema={
        "segment_id": pl.String(),
        "system": pl.String(),
        "system_version": pl.String(),
        "text_fr": pl.String(),
        "combined": pl.Float64(),
        "n_signals": pl.Int32(),
        "gates": pl.List(pl.String()),
        "tier": pl.String(),
        "is_best": pl.Boolean(),
    },
    description="Combined score, gates and tier of every translation; is_best marks the system kept.",
)
FRENCH_SAMPLES = TableSpec(
    name="french_samples",
    schema={
        "dataset": pl.String(),
        "split": pl.String(),
        "sample_id": pl.String(),
        "image": pl.String(),
        "turns": pl.List(TURN_STRUCT),
        "tier": pl.String(),
        "min_combined": pl.Float64(),
        "systems": pl.List(pl.String()),
    },
    description="French samples rebuilt from the best translations, with their tier (worst segment).",
)

# -------------------------------------------------------------------------------------------- gold
GOLD_PAIRS = TableSpec(
    name="gold_pairs",
    schema={
        "gold_set": pl.String(),  # the [[gold]] entry the reference comes from
        "segment_id": pl.String(),
        "system": pl.String(),
        "text_en": pl.String(),
        "text_fr": pl.String(),
        "reference": pl.String(),
        "chrf": pl.Float64(),
        "gold_high": pl.Boolean(),  # chrf >= the configured [quality] gold_high_chrf
        "tier": pl.String(),
        "combined": pl.Float64(),
        "is_best": pl.Boolean(),  # the translation the French samples use
        "n_occurrences": pl.Int64(),  # how often the segment occurs in the data: what training consumes
        "is_consensus": pl.Boolean(),  # the translation that agrees most with the other systems'
    },
    description="Every translation that has a gold reference, with its sentence chrF against it, whether it "
    "is the chosen one, and how often its segment occurs.",
)
GOLD_SUMMARY = TableSpec(
    name="gold_summary",
    schema={
        "gold_set": pl.String(),
        "system": pl.String(),
        "pairs": pl.Int64(),
        "chrf": pl.Float64(),
        "bleu": pl.Float64(),
        "share_gold_high": pl.Float64(),
        "share_high_tier": pl.Float64(),
        "share_rejected": pl.Float64(),
        # the same shares weighted by how often each segment occurs (what training sees)
        "occurrences": pl.Int64(),
        "share_gold_high_occ": pl.Float64(),
        "share_high_tier_occ": pl.Float64(),
    },
    description="Per gold set and MT system, plus `selected` (the chosen translations), `oracle` (the best "
    "system per segment by gold chrF) and `consensus` (the one agreeing most with the others): corpus "
    "chrF/BLEU vs gold, share of gold-high translations and tier shares, per string and per occurrence "
    "(`_occ`).",
)
SIGNAL_CORRELATIONS = TableSpec(
    name="signal_correlations",
    schema={
        "gold_set": pl.String(),
        "signal": pl.String(),
        "system": pl.String(),  # `all`: every system's pairs together; else within that system
        "pairs": pl.Int64(),
        "spearman": pl.Float64(),
        "p_value": pl.Float64(),
        "spearman_occ": pl.Float64(),  # pairs weighted by their segment's occurrences
    },
    description="Spearman correlation of each quality signal (and the combined score) with gold sentence "
    "chrF, per gold set, over all systems and within each, per string and per occurrence.",
)
THRESHOLD_ABLATION = TableSpec(
    name="threshold_ablation",
    schema={
        "threshold": pl.Float64(),
        "samples": pl.Int64(),
        "share_of_samples": pl.Float64(),
        "translations_kept": pl.Int64(),
        "gold_precision": pl.Float64(),
        "gold_recall": pl.Float64(),
        "gold_precision_occ": pl.Float64(),  # weighted by segment occurrences
    },
    description="Per combined-score cut: samples kept (worst segment >= cut); on gold, precision and recall "
    "of gold-high translations among those kept, and the precision per occurrence.",
)

# ------------------------------------------------------------------------------------------- views
GOLD_TIERS = ViewSpec(
    name="gold_tiers",
    sql="SELECT tier, count(*) AS segments, sum(n_occurrences)::BIGINT AS occurrences, "
    "round(avg(gold_high::INT), 3) AS gold_precision, "
    "round(sum(gold_high::INT * n_occurrences) / sum(n_occurrences), 3) AS gold_precision_occ "
    f"FROM gold_pairs WHERE is_best GROUP BY tier ORDER BY {tier_order_sql()}",
    description="Chosen translations with gold, per tier: segments, occurrences, share gold-high per string "
    "and per occurrence.",
)
TIER_SUMMARY = ViewSpec(
    name="tier_summary",
    sql="SELECT dataset, tier, count(*) AS samples, "
    "round(100.0 * count(*) / sum(count(*)) OVER (PARTITION BY dataset), 1) AS pct_samples, "
    "round(avg(min_combined), 3) AS avg_min_combined "
    f"FROM french_samples GROUP BY dataset, tier ORDER BY dataset, {tier_order_sql()}",
    description="French samples per tier and dataset.",
)
CURRENT_QUALITY_SCORES = ViewSpec(
    name="current_quality_scores",
    sql="SELECT q.*, s.weight, s.status AS signal_status FROM quality_scores q "
    "JOIN quality_signals s ON q.signal = s.signal AND q.signal_version = s.signal_version",
    description="Scores of the signal versions the last scoring run used, with their weight.",
)

DATA_TABLES: list[TableSpec] = [
    SAMPLES,
    QUARANTINE,
    SAMPLE_SEGMENTS,
    DATASET_SEGMENTS,
    SEGMENTS,
    SEGMENT_CONTEXTS,
    TRANSLATIONS,
    QUALITY_SCORES,
    QUALITY_SIGNALS,
    TRANSLATION_QUALITY,
    FRENCH_SAMPLES,
    GOLD_PAIRS,
    GOLD_SUMMARY,
    SIGNAL_CORRELATIONS,
    THRESHOLD_ABLATION,
]
DATA_VIEWS: list[ViewSpec] = [TIER_SUMMARY, GOLD_TIERS, CURRENT_QUALITY_SCORES]

# this part of `installed_catalog()` (the `vlmfr.tables` entry point names this module)
TABLES = DATA_TABLES
VIEWS = DATA_VIEWS

__all__ = ["TABLES", "VIEWS"]
