"""`vlmfr`: explore the warehouse and run pipeline stages without Dagster.

vlmfr sql "SELECT kind, count(*) FROM segments GROUP BY 1"     vlmfr sql --csv "..." > out.csv
vlmfr tables                                                    vlmfr ingest [DATASET ...]
vlmfr segments                                                  vlmfr train / vlmfr eval (see --help)

The warehouse is `$VLMFR_HOME` (default ./.vlmfr). `sql` and `tables` import only DuckDB and polars.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

from vlmfr_data.config import vlmfr_home

if TYPE_CHECKING:  # polars and pyarrow take seconds to import; `vlmfr sql` needs neither
    import duckdb

    from vlmfr_data.store import Warehouse


def _no_warehouse(home: Path) -> None:
    print(
        f"no warehouse at {home} "
        f"(VLMFR_HOME is {'set' if 'VLMFR_HOME' in os.environ else 'unset, so ./.vlmfr is used'}).\n"
        "Run `make demo` (or the stages) first, or point at an existing one: VLMFR_HOME=/path/to/.vlmfr vlmfr ...",
        file=sys.stderr,
    )


def _existing_warehouse() -> Warehouse | None:
    """The warehouse at $VLMFR_HOME, or None after saying where we looked and how to point elsewhere."""
    from vlmfr_data.store import Warehouse

    warehouse = Warehouse()
    if warehouse.exists():
        return warehouse
    _no_warehouse(warehouse.home)
    return None


def _open_views(home: Path) -> duckdb.DuckDBPyConnection:
    """The warehouse's views: the DuckDB file read-only (kept current by every write), or, while a writer
    holds it or before it exists, the same views built in memory (that path imports polars)."""
    import duckdb

    try:
        return duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    except duckdb.Error:
        from vlmfr_data.store import Warehouse

        return Warehouse(home).connect().con


def _json_nested(con: duckdb.DuckDBPyConnection, query: str) -> str:
    """The query with list/struct/map columns as JSON text: CSV has no nested types."""
    columns = con.execute(f"DESCRIBE {query}").fetchall()
    nested = [c[0] for c in columns if any(t in c[1] for t in ("[]", "STRUCT", "MAP", "UNION"))]
    if not nested:
        return query
    replaced = ", ".join(f'to_json("{name}")::VARCHAR AS "{name}"' for name in nested)
    return f"SELECT * REPLACE ({replaced}) FROM ({query})"


def cmd_sql(args: argparse.Namespace) -> int:
    import duckdb

    home = vlmfr_home()
    if not (home / "tables").is_dir():
        _no_warehouse(home)
        return 2
    query = args.query.strip().rstrip(";")
    try:
        with _open_views(home) as con:
            if args.csv:
                import csv

                relation = con.sql(_json_nested(con, query))
                writer = csv.writer(sys.stdout, lineterminator="\n")
                writer.writerow(relation.columns)
                while rows := relation.fetchmany(10_000):
                    writer.writerows(rows)
            else:
                relation = con.sql(query)
                if relation is None:  # a statement without a result (COPY, CREATE ...): it ran
                    print("ok")
                else:
                    relation.show(max_rows=args.max_rows, max_width=200)
    except duckdb.Error as exc:
        print(f"SQL error: {exc}\n(`vlmfr tables` lists the views)", file=sys.stderr)
        return 2
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    warehouse = _existing_warehouse()
    if warehouse is None:
        return 2
    catalog = warehouse.catalog
    width = 78
    for name in sorted(catalog.names()):
        kind = "view" if name in catalog.views else ", ".join(warehouse.partitions(name)) or "(empty)"
        print(f"{name}  [{kind}]")
        for line in textwrap.wrap(catalog.description(name), width=width - 4):
            print(f"    {line}")
    print(f"\nDuckDB file: {warehouse.db_path}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from vlmfr_data import stages
    from vlmfr_data.config import load_config
    from vlmfr_data.store import Warehouse

    config = load_config()
    warehouse = Warehouse()
    for ds in config.datasets:
        if args.datasets and ds.name not in args.datasets:
            continue
        report = stages.ingest(warehouse, config, ds.name)
        print(
            f"{ds.name}: {report.values['samples']} samples, {report.values['quarantined_records']} records "
            f"quarantined ({report.seconds:.1f}s) {report.values['quarantine_reasons'] or ''}"
        )
    return 0


def cmd_segments(args: argparse.Namespace) -> int:
    from vlmfr_data import stages
    from vlmfr_data.config import load_config
    from vlmfr_data.store import Warehouse

    report = stages.segment(Warehouse(), load_config(), log=print)
    print(f"segments: {report.values['distinct_segments']} distinct across datasets")
    return 0


# Sub-commands of the review, training and evaluation packages: entry points `add_parser(subparsers)`
# (pyproject.toml), so this layer never imports the layers above it.
PLUGIN_COMMANDS = "vlmfr.commands"


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(
        prog="vlmfr", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sql", help="run SQL on the warehouse views")
    p.add_argument("query")
    p.add_argument(
        "--csv", action="store_true", help="print CSV (list/struct columns as JSON) instead of a table"
    )
    p.add_argument("--max-rows", type=int, default=50)
    p.set_defaults(func=cmd_sql)
    p = sub.add_parser("tables", help="list the warehouse tables and views, their partitions, what they hold")
    p.set_defaults(func=cmd_tables)
    p = sub.add_parser("ingest", help="load configured datasets into `samples`")
    p.add_argument("datasets", nargs="*")
    p.set_defaults(func=cmd_ingest)
    p = sub.add_parser("segments", help="cut ingested samples into `segments`")
    p.set_defaults(func=cmd_segments)
    # only import the plug-in command modules when their command is asked for: `sql` stays light
    wanted = (argv if argv is not None else sys.argv[1:])[:1]
    if not (wanted and wanted[0] in {"sql", "tables", "ingest", "segments"}):
        for command in sorted(entry_points(group=PLUGIN_COMMANDS), key=lambda ep: ep.name):
            command.load()(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
