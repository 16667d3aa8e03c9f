"""Library stages of the review loop (no Dagster): what `vlmfr review ...` and the assets call.

- `export_review`: build the queue, write `review_queue`, `review.csv` and `review.html`.
- `import_reviews`: import filled files (each all or nothing), say what they will change.
- `review_report`: budget curve, agreement, suggested `high` threshold (dict + Markdown section).

Reviews take effect when tiers are cut again: `translation_quality` (combine), then `french_samples`
and the corpora, in the usual order.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl

from vlmfr_data.config import ProjectConfig
from vlmfr_data.review import HUMAN_SYSTEM
from vlmfr_data.review.queue import QueueSettings
from vlmfr_data.settings import parse_table
from vlmfr_data.stage import StageReport
from vlmfr_data.store import Warehouse


def review_settings(config: ProjectConfig | None, **overrides: Any) -> QueueSettings:
    """`[review]` of the config (budget, stratified_share, seed) when the config carries one, then overrides
    (a CLI flag left unset is None: no override)."""
    base = getattr(config, "review", None)
    base = base if isinstance(base, QueueSettings) else QueueSettings()
    return parse_table(QueueSettings, {k: v for k, v in overrides.items() if v is not None}, "[review]", base)


def default_folder(warehouse: Warehouse) -> Path:
    return warehouse.home / "review"


def export_review(
    warehouse: Warehouse, settings: QueueSettings, folder: Path | None = None, log: Any = None
) -> StageReport:
    """The N segments most worth reviewing: `review_queue` table plus `review.csv` / `review.html`."""
    from vlmfr_data.review.agreement import budget_figure, coverage_at
    from vlmfr_data.review.export import write_export
    from vlmfr_data.review.queue import budget_curve, build_queue

    started = time.perf_counter()
    queue = build_queue(warehouse, settings)
    warehouse.write_partition("review_queue", queue)
    folder = folder or default_folder(warehouse)
    curve = budget_curve(warehouse, queue)
    coverage = float(curve["queue_coverage"][-1]) if curve.height else 0.0
    files = write_export(warehouse, queue, folder, coverage)
    figure = budget_figure(curve, folder / "review_budget_curve.png") if curve.height else None
    best_by_human = (
        warehouse.scan("translation_quality")
        .filter(pl.col("is_best") & (pl.col("system") == HUMAN_SYSTEM))
        .select(pl.len())
        .collect()
        .item()
    )
    if log:
        log(f"review queue {files.queue_id}: {files.rows} segments -> {files.html}")
    return StageReport(
        "review_queue",
        values={
            "queue_id": files.queue_id,
            "segments": files.rows,
            "budget": settings.budget,
            "stratified_share": settings.stratified_share,
            "by_selection": dict(queue.group_by("selection").len().sort("selection").iter_rows()),
            "coverage_of_occurrences": round(coverage, 4),
            **coverage_at(curve),
            "segments_best_by_human": int(best_by_human),
        },
        tables={
            "queue": queue.select(
                "rank",
                "text_en",
                "n_occurrences",
                "selection",
                "rated_system",
                "rated_fr",
                "combined",
                "priority",
            ),
        },
        paths={"html": files.html, "csv": files.csv, "folder": folder},
        figures={"Review budget curve": figure} if figure else {},
        seconds=time.perf_counter() - started,
    )


def projected_tier_changes(warehouse: Warehouse, file_hashes: list[str]) -> pl.DataFrame:
    """For the segments these files corrected or approved: best tier now -> `high` once tiers are recut,
    with the occurrences that move (a rejection's effect depends on the other systems: shown as such)."""
    reviews = warehouse.scan("expert_reviews").filter(pl.col("file_hash").is_in(file_hashes)).collect()
    if reviews.height == 0:
        return pl.DataFrame(
            schema={"action": pl.String(), "tier_before": pl.String(), "segments": pl.UInt32()}
        )
    best = (
        warehouse.scan("translation_quality").filter(pl.col("is_best")).select("segment_id", "tier").collect()
    )
    occurrences = warehouse.scan("segments").select("segment_id", "n_occurrences").collect()
    return (
        reviews.filter(pl.col("action").is_in(["corrected", "approved", "rejected"]))
        .join(best, on="segment_id", how="left")
        .join(occurrences, on="segment_id", how="left")
        .group_by("action", pl.col("tier").alias("tier_before"))
        .agg(pl.len().alias("segments"), pl.col("n_occurrences").sum().alias("occurrences"))
        .with_columns(
            pl.when(pl.col("action") == "rejected")
            .then(pl.lit("other system or rejected"))
            .otherwise(pl.lit("high"))
            .alias("tier_after")
        )
        .sort("action", "tier_before")
    )


def import_reviews(warehouse: Warehouse, paths: list[Path], log: Any = None) -> StageReport:
    """Import review files; `ok` is False when any file failed (its problems are in `values`)."""
    from vlmfr_data.review.importer import import_review_files

    started = time.perf_counter()
    outcomes = import_review_files(warehouse, paths)
    for outcome in outcomes:
        if log:
            if outcome.status == "failed":
                log(f"{outcome.path}: {len(outcome.problems)} problem(s), nothing imported")
                for problem in outcome.problems:
                    log(f"  {problem}")
            elif outcome.status == "skipped":
                log(f"{outcome.path}: already imported (file hash {outcome.file_hash}), skipped")
            else:
                log(
                    f"{outcome.path}: {outcome.reviews} reviews, {outcome.human_translations} human translations "
                    f"(file hash {outcome.file_hash}) {outcome.actions}"
                )
    imported = [o.file_hash for o in outcomes if o.status == "imported"]
    return StageReport(
        "expert_reviews",
        values={
            "files": {str(o.path): o.status for o in outcomes},
            "reviews_imported": sum(o.reviews for o in outcomes),
            "human_translations": sum(o.human_translations for o in outcomes),
            "problems": [str(p) for o in outcomes for p in o.problems],
            "reviews_in_all": warehouse.scan("expert_reviews").select(pl.len()).collect().item(),
        },
        tables={"projected_tier_changes": projected_tier_changes(warehouse, imported)},
        seconds=time.perf_counter() - started,
        ok=all(o.status != "failed" for o in outcomes),
    )


def review_report(warehouse: Warehouse, config: ProjectConfig) -> tuple[StageReport, str]:
    """The report's expert-review part: a StageReport and a Markdown section (figure beside report.md)."""
    from vlmfr_data.review.agreement import review_section

    started = time.perf_counter()
    high = config.quality.thresholds["high"]
    part, section = review_section(warehouse, warehouse.home / "report", high)
    report = StageReport(
        "expert_review",
        values=part["values"],
        tables=part["tables"],
        figures=part["figures"],
        seconds=time.perf_counter() - started,
    )
    return report, section
