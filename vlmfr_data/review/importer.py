"""Import filled review files: validate every row, then write `expert_reviews` and `human` translations.

A file is all or nothing: any problem (bytes that are not UTF-8, a missing column, an unknown segment or
system, a rating that is not a whole number from 1 to 5, a correction that adds or loses a protected
span, a segment reviewed twice in the file, a reviewed row without reviewer or date) is reported with
the file, the row (data row number and its line in the file) and the field, and nothing of that file
is written. A file is identified by the sha256 of its bytes (first 16 hex digits): importing the same
file again is skipped, and that hash is the `system_version` of the `human` translations it creates.

What a reviewed row does (column `action` of `expert_reviews`):
- `corrected`: a non-empty correction becomes the `human` translation of the segment.
- `approved`: rating 4 or 5 without a correction: the rated French, as the reviewer saw it, becomes the
  `human` translation (the reviewer vouched for it).
- `rejected`: rating 1 or 2 without a correction: that translation gets the gate `expert_rejected` when
  tiers are cut, so another system or `rejected` takes the segment.
- `rated` (rating 3) and `commented` (comment only) change no translation; every rating feeds agreement.
Rows without rating, correction or comment were not reviewed and are skipped.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from vlmfr_data.catalog import TRANSLATIONS
from vlmfr_data.review import HUMAN_SYSTEM
from vlmfr_data.review.export import REQUIRED_COLUMNS
from vlmfr_data.review.tables import EXPERT_REVIEWS
from vlmfr_data.store import Warehouse

APPROVE_FROM = 4  # a rating at least this, without a correction, approves the rated French


def max_correction_chars(source: str) -> int:
    """The longest correction taken for `source`: French runs ~1.2x English; 3x + 200 leaves room for a
    one-word answer that needs a phrase, and refuses a paste of a whole document."""
    return 3 * len(source) + 200


REJECT_UP_TO = 2  # a rating at most this, without a correction, rejects it


@dataclass(frozen=True)
class Problem:
    file: str
    message: str
    row: int | None = None  # data row, 1 = the first row under the header
    line: int | None = None  # line in the file where the row ends
    field: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}" + (f" (line {self.line})" if self.line else ""))
        if self.field:
            where.append(f"field {self.field!r}")
        return ": ".join([", ".join(where), self.message])


@dataclass
class FileOutcome:
    path: Path
    file_hash: str
    status: str = "imported"  # imported | skipped (already imported) | failed (see problems)
    reviews: int = 0
    human_translations: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def imported_hashes(warehouse: Warehouse) -> set[str]:
    return set(warehouse.scan("expert_reviews").select("file_hash").unique().collect()["file_hash"].to_list())


def parse_rows(path: Path, data: bytes) -> tuple[list[tuple[int, int, dict[str, str]]], list[Problem]]:
    """(row number, line, values) per data row, or the problems that stop reading the file."""
    name = str(path)
    try:
        text = data.decode("utf-8-sig")  # a spreadsheet's byte-order mark is fine
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return [], [
            Problem(
                name,
                f"not UTF-8: byte 0x{data[exc.start]:02x} at line {line}; save the file as UTF-8 CSV",
                line=line,
            )
        ]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], [Problem(name, "empty file: no header row")]
    header = [h.strip() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        return [], [
            Problem(name, f"missing column(s) {', '.join(missing)}; the header has {', '.join(header)}")
        ]
    rows, problems = [], []
    try:
        for number, values in enumerate(reader, start=1):
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                problems.append(
                    Problem(
                        name,
                        f"{len(values)} fields where the header has {len(header)}",
                        row=number,
                        line=reader.line_num,
                    )
                )
                continue
            rows.append((number, reader.line_num, dict(zip(header, values, strict=True))))
    except csv.Error as exc:
        problems.append(Problem(name, f"unreadable CSV: {exc}", line=reader.line_num))
    return rows, problems


def _parse_date(text: str) -> bool:
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            parse(text)
            return True
        except ValueError:
            continue
    return False


def span_problems(text_en: str, spans: list[str], french: str) -> list[str]:
    """Protected span texts that occur a different number of times in the French than in the source."""
    return [
        f"{span!r} (English has {text_en.count(span)}, French has {french.count(span)})"
        for span in dict.fromkeys(spans)
        if span and french.count(span) != text_en.count(span)
    ]


def validate_rows(
    path: Path, rows: list[tuple[int, int, dict[str, str]]], warehouse: Warehouse
) -> tuple[list[dict[str, object]], list[Problem]]:
    """Reviewed rows as `expert_reviews` fields, and every problem found (all rows are checked)."""
    name = str(path)
    reviewed = [r for r in rows if any(r[2].get(c, "").strip() for c in ("rating", "correction", "comment"))]
    ids = sorted({values["segment_id"].strip() for _, _, values in reviewed})
    segments = {
        sid: (text, [s["text"] for s in spans or []])
        for sid, text, spans in warehouse.scan("segments")
        .filter(pl.col("segment_id").is_in(ids))
        .select("segment_id", "text_en", "protected_spans")
        .collect()
        .iter_rows()
    }
    systems: dict[str, set[str]] = {}
    for sid, system in (
        warehouse.scan("translations")
        .filter(pl.col("segment_id").is_in(ids))
        .select("segment_id", "system")
        .unique()
        .collect()
        .iter_rows()
    ):
        systems.setdefault(sid, set()).add(system)
    problems: list[Problem] = []
    out: list[dict[str, object]] = []
    first_row: dict[str, int] = {}
    for number, line, values in reviewed:

        def problem(message: str, column: str, number: int = number, line: int = line) -> None:
            problems.append(Problem(name, message, row=number, line=line, field=column))

        segment_id = values["segment_id"].strip()
        system = values["rated_system"].strip()
        rating_text = values["rating"].strip()
        correction = values["correction"].strip()
        rating: int | None = None
        if segment_id not in segments:
            problem(f"unknown segment {segment_id!r} (not in `segments`)", "segment_id")
        elif system not in systems.get(segment_id, set()):
            known = ", ".join(sorted(systems.get(segment_id, set()))) or "none"
            problem(f"no translation of this segment by system {system!r} (systems: {known})", "rated_system")
        if segment_id in first_row:
            problem(
                f"duplicate: segment {segment_id!r} is already reviewed in row {first_row[segment_id]}",
                "segment_id",
            )
        else:
            first_row[segment_id] = number
        if rating_text:
            if rating_text.isdigit() and 1 <= int(rating_text) <= 5:
                rating = int(rating_text)
            else:
                problem(f"rating must be a whole number from 1 to 5, got {rating_text!r}", "rating")
        if not values["reviewer"].strip():
            problem("reviewer is empty", "reviewer")
        if not _parse_date(values["reviewed_at"].strip()):
            problem(
                f"reviewed_at must be an ISO date (YYYY-MM-DD), got {values['reviewed_at']!r}", "reviewed_at"
            )
        if correction:
            action = "corrected"
        elif rating is not None and rating >= APPROVE_FROM:
            action = "approved"
        elif rating is not None and rating <= REJECT_UP_TO:
            action = "rejected"
        else:
            action = "rated" if rating is not None else "commented"
        french = correction if action == "corrected" else values["rated_fr"].strip()
        if segment_id in segments and action == "corrected":
            limit = max_correction_chars(segments[segment_id][0])
            if len(correction) > limit:
                problem(
                    f"correction is {len(correction):,} characters for a {len(segments[segment_id][0]):,}-character "
                    f"source (at most {limit:,}): a pasted document or a stuck key? Shorten it or leave a comment",
                    "correction",
                )
        if segment_id in segments and action in ("corrected", "approved"):
            text_en, spans = segments[segment_id]
            broken = span_problems(text_en, spans, french)
            if broken:
                what = (
                    "correction" if action == "corrected" else "approved French (rating without correction)"
                )
                problem(
                    f"{what} breaks protected span(s) {'; '.join(broken)}; keep them exactly as in the English",
                    "correction" if action == "corrected" else "rated_fr",
                )
        out.append(
            {
                "source_file": path.name,
                "row": number,
                "segment_id": segment_id,
                "rated_system": system,
                "rated_fr": values["rated_fr"].strip(),
                "reviewer": values["reviewer"].strip(),
                "reviewed_at": values["reviewed_at"].strip(),
                "rating": rating,
                "correction": correction or None,
                "comment": values["comment"].strip() or None,
                "action": action,
                "selection": values.get("selection", "").strip() or None,
                "_french": french if action in ("corrected", "approved") else None,
            }
        )
    return out, problems


def import_review_file(warehouse: Warehouse, path: Path, skip_hashes: set[str] | None = None) -> FileOutcome:
    """Validate `path` whole, then write its reviews and `human` translations (or nothing)."""
    data = path.read_bytes()
    outcome = FileOutcome(path=path, file_hash=file_hash(data))
    if outcome.file_hash in (skip_hashes if skip_hashes is not None else imported_hashes(warehouse)):
        outcome.status = "skipped"
        return outcome
    rows, problems = parse_rows(path, data)
    reviews, row_problems = validate_rows(path, rows, warehouse) if not problems else ([], [])
    outcome.problems = problems + row_problems
    if outcome.problems:
        outcome.status = "failed"
        return outcome
    now = datetime.now(UTC)
    frame = pl.DataFrame(reviews, schema={**EXPERT_REVIEWS.schema, "_french": pl.String()}, strict=False)
    frame = frame.with_columns(pl.lit(outcome.file_hash).alias("file_hash"), pl.lit(now).alias("imported_at"))
    human = frame.filter(pl.col("_french").is_not_null()).select(
        "segment_id",
        pl.lit(HUMAN_SYSTEM).alias("system"),
        pl.lit(outcome.file_hash).alias("system_version"),
        pl.col("_french").alias("text_fr"),
        pl.lit(0.0).alias("seconds"),
        pl.lit(None, pl.String).alias("error"),
        pl.lit(True).alias("spans_ok"),  # checked above: every protected span kept
        pl.lit([], pl.List(pl.String)).alias("span_problems"),
        pl.lit(f"review-{outcome.file_hash}").alias("batch_id"),
        pl.lit(now).alias("created_at"),
    )
    # translations first: a crash before the reviews are written lets the same file import again
    warehouse.append("translations", TRANSLATIONS.conform(human), partition=HUMAN_SYSTEM)
    warehouse.append("expert_reviews", frame.select(list(EXPERT_REVIEWS.schema)), partition=outcome.file_hash)
    outcome.reviews = frame.height
    outcome.human_translations = human.height
    outcome.actions = dict(frame.group_by("action").len().sort("action").iter_rows())
    return outcome


def import_review_files(warehouse: Warehouse, paths: list[Path]) -> list[FileOutcome]:
    """Each file on its own: a bad file imports nothing and the others go on; duplicates are skipped."""
    seen = imported_hashes(warehouse)
    outcomes = []
    for path in paths:
        outcome = import_review_file(warehouse, Path(path), skip_hashes=seen)
        if outcome.status != "failed":
            seen.add(outcome.file_hash)
        outcomes.append(outcome)
    return outcomes
