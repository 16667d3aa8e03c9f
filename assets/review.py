"""Expert review assets: the review queue (what to send a reviewer) and the imported reviews.

Reviewers' filled files are dropped into `$VLMFR_HOME/review/inbox/` (or imported with `vlmfr review
import FILE...`); materializing `expert_reviews` imports every new file there (a file already imported
is skipped by its hash; a file with a problem imports nothing and fails the `review_inbox_valid` check).
The reviews take effect when `translation_quality` (and after it `french_samples`, the corpora) is
materialized again: its metadata then shows the `human` system among the best translations.
"""

from pathlib import Path

import dagster as dg
import polars as pl

from assets.common import CONFIG, WarehouseResource, metadata
from vlmfr_data.review import HUMAN_SYSTEM
from vlmfr_data.review.stages import default_folder, export_review, import_reviews, review_settings
from vlmfr_data.schema import installed_catalog


def inbox(home: Path) -> list[Path]:
    return sorted((home / "review" / "inbox").glob("*.csv"))


@dg.asset(
    deps=["translation_quality", "sample_segments", "segments", "expert_reviews"],
    group_name="review",
    kinds={"csv", "html", "parquet"},
    description=installed_catalog().description("review_queue")
    + " Files: VLMFR_HOME/review/review.html (offline page) and review.csv.",
)
def review_queue(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    store = warehouse.get()
    report = export_review(store, review_settings(CONFIG), default_folder(store), log=context.log.info)
    return dg.MaterializeResult(metadata=metadata(report))


@dg.asset(
    deps=["segments"],
    group_name="review",
    kinds={"parquet"},
    description=installed_catalog().description("expert_reviews")
    + " Imports new files from VLMFR_HOME/review/inbox/*.csv; corrections become `human` translations.",
)
def expert_reviews(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    store = warehouse.get()
    files = inbox(store.home)
    context.log.info(f"{len(files)} review file(s) in {store.home / 'review' / 'inbox'}")
    report = import_reviews(store, files, log=context.log.info)
    return dg.MaterializeResult(metadata=metadata(report))


@dg.asset_check(
    asset=expert_reviews,
    name="review_inbox_valid",
    blocking=False,
    description="Every file in the review inbox was imported: a file with a problem imports nothing.",
)
def review_inbox_valid(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    from vlmfr_data.review.importer import file_hash, imported_hashes, parse_rows, validate_rows

    store = warehouse.get()
    done = imported_hashes(store)
    problems: dict[str, list[str]] = {}
    for path in inbox(store.home):
        data = path.read_bytes()
        if file_hash(data) in done:
            continue
        rows, found = parse_rows(path, data)
        if not found:
            found = validate_rows(path, rows, store)[1]
        problems[path.name] = [str(p) for p in found] or ["not imported yet: materialize expert_reviews"]
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"files_not_imported": dg.MetadataValue.json(problems)},
    )


@dg.asset_check(
    asset=expert_reviews,
    name="human_translations_reviewed",
    blocking=False,
    description="Every `human` translation comes from an imported review file and keeps its protected spans.",
)
def human_translations_reviewed(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    store = warehouse.get()
    human = store.sql(
        f"SELECT segment_id, system_version, spans_ok FROM translations WHERE system = '{HUMAN_SYSTEM}'"
    )
    hashes = store.read("expert_reviews").select(pl.col("file_hash").alias("system_version")).unique()
    orphans = human.join(hashes, on="system_version", how="anti")
    broken = human.filter(~pl.col("spans_ok"))
    return dg.AssetCheckResult(
        passed=orphans.height == 0 and broken.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "human_translations": human.height,
            "without_review": orphans.height,
            "spans_broken": broken.height,
        },
    )


REVIEW_ASSETS = [expert_reviews, review_queue]
REVIEW_CHECKS = [review_inbox_valid, human_translations_reviewed]
