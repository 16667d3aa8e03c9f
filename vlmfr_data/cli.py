"""`vlmfr`: explore the warehouse and run pipeline steps without Dagster.

vlmfr sql "SELECT kind, count(*) FROM segments GROUP BY 1"
vlmfr tables
vlmfr ingest [DATASET ...]      vlmfr segments
"""

from __future__ import annotations

import argparse
import logging
import sys

import duckdb
import polars as pl

from vlmfr_data import tables  # noqa: F401  (registers every table)
from vlmfr_data.config import load_config
from vlmfr_data.store import Warehouse, table_specs


def _print(df: pl.DataFrame, max_rows: int) -> None:
    with pl.Config(tbl_rows=max_rows, tbl_cols=-1, fmt_str_lengths=80, tbl_width_chars=200):
        print(df)


def cmd_sql(args: argparse.Namespace) -> int:
    warehouse = Warehouse()
    warehouse.refresh_views()
    try:
        with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
            result = con.execute(args.query).pl()
    except duckdb.IOException:
        # The file is held by a writer: query the same views from an in-memory connection instead.
        result = warehouse.sql(args.query)
    except duckdb.Error as exc:
        print(f"SQL error: {exc}", file=sys.stderr)
        return 2
    if args.csv:
        sys.stdout.write(result.write_csv())
    else:
        _print(result, args.max_rows)
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    warehouse = Warehouse()
    rows = [
        {
            "view": name,
            "partitions": ", ".join(warehouse.partitions(name)) or "(empty)",
            "description": spec.description,
        }
        for name, spec in sorted(table_specs().items())
    ]
    _print(pl.DataFrame(rows), 100)
    print(f"\nDuckDB file: {warehouse.db_path}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from vlmfr_data.ingest import ingest_dataset

    config = load_config()
    warehouse = Warehouse()
    for ds in config.datasets:
        if args.datasets and ds.name not in args.datasets:
            continue
        report = ingest_dataset(warehouse, ds)
        print(
            f"{ds.name}: {report.samples} samples, {report.quarantined} records quarantined "
            f"({report.seconds:.1f}s) {report.reasons or ''}"
        )
    return 0


def cmd_segments(args: argparse.Namespace) -> int:
    from vlmfr_data.segments import build_sample_segments, build_segments

    warehouse = Warehouse()
    for dataset in warehouse.partitions("samples"):
        report = build_sample_segments(warehouse, dataset)
        print(f"{dataset}: {report.turns} turns -> {report.distinct_segments} distinct segments")
    segments = build_segments(warehouse)
    print(f"segments: {segments.height} distinct across datasets")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(
        prog="vlmfr", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sql", help="run SQL on the warehouse views")
    p.add_argument("query")
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    p.add_argument("--max-rows", type=int, default=50)
    p.set_defaults(func=cmd_sql)
    p = sub.add_parser("tables", help="list the warehouse views and their partitions")
    p.set_defaults(func=cmd_tables)
    p = sub.add_parser("ingest", help="load configured datasets into `samples`")
    p.add_argument("datasets", nargs="*")
    p.set_defaults(func=cmd_ingest)
    p = sub.add_parser("segments", help="cut ingested samples into `segments`")
    p.set_defaults(func=cmd_segments)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
