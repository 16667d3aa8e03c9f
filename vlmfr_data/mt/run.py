"""Translate segments with one MT system into the append-only `translations` cache.

- Only what is missing is translated: segments with no successful row for (system, system_version).
- Each batch is appended as its own Parquet part as soon as it is done, so a killed run loses at most
  the batch in flight, and a re-run picks up where it stopped.
- A batch that raises is retried segment by segment, so one bad input costs one row (with its error),
  not the batch; failed segments are retried on the next run.
- The `translations` view shows the latest attempt per (segment, system, version).
- Short segments with contexts (`segment_contexts`) are translated alone and inside each context in the
  same engine call; the recovered spans vote (`mt/context.py`). The cache key is (segment, contexts).
- Engines that mark their unknown words (`translate_marked`, Apertium) fill `unknown_words`.
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
from vlmfr_data.mt.context import context_key, in_context, recover_span, vote
from vlmfr_data.mt.spans import Masked, mask, restore
from vlmfr_data.mt.tidy import tidy
from vlmfr_data.progress import Progress
from vlmfr_data.segments import protected_spans
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


CONTEXT_COLUMNS = {
    "contexts_en": pl.List(pl.String()),
    "context_weights": pl.List(pl.Int64()),
    "context_key": pl.String(),
}


def with_contexts(warehouse: Warehouse, segments: pl.DataFrame) -> pl.DataFrame:
    """`segments` plus each one's contexts (most frequent first), their weights and cache key."""
    contexts = (
        warehouse.read("segment_contexts")
        .sort("segment_id", "rank")
        .group_by("segment_id", maintain_order=True)
        .agg(pl.col("context_en").alias("contexts_en"), pl.col("n_occurrences").alias("context_weights"))
    )
    contexts = contexts.with_columns(
        pl.col("contexts_en")
        .map_elements(lambda contexts: context_key(contexts.to_list()), return_dtype=pl.String)
        .alias("context_key")
    )
    return segments.join(contexts, on="segment_id", how="left").with_columns(
        pl.col("context_key").fill_null("")
    )


def pending_segments(warehouse: Warehouse, system: MTSystem, segments: pl.DataFrame) -> pl.DataFrame:
    """Segments without a successful translation by this system version (in these contexts)."""
    con = warehouse.connect()
    try:
        # rows written before contexts existed have no key (a file set without the column at all, too)
        columns = {row[0] for row in con.execute("DESCRIBE translations").fetchall()}
        key = "coalesce(context_key, '')" if "context_key" in columns else "''"
        done = con.execute(
            f"SELECT segment_id, {key} AS context_key FROM translations "
            "WHERE system = ? AND system_version = ? AND error IS NULL",
            [system.name, system.version],
        ).pl()
    finally:
        con.close()
    if "context_key" not in segments.columns:
        segments = segments.with_columns(pl.lit("").alias("context_key"))
    return segments.join(done, on=["segment_id", "context_key"], how="anti")


def translate_segments(
    warehouse: Warehouse,
    system: MTSystem,
    segments: pl.DataFrame | None = None,
    batch_size: int = 64,
    on_batch: Callable[[TranslateReport], None] | None = None,
    emit: Callable[[str], None] | None = None,
    context: bool = True,
) -> TranslateReport:
    """Translate every pending segment (default: the `segments` table) with `system`.

    Progress (segments done, rate, ETA) goes to the `vlmfr.progress` logger after each batch (at most
    every 5 s, always the last), and to `emit` too when given (e.g. Dagster's `context.log.info`).
    `context`: translate short segments inside their contexts (`segment_contexts`), see mt/context.py.
    """
    availability = system.availability()
    report = TranslateReport(system=system.name, version=system.version if availability.ok else "")
    if not availability.ok:
        raise BackendUnavailable(f"MT system {system.name!r} is unavailable: {availability.reason}")
    if segments is None:
        segments = warehouse.read("segments")
    todo = segments.select("segment_id", "text_en", "protected_spans")
    if context:
        todo = with_contexts(warehouse, todo)
    todo = pending_segments(warehouse, system, todo)
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
    """One engine call for a batch of segments: each segment alone, plus each short segment inside each
    of its contexts (when `batch` has `contexts_en`)."""
    if "contexts_en" not in batch.columns:
        batch = batch.with_columns(
            pl.lit(None, CONTEXT_COLUMNS["contexts_en"]).alias("contexts_en"),
            pl.lit(None, CONTEXT_COLUMNS["context_weights"]).alias("context_weights"),
            pl.lit("").alias("context_key"),
        )
    sentence_case = getattr(system, "context_style", "source") == "sentence"
    masked: list[Masked] = []
    owners: list[tuple[int, bool]] = []  # per engine input: (row, inside a context)
    for row, (text, spans, contexts) in enumerate(
        batch.select("text_en", "protected_spans", "contexts_en").iter_rows()
    ):
        masked.append(mask(text, spans or [], system.masked_kinds, system.sentinel))
        owners.append((row, False))
        for context_text in contexts or []:
            combined = in_context(context_text, text, sentence_case)
            masked.append(mask(combined, protected_spans(combined), system.masked_kinds, system.sentinel))
            owners.append((row, True))
    batch_id = f"{time.time_ns():x}"
    outputs, marks, errors, seconds = _run_engine(system, masked)
    restored = [_restore_checked(out, m) for out, m in zip(outputs, masked, strict=True)]
    n = batch.height
    texts: list[str | None] = [None] * n
    flags: list[list[str]] = [[] for _ in range(n)]
    row_errors: list[str | None] = [None] * n
    row_seconds = [0.0] * n
    unknown: list[list[str] | None] = [None] * n
    candidates: list[list[str | None] | None] = [None] * n
    span_marks: list[list[str] | None] = [None] * n
    sources = batch["text_en"].to_list()
    for (row, in_a_context), (text, flag), error, mark, second in zip(
        owners, restored, errors, marks, seconds, strict=True
    ):
        row_seconds[row] += second
        if not in_a_context:
            texts[row], flags[row], row_errors[row], unknown[row] = text, list(flag), error, mark
        else:
            span = recover_span(text, sources[row])
            candidates[row] = [*(candidates[row] or []), span]
            if mark is not None:  # the marks that fall inside the recovered span
                span_marks[row] = [*(span_marks[row] or []), *_marks_in(mark, span)]
    weights = batch["context_weights"].to_list()
    for row in range(n):
        recovered = candidates[row]
        voted = vote(recovered, weights[row]) if recovered else None
        if voted is not None and row_errors[row] is None:
            texts[row] = voted
            if unknown[row] is not None:
                unknown[row] = list(dict.fromkeys(span_marks[row] or []))
    final_errors = [
        err or (None if text is not None and text.strip() else "empty output")
        for err, text in zip(row_errors, texts, strict=True)
    ]
    return pl.DataFrame(
        {
            "segment_id": batch["segment_id"],
            "system": [system.name] * n,
            "system_version": [system.version] * n,
            "text_fr": texts,
            "seconds": row_seconds,
            "error": final_errors,
            "spans_ok": [not f for f in flags],
            "span_problems": flags,
            "batch_id": [batch_id] * n,
            "created_at": [datetime.now(UTC)] * n,
            "unknown_words": unknown,
            "contexts_en": batch["contexts_en"],
            "candidates_fr": candidates,
            "context_key": batch["context_key"],
        },
        schema=TRANSLATIONS.schema,
    )


def _marks_in(marks: list[str], span: str | None) -> list[str]:
    if not span:
        return []
    words = {w.casefold() for w in span.split()}
    return [m for m in marks if m[1:].casefold() in words]


def _translate(system: MTSystem, texts: list[str]) -> tuple[list[str], list[list[str] | None]]:
    marked = getattr(system, "translate_marked", None)
    if marked is not None:
        out, marks = marked(texts)
        return list(out), list(marks)
    return list(system.translate(texts)), [None] * len(texts)


def _run_engine(
    system: MTSystem, masked: list[Masked]
) -> tuple[list[str | None], list[list[str] | None], list[str | None], list[float]]:
    """Outputs, marks, errors and seconds per input; a failing batch is retried input by input.

    An engine that reports failures per input (`translate_each`, e.g. a server: one request per input)
    keeps its successes and an error for each failed input, without a second pass.
    """
    started = time.perf_counter()
    each = getattr(system, "translate_each", None)
    if each is not None:
        results = list(each([m.text for m in masked]))
        if len(results) != len(masked):
            raise RuntimeError(f"engine returned {len(results)} results for {len(masked)} inputs")
        share = (time.perf_counter() - started) / max(len(masked), 1)
        return (
            [None if isinstance(r, Exception) else r for r in results],
            [None] * len(masked),
            [f"{type(r).__name__}: {r}" if isinstance(r, Exception) else None for r in results],
            [share] * len(masked),
        )
    try:
        outputs, marks = _translate(system, [m.text for m in masked])
        if len(outputs) != len(masked):
            raise RuntimeError(f"engine returned {len(outputs)} translations for {len(masked)} inputs")
        share = (time.perf_counter() - started) / len(masked)
        return list(outputs), marks, [None] * len(masked), [share] * len(masked)
    except Exception as exc:  # noqa: BLE001 - isolate the failing segments one by one
        if len(masked) == 1:
            return [None], [None], [f"{type(exc).__name__}: {exc}"], [time.perf_counter() - started]
        log.warning("%s: batch of %d failed (%s); retrying one by one", system.name, len(masked), exc)
    outputs_1: list[str | None] = []
    marks_1: list[list[str] | None] = []
    errors: list[str | None] = []
    seconds: list[float] = []
    for m in masked:
        one_started = time.perf_counter()
        try:
            (out,), (mark,) = _translate(system, [m.text])
            outputs_1.append(out)
            marks_1.append(mark)
            errors.append(None)
        except Exception as one_exc:  # noqa: BLE001
            outputs_1.append(None)
            marks_1.append(None)
            errors.append(f"{type(one_exc).__name__}: {one_exc}")
        seconds.append(time.perf_counter() - one_started)
    return outputs_1, marks_1, errors, seconds


def _restore_checked(output: str | None, masked: Masked) -> tuple[str | None, list[str]]:
    if output is None:
        return None, []
    # tidy before restoring: masked spans (code, URLs) keep their own spacing
    return restore(tidy(output), masked)
