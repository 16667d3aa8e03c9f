"""Segments: every translatable string, normalised, deduplicated by a stable hash, protected spans marked.

A turn's text is cut into pieces: literals that are never translated (line breaks, `<image>` and other
special tokens at a line's start or end, outer whitespace) and segments (the text between them). The
`sample_segments` map stores, per turn, the ordered pieces; joining the pieces back gives the original
turn byte for byte (English) or its translation (French) with `<image>` placement intact.

Segment identity is the hash of the normalised text (NFC, whitespace runs collapsed), so "what color is
the shape?" is translated once however many samples ask it (easy-vqa train: 38,575 questions, 107
distinct). Where an occurrence's surface differs from the normalised text, the map keeps the surface.

Fenced code blocks (``` or ~~~, tag included) are literal pieces, never translated.
Protected spans (special tokens inside a line, URLs, e-mail addresses, HTML entities, inline code,
placeholders, numbers) are stored with
character offsets on the normalised text; the MT step masks or checks them.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

import polars as pl

from vlmfr_data.catalog import DATASET_SEGMENTS, SAMPLE_SEGMENTS, SEGMENT_CONTEXTS, SEGMENTS, SPAN_STRUCT
from vlmfr_data.store import Warehouse

SPECIAL_TOKEN = r"<image>|<video>|<audio>|<\|[^|\n]{1,40}\|>"
# A fenced code block (CommonMark: a line opening with ``` or ~~~, an optional info string such as
# `python`, up to a closing fence line of the same character, or to the end of the turn when unclosed)
# is never translated: like a line break, it is cut out as a literal piece, fence and tag included, and
# comes back byte for byte. Inline code (`x`, ``x``) stays in its segment as a masked "code" span.
_FENCES = [
    rf"{c}{{3,}}{info}(?:\n(?:[\s\S]*?\n)?[ \t]*{c}{{3,}}[ \t]*(?=\r?\n|\Z)|[\s\S]*\Z)"
    for c, info in (("`", r"[^`\n]*"), ("~", r"[^\n]*"))
]
_LINE_BREAK = re.compile(rf"((?:\A|\s*\n)[ \t]*(?:{'|'.join(_FENCES)})|[ \t]*\r?\n\s*)")
_LEADING = re.compile(rf"^(?:\s*(?:{SPECIAL_TOKEN}))*\s*")
_TRAILING = re.compile(rf"\s*(?:(?:{SPECIAL_TOKEN})\s*)*$")
_WHITESPACE = re.compile(r"\s+")

# Order matters: an earlier kind claims its characters first (a URL's digits are not a number).
PROTECTED_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("special", re.compile(SPECIAL_TOKEN)),
    # a URL does not end with sentence punctuation ("see https://x.org/a." keeps its full stop)
    ("url", re.compile(r"(?:https?://|(?<![@\w.])www\.)[^\s<>\"')\]]*[^\s<>\"')\].,;:!?]")),
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")),
    # inline code: a run of 1-3 backticks, text, the same run (``a ` b`` holds a backtick)
    ("code", re.compile(r"(?<!`)(`{1,3})(?!`)[^\n]+?(?<!`)\1(?!`)")),
    # HTML entities (&quot; &amp; &#39; &#x27;): an engine drops or "translates" them
    ("entity", re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")),
    ("placeholder", re.compile(r"\{\{\s*[\w.]+\s*\}\}|\{[\w.]*\}|%\([\w]+\)[sdif]|%[sdif]|\$\{[\w.]+\}")),
    ("number", re.compile(r"(?<![\w.])[-+]?\d+(?:[.,:/]\d+)*%?(?![\w])")),
]


def normalise(text: str) -> str:
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def segment_id(normalised_text: str) -> str:
    return hashlib.sha1(normalised_text.encode("utf-8")).hexdigest()[:16]


def protected_spans(text: str) -> list[dict[str, object]]:
    spans: list[dict[str, object]] = []
    taken = [False] * len(text)
    for kind, pattern in PROTECTED_PATTERNS:
        for m in pattern.finditer(text):
            if any(taken[m.start() : m.end()]):
                continue
            taken[m.start() : m.end()] = [True] * (m.end() - m.start())
            spans.append({"kind": kind, "start": m.start(), "end": m.end(), "text": m.group()})
    return sorted(spans, key=lambda s: cast(int, s["start"]))


@dataclass(frozen=True)
class Piece:
    literal: str | None
    segment_id: str | None
    surface: str | None
    text_en: str | None


def decompose(text: str) -> list[Piece]:
    """Cut one turn into literal and segment pieces; "".join of literals and surfaces == text."""
    raw: list[tuple[bool, str]] = []  # (is_segment, text)
    for i, chunk in enumerate(_LINE_BREAK.split(text)):
        if i % 2 == 1 or not chunk:  # a line break run
            raw.append((False, chunk))
            continue
        lead = _LEADING.match(chunk).group()  # type: ignore[union-attr]
        rest = chunk[len(lead) :]
        trail = _TRAILING.search(rest).group() if rest else ""  # type: ignore[union-attr]
        body = rest[: len(rest) - len(trail)] if trail else rest
        raw.extend([(False, lead), (True, body), (False, trail)])
    pieces: list[Piece] = []
    literal = ""
    for is_segment, part in raw:
        if not is_segment or not part:
            literal += part
            continue
        if literal:
            pieces.append(Piece(literal, None, None, None))
            literal = ""
        norm = normalise(part)
        pieces.append(Piece(None, segment_id(norm), None if part == norm else part, norm))
    if literal:
        pieces.append(Piece(literal, None, None, None))
    return pieces


def _turns(samples: pl.DataFrame) -> pl.DataFrame:
    return (
        samples.select("dataset", "split", "sample_id", "turns")
        .with_columns(pl.int_ranges(pl.col("turns").list.len()).cast(pl.List(pl.Int32)).alias("turn_index"))
        .explode("turns", "turn_index")
        .unnest("turns")
    )


@dataclass
class SegmentReport:
    dataset: str
    turns: int = 0
    pieces: int = 0
    distinct_segments: int = 0
    seconds: float = 0.0


def build_sample_segments(warehouse: Warehouse, dataset: str, batch_rows: int = 20000) -> SegmentReport:
    """Write `sample_segments` and `dataset_segments` for one dataset's samples, streamed in batches.

    Decomposition is Python regex work, so it runs once per distinct turn text, not per row.
    """
    started = time.perf_counter()
    report = SegmentReport(dataset=dataset)
    pieces_by_text: dict[str, list[Piece]] = {}
    counts: list[pl.DataFrame] = []

    def batches() -> Iterator[pl.DataFrame]:
        for samples in warehouse.iter_batches("samples", dataset, batch_rows):
            turns = _turns(samples)
            report.turns += turns.height
            texts = turns["text"].unique().to_list()
            for text in texts:
                if text not in pieces_by_text:
                    pieces_by_text[text] = decompose(text)
            pieces = pl.DataFrame(
                [
                    {
                        "text": t,
                        "piece_index": i,
                        "literal": p.literal,
                        "segment_id": p.segment_id,
                        "surface": p.surface,
                        "text_en": p.text_en,
                    }
                    for t in texts
                    for i, p in enumerate(pieces_by_text[t])
                ],
                schema={
                    "text": pl.String(),
                    "piece_index": pl.Int32(),
                    "literal": pl.String(),
                    "segment_id": pl.String(),
                    "surface": pl.String(),
                    "text_en": pl.String(),
                },
            )
            mapped = turns.join(pieces, on="text", how="left")
            counts.append(
                mapped.filter(pl.col("segment_id").is_not_null())
                .group_by("segment_id", "text_en", "kind")
                .len("n_occurrences")
            )
            report.pieces += mapped.height
            yield mapped.select(list(SAMPLE_SEGMENTS.schema))

    warehouse.write_partition("sample_segments", batches(), partition=dataset)
    per_kind = (
        pl.concat(counts).group_by("segment_id", "text_en", "kind").agg(pl.col("n_occurrences").sum())
        if counts
        else pl.DataFrame(
            schema={
                "segment_id": pl.String(),
                "text_en": pl.String(),
                "kind": pl.String(),
                "n_occurrences": pl.UInt32(),
            }
        )
    )
    # A string used both as a question and as an answer gets the kind it has most often.
    distinct = (
        per_kind.sort(["n_occurrences", "kind"], descending=[True, False])
        .group_by("segment_id", maintain_order=True)
        .agg(pl.col("text_en").first(), pl.col("kind").first(), pl.col("n_occurrences").sum().cast(pl.Int64))
    )
    distinct = distinct.with_columns(
        pl.Series(
            "protected_spans",
            [protected_spans(t) for t in distinct["text_en"].to_list()],
            dtype=pl.List(SPAN_STRUCT),
        ),
        pl.lit(dataset).alias("dataset"),
    )
    warehouse.write_partition(
        "dataset_segments", distinct.select(list(DATASET_SEGMENTS.schema)), partition=dataset
    )
    report.distinct_segments = distinct.height
    report.seconds = time.perf_counter() - started
    return report


def build_segments(warehouse: Warehouse, datasets: list[str] | None = None) -> pl.DataFrame:
    """Aggregate `dataset_segments` of the given datasets (default: all ingested) into `segments`."""
    per_dataset = warehouse.scan("dataset_segments")
    if datasets is not None:
        per_dataset = per_dataset.filter(pl.col("dataset").is_in(datasets))
    segments = (
        per_dataset.sort(["n_occurrences", "kind"], descending=[True, False])
        .group_by("segment_id", maintain_order=True)
        .agg(
            pl.col("text_en").first(),
            pl.col("kind").first(),
            pl.col("n_occurrences").sum(),
            pl.col("protected_spans").first(),
            pl.col("dataset").unique().sort().alias("datasets"),
        )
        .with_columns(
            pl.col("text_en").str.len_chars().cast(pl.Int32).alias("n_chars"),
            pl.col("protected_spans").list.len().cast(pl.Int32).alias("n_protected"),
        )
        .sort("n_occurrences", "segment_id", descending=[True, False])
        .select(list(SEGMENTS.schema))
        .collect()
    )
    warehouse.write_partition("segments", segments)
    return segments


def rebuild_turns(pieces: pl.DataFrame, texts: pl.DataFrame, text_column: str = "text_en") -> pl.DataFrame:
    """Join pieces back into turn texts.

    `pieces`: `sample_segments` rows; `texts`: `segment_id` + `text_column` (English, or a French
    translation). With English, an occurrence's own surface wins, so the result equals the source
    byte for byte. Segments missing from `texts` make the turn text null (the caller decides).
    """
    use_surface = text_column == "text_en"
    joined = pieces.join(texts.select("segment_id", text_column), on="segment_id", how="left")
    piece_text = (
        pl.coalesce("literal", "surface", text_column) if use_surface else pl.coalesce("literal", text_column)
    )
    keys = ["dataset", "split", "sample_id", "turn_index"]
    return (
        joined.with_columns(piece_text.alias("_piece"))
        .sort([*keys, "piece_index"])
        .group_by(keys, maintain_order=True)
        .agg(pl.col("_piece").str.join(""), pl.col("_piece").is_null().any().alias("_missing"))
        .select(*keys, pl.when(pl.col("_missing")).then(None).otherwise(pl.col("_piece")).alias("text"))
    )


def segments_from_texts(texts: list[str], kind: str = "question", dataset: str = "adhoc") -> pl.DataFrame:
    """A `segments`-shaped frame for loose strings (notebooks, tests, benchmarks), one row per distinct text."""
    distinct = list(dict.fromkeys(normalise(t) for t in texts))
    return pl.DataFrame(
        {
            "segment_id": [segment_id(t) for t in distinct],
            "text_en": distinct,
            "kind": [kind] * len(distinct),
            "n_occurrences": [1] * len(distinct),
            "n_chars": [len(t) for t in distinct],
            "n_protected": [len(protected_spans(t)) for t in distinct],
            "protected_spans": [protected_spans(t) for t in distinct],
            "datasets": [[dataset]] * len(distinct),
        },
        schema=SEGMENTS.schema,
    )


# A segment of at most this many words is translated inside the segment it follows (its question):
# a lone "no" is ambiguous to every engine ("ne", "pas de", "nº"), "Is there a circle? no." is not.
CONTEXT_MAX_WORDS = 3
CONTEXTS_PER_SEGMENT = 3


def build_segment_contexts(
    warehouse: Warehouse, max_words: int = CONTEXT_MAX_WORDS, per_segment: int = CONTEXTS_PER_SEGMENT
) -> pl.DataFrame:
    """Write `segment_contexts`: for every short segment, the segments it most often follows within a
    sample (the question before an answer, the text before a label in its turn), most frequent first.

    One DuckDB window query over `sample_segments` (out of core, so memory stays flat as data grows).
    """
    contexts = pl.DataFrame(schema=SEGMENT_CONTEXTS.schema)
    if max_words > 0 and per_segment > 0:
        contexts = warehouse.sql(
            f"""
            WITH ordered AS (
                SELECT segment_id, lag(segment_id) OVER (
                    PARTITION BY dataset, split, sample_id ORDER BY turn_index, piece_index) AS context_id
                FROM sample_segments WHERE segment_id IS NOT NULL
            ),
            short AS (
                SELECT segment_id FROM segments
                WHERE len(string_split(trim(text_en), ' ')) <= {int(max_words)}
            ),
            counted AS (
                SELECT o.segment_id, o.context_id, count(*) AS n_occurrences
                FROM ordered o JOIN short USING (segment_id)
                WHERE o.context_id IS NOT NULL AND o.context_id <> o.segment_id
                GROUP BY ALL
            )
            SELECT c.segment_id,
                   row_number() OVER (PARTITION BY c.segment_id
                                      ORDER BY c.n_occurrences DESC, c.context_id)::INT AS rank,
                   c.context_id, s.text_en AS context_en, c.n_occurrences
            FROM counted c JOIN segments s ON s.segment_id = c.context_id
            QUALIFY rank <= {int(per_segment)}
            ORDER BY c.segment_id, rank
            """
        )
    contexts = contexts.cast(SEGMENT_CONTEXTS.schema)  # type: ignore[arg-type]
    warehouse.write_partition("segment_contexts", contexts)
    return contexts
