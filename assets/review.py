"""Expert review checks. The assets (the review queue, what to send a reviewer, and the imported
reviews) are generated from `vlmfr_data.stages.STAGES`.

Reviewers' filled files are dropped into `$VLMFR_HOME/review/inbox/` (or imported with `vlmfr review
import FILE...`); materializing `expert_reviews` imports every new file there (a file already imported
is skipped by its hash; a file with a problem imports nothing and fails the `review_inbox_valid` check).
The reviews take effect when `translation_quality` (and after it `french_samples`, the corpora) is
materialized again: its metadata then shows the `human` system among the best translations.
"""

import dagster as dg
import polars as pl

from assets.common import WarehouseResource
from vlmfr_data.review import HUMAN_SYSTEM
from vlmfr_data.stages import review_inbox


@dg.asset_check(
    asset="expert_reviews",
    name="review_inbox_valid",
    blocking=False,
    description="Every file in the review inbox was imported: a file with a problem imports nothing.",
)
def review_inbox_valid(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    from vlmfr_data.review.importer import file_hash, imported_hashes, parse_rows, validate_rows

    store = warehouse.get()
    done = imported_hashes(store)
    problems: dict[str, list[str]] = {}
    for path in review_inbox(store):
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
    asset="expert_reviews",
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


REVIEW_CHECKS = [review_inbox_valid, human_translations_reviewed]
