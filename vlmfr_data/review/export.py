"""Write a review queue as the files a reviewer gets: `review.csv` and the self-contained `review.html`.

The page (template `page.html`, script `page.js`, style `page.css`, inlined here) needs no server and
no network: the queue is embedded as JSON, progress is kept in the browser's localStorage under the
queue id, and its Save button downloads the same CSV with the reviewer's columns filled in. The CSV
written here is importable as it is (unfilled rows are skipped), so a reviewer may also fill it in a
spreadsheet.
"""

from __future__ import annotations

import csv
import html
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import polars as pl

from vlmfr_data.store import Warehouse

QUEUE_COLUMNS = [
    "rank",
    "segment_id",
    "kind",
    "text_en",
    "context",
    "n_occurrences",
    "selection",
    "stratum",
    "rated_system",
    "rated_fr",
    "best_system",
    "combined",
    "tier",
]
REVIEW_COLUMNS = ["reviewer", "reviewed_at", "rating", "correction", "comment"]
# What `vlmfr review import` needs; the other columns are for the reviewer's eyes.
REQUIRED_COLUMNS = ["segment_id", "rated_system", "rated_fr", *REVIEW_COLUMNS]
ENGINE_PREFIX = "fr_"


@dataclass
class ExportedFiles:
    csv: Path
    html: Path
    rows: int
    queue_id: str


def _engines(queue: pl.DataFrame) -> list[str]:
    names = queue.select(pl.col("translations").explode().struct.field("system")).to_series()
    return sorted(n for n in names.unique().to_list() if n is not None)


def csv_rows(queue: pl.DataFrame) -> tuple[list[str], list[dict[str, str]]]:
    """The export's columns and one dict per queued segment (reviewer columns empty)."""
    engines = _engines(queue)
    columns = [*QUEUE_COLUMNS, *(ENGINE_PREFIX + e for e in engines)]
    rows = []
    for row in queue.iter_rows(named=True):
        by_engine = {t["system"]: t["text_fr"] for t in row["translations"] or []}
        values = {c: row[c] for c in QUEUE_COLUMNS}
        values["combined"] = "" if row["combined"] is None else f"{row['combined']:.3f}"
        values.update({ENGINE_PREFIX + e: by_engine.get(e) for e in engines})
        rows.append({c: "" if v is None else str(v) for c, v in values.items()})
    return columns, rows


def write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*columns, *REVIEW_COLUMNS], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def render_page(queue: pl.DataFrame, spans: dict[str, list[str]], coverage: float) -> str:
    """The review page as one HTML string (template + inline CSS, JS and data)."""
    columns, rows = csv_rows(queue)
    page_rows = []
    for row, values in zip(queue.iter_rows(named=True), rows, strict=True):
        page_rows.append(
            {
                "segment_id": row["segment_id"],
                "rank": row["rank"],
                "kind": row["kind"],
                "text_en": row["text_en"],
                "context": row["context"],
                "n_occurrences": row["n_occurrences"],
                "selection": row["selection"],
                "rated_system": row["rated_system"],
                "rated_fr": row["rated_fr"],
                "best_system": row["best_system"],
                "translations": row["translations"] or [],
                "spans": spans.get(row["segment_id"], []),
                "csv": values,
            }
        )
    queue_id = queue["queue_id"][0] if queue.height else "empty"
    data = {
        "queue_id": queue_id,
        "created_at": f"{queue['created_at'][0]:%Y-%m-%d %H:%M} UTC" if queue.height else "",
        "coverage": f"{100 * coverage:.1f}%",
        "columns": columns,
        "review_columns": REVIEW_COLUMNS,
        "rows": page_rows,
    }
    # JSON inside <script>: "</" must not close the element early
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    folder = resources.files("vlmfr_data.review")
    template = folder.joinpath("page.html").read_text(encoding="utf-8")
    return (
        template.replace("__TITLE__", html.escape(f"{len(page_rows)} strings, queue {queue_id}"))
        .replace("__CSS__", folder.joinpath("page.css").read_text(encoding="utf-8"))
        .replace("__JS__", folder.joinpath("page.js").read_text(encoding="utf-8"))
        .replace("__DATA__", payload)
    )


def protected_span_texts(warehouse: Warehouse, segment_ids: list[str]) -> dict[str, list[str]]:
    frame = (
        warehouse.scan("segments")
        .filter(pl.col("segment_id").is_in(segment_ids))
        .select("segment_id", pl.col("protected_spans").list.eval(pl.element().struct.field("text")))
        .collect()
    )
    return {sid: list(texts or []) for sid, texts in frame.iter_rows()}


def write_export(warehouse: Warehouse, queue: pl.DataFrame, folder: Path, coverage: float) -> ExportedFiles:
    """`review.csv` and `review.html` of `queue` in `folder` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    columns, rows = csv_rows(queue)
    csv_path, html_path = folder / "review.csv", folder / "review.html"
    write_csv(csv_path, columns, rows)
    spans = protected_span_texts(warehouse, queue["segment_id"].to_list())
    html_path.write_text(render_page(queue, spans, coverage), encoding="utf-8")
    return ExportedFiles(csv_path, html_path, queue.height, queue["queue_id"][0] if queue.height else "empty")
