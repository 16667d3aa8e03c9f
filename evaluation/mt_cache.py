"""Translate loose strings (benchmark questions, model answers) through the platform's MT code, cached per
distinct string.

Each string goes through the same path as the corpus translations (`vlmfr_data.mt.run`): protected spans
masked and restored, a failing batch retried one by one, the error kept. Results live in
`eval_translations` (partition = MT system), keyed by the hash of the normalised text and the system
version; an EN->FR system also reuses what the corpus stage already put in `translations` for the same
segment and version. easy-vqa has 107 distinct questions and 13 answers, so translate-test costs almost
nothing after its first run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from evaluation.tables import EVAL_TRANSLATIONS
from vlmfr_data.mt.base import BackendUnavailable, MTSystem
from vlmfr_data.mt.run import translate_batch  # the platform batch path: masking, span checks, retries
from vlmfr_data.segments import normalise, segment_id, segments_from_texts
from vlmfr_data.store import Warehouse

log = logging.getLogger(__name__)


@dataclass
class CachedTranslation:
    """Normalised source -> translation (None when the engine failed), with what this call cost."""

    texts: dict[str, str | None] = field(default_factory=dict)
    # the engine seconds each distinct string cost when it was translated (cached or now)
    seconds: dict[str, float] = field(default_factory=dict)
    translated_now: int = 0
    reused: int = 0
    failed: int = 0
    wall_seconds: float = 0.0

    def lookup(self, text: str | None) -> str | None:
        return None if text is None else self.texts.get(normalise(text))


def translate_cached(
    warehouse: Warehouse, system: MTSystem, texts: list[str], batch_size: int = 64
) -> CachedTranslation:
    """Translate every distinct string of `texts` not yet cached for this system version."""
    started = time.perf_counter()
    availability = system.availability()
    if not availability.ok:
        raise BackendUnavailable(f"MT system {system.name!r} is unavailable: {availability.reason}")
    distinct = list(dict.fromkeys(normalise(t) for t in texts if t is not None and t.strip()))
    wanted = pl.DataFrame({"segment_id": [segment_id(t) for t in distinct], "source_text": distinct})
    cached = _cached_rows(warehouse, system).join(wanted.select("segment_id"), on="segment_id")
    result = CachedTranslation()
    for sid, text, seconds in cached.select("segment_id", "text", "seconds").iter_rows():
        result.texts[sid] = text
        result.seconds[sid] = seconds or 0.0
    pending = [t for t in distinct if segment_id(t) not in result.texts]
    result.reused = len(distinct) - len(pending)
    if pending:
        segments = segments_from_texts(pending, kind="eval")
        for offset in range(0, segments.height, batch_size):
            rows = translate_batch(system, segments.slice(offset, batch_size))
            frame = rows.join(
                segments.select("segment_id", pl.col("text_en").alias("source_text")), on="segment_id"
            )
            warehouse.append(
                "eval_translations",
                frame.select(
                    "segment_id",
                    "source_text",
                    "system",
                    "system_version",
                    pl.lit(system.source_lang).alias("source_lang"),
                    pl.lit(system.target_lang).alias("target_lang"),
                    pl.col("text_fr").alias("text"),
                    "seconds",
                    "error",
                    "spans_ok",
                    pl.lit(datetime.now(UTC)).alias("created_at"),
                ).cast(EVAL_TRANSLATIONS.schema),  # type: ignore[arg-type]
                partition=system.name,
            )
            for sid, text, seconds, error in rows.select(
                "segment_id", "text_fr", "seconds", "error"
            ).iter_rows():
                result.texts[sid] = None if error else text
                result.seconds[sid] = seconds or 0.0
                result.failed += error is not None
        result.translated_now = len(pending)
        log.info("%s: translated %d new strings, reused %d", system.name, len(pending), result.reused)
    # keyed by normalised text for callers
    by_id = {segment_id(t): t for t in distinct}
    result.texts = {by_id[sid]: text for sid, text in result.texts.items() if sid in by_id}
    result.seconds = {by_id[sid]: s for sid, s in result.seconds.items() if sid in by_id}
    result.wall_seconds = time.perf_counter() - started
    return result


def _cached_rows(warehouse: Warehouse, system: MTSystem) -> pl.DataFrame:
    """Successful cached translations of this system version: ours, then the corpus stage's (EN->FR)."""
    ours = warehouse.sql(
        "SELECT segment_id, text, seconds FROM eval_translations "
        f"WHERE system = $${system.name}$$ AND system_version = $${system.version}$$ AND error IS NULL"
    )
    if (system.source_lang, system.target_lang) != ("en", "fr") or not warehouse.partitions("translations"):
        return ours
    corpus = warehouse.sql(
        "SELECT segment_id, text_fr AS text, seconds FROM translations "
        f"WHERE system = $${system.name}$$ AND system_version = $${system.version}$$ AND error IS NULL"
    )
    return pl.concat([ours, corpus.join(ours, on="segment_id", how="anti")])
