"""`vlmfr review export --budget N [--out DIR]` and `vlmfr review import FILE...`."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    review = subparsers.add_parser(
        "review", help="expert review: export a budgeted queue, import filled files"
    )
    sub = review.add_subparsers(dest="review_command", required=True)
    p = sub.add_parser(
        "export",
        help="write the N segments most worth reviewing as review.csv + an offline review.html",
    )
    p.add_argument(
        "--budget", type=int, default=None, help="segments to review (default 50 or [review] budget)"
    )
    p.add_argument("--out", type=Path, default=None, help="folder (default $VLMFR_HOME/review)")
    p.add_argument(
        "--stratified-share",
        type=float,
        default=None,
        help="share of the budget drawn at random per system x tier (default 0.2)",
    )
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("import", help="validate and import filled review files (each all or nothing)")
    p.add_argument("files", nargs="+", type=Path)
    p.set_defaults(func=cmd_import)


def cmd_export(args: argparse.Namespace) -> int:
    from vlmfr_data.config import load_config
    from vlmfr_data.review.stages import export_review, review_settings
    from vlmfr_data.store import Warehouse

    warehouse = Warehouse()
    if not warehouse.partitions("translation_quality"):
        print(f"no scored translations in {warehouse.home}: run the pipeline up to translation_quality first")
        return 2
    settings = review_settings(
        load_config(), budget=args.budget, stratified_share=args.stratified_share, seed=args.seed
    )
    report = export_review(warehouse, settings, args.out)
    values = report.values
    print(
        f"review queue {values['queue_id']}: {values['segments']} segments {values['by_selection']}, "
        f"covering {100 * values['coverage_of_occurrences']:.1f}% of all segment occurrences"
    )
    for key in ("coverage_at_10", "coverage_at_20", "coverage_at_50"):
        if key in values:
            print(f"  top {key.rsplit('_', 1)[1]}: {100 * values[key]:.1f}%")
    print(f"page: {report.paths['html']}\ncsv:  {report.paths['csv']}")
    print("Send the page to a reviewer; its Save button downloads the file for `vlmfr review import`.")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from vlmfr_data.review.stages import import_reviews
    from vlmfr_data.store import Warehouse

    report = import_reviews(Warehouse(), args.files, log=print)
    changes = report.tables["projected_tier_changes"]
    if changes.height:
        print("Once tiers are recut (translation_quality, french_samples, corpora):")
        for row in changes.iter_rows(named=True):
            print(
                f"  {row['action']}: {row['segments']} segment(s), {row['occurrences']} occurrences, "
                f"{row['tier_before']} -> {row['tier_after']}"
            )
    return 0 if report.ok else 1
