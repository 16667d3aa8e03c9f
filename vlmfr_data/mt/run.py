"""Translate segments with one MT system into the append-only `translations` cache.

- Only what is missing is translated: segments with no successful row for (system, system_version).
- Each batch is appended as its own Parquet part as soon as it is done, so a killed run loses at most
  the batch in flight, and a re-run picks up where it stopped.
- A batch that raises is retried segment by segment, so one bad input costs one row (with its error),
  not the batch; failed segments are retried on the next run.
- The `translations` view shows the latest attempt per (segment, system, version).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from vlmfr_data.catalog import TRANSLATIONS
from vlmfr_data.mt.base import BackendUnavailable, MTSystem
from vlmfr_data.mt.spans import Masked, mask, restore
from vlmfr_data.mt.tidy import tidy
from vlmfr_data.progress import Progress
from vlmfr_data.store import Warehouse

log = logging.getLogger(__name__)


@dataclass
class TranslateReport:
    system: str
    version: str
    available: bool = True
    reason: str = ""
    todo: int = 0
    translated: int = 0
    failed: int = 0
    span_flags: int = 0
    batches: int = 0
    seconds: float = 0.0
    engine_seconds: float = 0.0
    samples: list[dict[str, str]] = field(default_factory=list)

    @property
    def segments_per_second(self) -> float:
        return (self.translated + self.failed) / self.seconds if self.seconds else 0.0


def pending_segments(warehouse: Warehouse, system: MTSystem, segments: pl.DataFrame) -> pl.DataFrame:
    """Segments without a successful translation by this system version."""
    con = warehouse.connect()
    try:
        done = con.execute(
            "SELECT segment_id FROM translations WHERE system = ? AND system_version = ? AND error IS NULL",
            [system.name, system.version],
        ).pl()
    finally:
        con.close()
    return segments.join(done, on="segment_id", how="anti")


def translate_segments(
    warehouse: Warehouse,
    system: MTSystem,
    segments: pl.DataFrame | None = None,
    batch_size: int = 64,
    on_batch: Callable[[TranslateReport], None] | None = None,
    emit: Callable[[str], None] | None = None,
) -> TranslateReport:
    """Translate every pending segment (default: the `segments` table) with `system`.

    Progress (segments done, rate, ETA) goes to the `vlmfr.progress` logger after each batch (at most
    every 5 s, always the last), and to `emit` too when given (e.g. Dagster's `context.log.info`).
    """
    availability = system.availability()
    report = TranslateReport(system=system.name, version=system.version if availability.ok else "")
    if not availability.ok:
        raise BackendUnavailable(f"MT system {system.name!r} is unavailable: {availability.reason}")
    if segments is None:
        segments = warehouse.read("segments")
    todo = pending_segments(warehouse, system, segments.select("segment_id", "text_en", "protected_spans"))
    # Similar lengths in a batch: less padding for neural engines, same work for the others.
    todo = todo.sort(pl.col("text_en").str.len_chars(), "segment_id")
    report.todo = todo.height
    started = time.perf_counter()
    log.info(
        "%s (%s): %d of %d segments to translate", system.name, report.version, todo.height, segments.height
    )
    progress = Progress(f"translate {system.name}", total=todo.height, unit="segments", emit=emit)
    for offset in range(0, todo.height, batch_size):
        batch = todo.slice(offset, batch_size)
        rows = translate_batch(system, batch)
        warehouse.append("translations", rows, partition=system.name)
        report.batches += 1
        report.translated += rows.filter(pl.col("error").is_null()).height
        report.failed += rows.filter(pl.col("error").is_not_null()).height
        report.span_flags += rows.filter(pl.col("spans_ok").not_()).height
        report.engine_seconds += float(rows["seconds"].sum() or 0.0)
        report.seconds = time.perf_counter() - started
        progress.update(batch.height, extra=f"{report.failed} failed, {report.span_flags} with span problems")
        if on_batch:
            on_batch(report)
    report.seconds = time.perf_counter() - started
    return report


def translate_batch(system: MTSystem, batch: pl.DataFrame) -> pl.DataFrame:
    masked = [
        mask(text, spans or [], system.masked_kinds, system.sentinel)
        for text, spans in batch.select("text_en", "protected_spans").iter_rows()
    ]
    batch_id = f"{time.time_ns():x}"
    started = time.perf_counter()
    try:
        outputs: list[str | None] = list(system.translate([m.text for m in masked]))
        if len(outputs) != len(masked):
            raise RuntimeError(f"engine returned {len(outputs)} translations for {len(masked)} inputs")
        errors: list[str | None] = [None] * len(masked)
        seconds = [(time.perf_counter() - started) / len(masked)] * len(masked)
    except Exception as exc:  # noqa: BLE001 - isolate the failing segments one by one
        if len(masked) == 1:
            outputs, errors = [None], [f"{type(exc).__name__}: {exc}"]
            seconds = [time.perf_counter() - started]
        else:
            log.warning("%s: batch of %d failed (%s); retrying one by one", system.name, len(masked), exc)
            outputs, errors, seconds = [], [], []
            for m in masked:
                one_started = time.perf_counter()
                try:
                    (out,) = system.translate([m.text])
                    outputs.append(out)
                    errors.append(None)
                except Exception as one_exc:  # noqa: BLE001
                    outputs.append(None)
                    errors.append(f"{type(one_exc).__name__}: {one_exc}")
                seconds.append(time.perf_counter() - one_started)
    texts, flags = zip(
        *(_restore_checked(out, m) for out, m in zip(outputs, masked, strict=True)), strict=True
    )
    errors = [
        err or (None if text is not None and text.strip() else "empty output")
        for err, text in zip(errors, texts, strict=True)
    ]
    return pl.DataFrame(
        {
            "segment_id": batch["segment_id"],
            "system": [system.name] * batch.height,
            "system_version": [system.version] * batch.height,
            "text_fr": list(texts),
            "seconds": seconds,
            "error": errors,
            "spans_ok": [not f for f in flags],
            "span_problems": list(flags),
            "batch_id": [batch_id] * batch.height,
            "created_at": [datetime.now(UTC)] * batch.height,
        },
        schema=TRANSLATIONS.schema,
    )


def _restore_checked(output: str | None, masked: Masked) -> tuple[str | None, list[str]]:
    if output is None:
        return None, []
    # tidy before restoring: masked spans (code, URLs) keep their own spacing
    return restore(tidy(output), masked)
