"""The warehouse: Parquet files under `VLMFR_HOME/tables`, DuckDB views over them.

Why this shape (DESIGN.md section 3): DuckDB allows one writing process per database file, and Dagster
runs steps in separate processes. So no step writes table data into DuckDB. Each table partition is
Parquet, written to a temp location and moved into place with a rename, so a killed step leaves either
the previous complete partition or nothing, never half a file. `warehouse.duckdb` only holds views
whose globs pick up new files by themselves; it is rewritten when a table first appears, under a file
lock, and a busy database file is skipped (the views are already there) rather than failing the step.

Two write modes:
- `write_partition`: replace one partition whole (samples of a dataset, a tier's corpus).
- `append`: add one part file (the translation cache: a crash loses at most the batch in flight).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from vlmfr_data.config import vlmfr_home
from vlmfr_data.schema import Catalog, TableSpec, installed_catalog

log = logging.getLogger(__name__)

WHOLE_TABLE = "all"  # partition name of unpartitioned tables


class Warehouse:
    def __init__(self, home: Path | str | None = None, catalog: Catalog | None = None) -> None:
        # the project's tables; a test may pass its own
        self.catalog = catalog if catalog is not None else installed_catalog()
        self.home = Path(home).resolve() if home else vlmfr_home()
        self.tables_dir = self.home / "tables"
        self.tmp_dir = self.home / "tmp"
        self.db_path = self.home / "warehouse.duckdb"
        # every table or view read through this object (scans, batches, SQL): what a stage really reads,
        # checked against what it declares (`vlmfr_data.stage.Stage`)
        self.tables_read: set[str] = set()

    def _note(self, names: Iterable[str]) -> None:
        known = self.catalog.names()
        self.tables_read.update(name for name in names if name in known)

    def exists(self) -> bool:
        """True once anything was written here (reads never create the folder)."""
        return self.tables_dir.is_dir()

    # ----------------------------------------------------------------- paths
    def table_dir(self, table: str) -> Path:
        return self.tables_dir / table

    def partition_dir(self, table: str, partition: str = WHOLE_TABLE) -> Path:
        if not partition or "/" in partition or partition.startswith("."):
            raise ValueError(f"bad partition name {partition!r} for table {table!r}")
        return self.table_dir(table) / partition

    def _glob(self, table: str, partition: str | None = None) -> str:
        base = self.partition_dir(table, partition) if partition else self.table_dir(table)
        return str(base / "**" / "*.parquet") if partition is None else str(base / "*.parquet")

    def spec(self, table: str) -> TableSpec | None:
        return self.catalog.tables.get(table)

    def _ensure_schema_file(self, table: str) -> None:
        """A zero-row file with the declared schema beside the data (written on write only), so a view
        over partitions written by older code still has every declared column."""
        self._prepare_tmp()  # every write starts here: the home appears now
        spec = self.spec(table)
        path = self.table_dir(table) / "_schema" / "empty.parquet"
        if spec is None or path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp_dir / f"{table}-schema-{uuid.uuid4().hex}.parquet"
        pl.DataFrame(schema=spec.schema).write_parquet(tmp)
        os.replace(tmp, path)

    # ---------------------------------------------------------------- writes
    def write_partition(
        self, table: str, frames: pl.DataFrame | Iterable[pl.DataFrame], partition: str = WHOLE_TABLE
    ) -> int:
        """Replace one partition with `frames` (streamed batch by batch). Returns rows written."""
        self._ensure_schema_file(table)
        final = self.partition_dir(table, partition)
        staging = self.staging_dir(f"{table}-{partition}")
        try:
            rows = write_parquet_stream(_as_frames(frames), staging / "data.parquet", self.spec(table))
            self.replace_dir(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.refresh_views_if_new(table)
        return rows

    # A staging folder or part file this old belongs to a killed run, never to one still writing.
    STALE_TMP_SECONDS = 6 * 3600

    def _prepare_tmp(self) -> None:
        """Create tmp/ and, once per Warehouse object, remove what killed runs left there long ago."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        if getattr(self, "_tmp_swept", False):
            return
        self._tmp_swept = True
        cutoff = time.time() - self.STALE_TMP_SECONDS
        for entry in self.tmp_dir.iterdir():
            try:
                if entry.stat().st_mtime >= cutoff:
                    continue
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
            except FileNotFoundError:  # another process swept it first
                continue

    def staging_dir(self, label: str) -> Path:
        """A fresh folder on the warehouse's filesystem, to be moved into place with `replace_dir`."""
        self._prepare_tmp()
        path = self.tmp_dir / f"{label}-{uuid.uuid4().hex}"
        path.mkdir(parents=True)
        return path

    def replace_dir(self, staging: Path, final: Path) -> None:
        """Move a finished folder into place. Between the two renames `final` is absent, never half-written."""
        final.parent.mkdir(parents=True, exist_ok=True)
        trash = self.tmp_dir / f"trash-{uuid.uuid4().hex}"
        if final.exists():
            os.replace(final, trash)
        os.replace(staging, final)
        shutil.rmtree(trash, ignore_errors=True)

    def append(self, table: str, frame: pl.DataFrame, partition: str = WHOLE_TABLE) -> Path | None:
        """Add one part file to a partition atomically (temp file + rename)."""
        if frame.height == 0:
            return None
        self._ensure_schema_file(table)
        final_dir = self.partition_dir(table, partition)
        final_dir.mkdir(parents=True, exist_ok=True)
        name = f"part-{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = self.tmp_dir / name
        write_parquet_stream([frame], tmp, self.spec(table))
        os.replace(tmp, final_dir / name)
        self.refresh_views_if_new(table)
        return final_dir / name

    def drop_partition(self, table: str, partition: str = WHOLE_TABLE) -> None:
        path = self.partition_dir(table, partition)
        if path.exists():
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            trash = self.tmp_dir / f"trash-{uuid.uuid4().hex}"
            os.replace(path, trash)
            shutil.rmtree(trash, ignore_errors=True)

    # ----------------------------------------------------------------- reads
    def has_partition(self, table: str, partition: str = WHOLE_TABLE) -> bool:
        self._note([table])
        return any(self.partition_dir(table, partition).glob("*.parquet"))

    def partitions(self, table: str) -> list[str]:
        self._note([table])
        d = self.table_dir(table)
        if not d.exists():
            return []
        return sorted(
            p.name for p in d.iterdir() if p.is_dir() and p.name != "_schema" and any(p.glob("*.parquet"))
        )

    def scan(self, table: str, partition: str | None = None) -> pl.LazyFrame:
        """Lazy scan of a table (all partitions) or one partition; the declared schema if still empty."""
        self._note([table])
        files = (
            sorted(self.table_dir(table).glob("**/*.parquet"))
            if partition is None
            else sorted(self.partition_dir(table, partition).glob("*.parquet"))
        )
        spec = self.spec(table)
        if not files:
            if spec is None:
                raise FileNotFoundError(f"table {table!r} has no data under {self.table_dir(table)}")
            return pl.LazyFrame(schema=spec.schema)
        return (
            pl.scan_parquet(files, missing_columns="insert", extra_columns="ignore")
            if spec
            else (pl.scan_parquet(files))
        )

    def iter_batches(
        self, table: str, partition: str | None = None, batch_rows: int = 50_000
    ) -> Iterator[pl.DataFrame]:
        """Stream a table (or one partition) in record batches: memory holds one batch at a time."""
        self._note([table])
        base = self.table_dir(table) if partition is None else self.partition_dir(table, partition)
        pattern = "**/*.parquet" if partition is None else "*.parquet"
        for path in sorted(base.glob(pattern)):
            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
                if batch.num_rows:
                    yield pl.from_arrow(batch)  # type: ignore[misc]

    def read(self, table: str, partition: str | None = None) -> pl.DataFrame:
        return self.scan(table, partition).collect()

    # ------------------------------------------------------------------- SQL
    def _has_files(self, table: str) -> bool:
        return self.table_dir(table).exists() and any(self.table_dir(table).glob("**/*.parquet"))

    def _table_statements(self, temp: bool) -> list[str]:
        """CREATE statements for every table. A table with no file yet is an empty typed table (so queries
        over it work), never a file written as a side effect of reading. Derived views: `_derived_views`."""
        kind = "TEMP VIEW" if temp else "VIEW"
        statements = []
        for name, spec in self.catalog.tables.items():
            if self._has_files(name):
                source = f"read_parquet('{self._glob(name)}', union_by_name=true)"
                body = spec.view_sql.format(source=source) if spec.view_sql else f"SELECT * FROM {source}"
                statements.append(f'CREATE OR REPLACE {kind} "{name}" AS {body}')
            else:
                statements.append(
                    f'CREATE OR REPLACE {"TEMP " if temp else ""}TABLE "{name}" AS SELECT * FROM "_empty_{name}"'
                )
        return statements

    def _derived_views(self, temp: bool) -> dict[str, str]:
        """View name -> CREATE statement of each derived view (SQL over the table views)."""
        kind = "TEMP VIEW" if temp else "VIEW"
        return {
            v.name: f'CREATE OR REPLACE {kind} "{v.name}" AS {v.sql}' for v in self.catalog.views.values()
        }

    def _run_statements(self, con: duckdb.DuckDBPyConnection, temp: bool) -> None:
        # a table that got its first data turns from an empty table into a view (and back after a drop)
        existing = con.execute(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
        for name, table_type in existing:
            if name not in self.catalog.tables and name not in self.catalog.views:
                continue  # a user's own table in the file stays
            con.execute(f'DROP {"VIEW" if table_type == "VIEW" else "TABLE"} IF EXISTS "{name}"')
        for name, spec in self.catalog.tables.items():
            if not self._has_files(name):
                con.register(f"_empty_{name}", pl.DataFrame(schema=spec.schema).to_arrow())
        for statement in self._table_statements(temp):
            con.execute(statement)
        for name, statement in self._derived_views(temp).items():
            try:
                con.execute(statement)
            except duckdb.Error as exc:
                # Files written by an older version can lack a column a derived view reads: that view is
                # missing until its inputs are materialized again; every other table and view still answers.
                log.warning("view %s is not available (%s): materialize its inputs again", name, exc)
        for name in self.catalog.tables:
            con.unregister(f"_empty_{name}")

    def connect(self) -> Connection:
        """An in-memory DuckDB connection with every table as a view: reads only, no lock on any file.
        The tables each query names are noted in `tables_read`."""
        con = duckdb.connect()
        self._run_statements(con, temp=True)
        return Connection(con, self._note)

    def view_tables(self, name: str) -> set[str]:
        """The tables a view reads, through the views it reads; a table is itself."""
        view = self.catalog.views.get(name)
        if view is None:
            return {name}
        known = set(self.catalog.names()) - {name}
        return {t for ref in referenced_tables(view.sql) & known for t in self.view_tables(ref)}

    def sql(self, query: str) -> pl.DataFrame:
        with self.connect() as con:
            return con.execute(query).pl()

    @contextmanager
    def file_lock(self, name: str = "warehouse.lock") -> Iterator[None]:
        """An exclusive lock between processes on `home/name` (views refresh; GX's project files)."""
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / name).open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def refresh_views(self, attempts: int = 3) -> bool:
        """Write the views into warehouse.duckdb. Returns False if another process holds the file."""
        with self.file_lock():
            for attempt in range(attempts):
                try:
                    with duckdb.connect(str(self.db_path)) as con:
                        self._run_statements(con, temp=False)
                    # which tables the file's views read from Parquet (the others are empty tables)
                    backed = [name for name in self.catalog.tables if self._has_files(name)]
                    (self.home / ".views").write_text("\n".join(sorted(backed)))
                    return True
                except duckdb.IOException:
                    # Someone (a duckdb CLI, a `vlmfr sql`) holds the file; views are glob-based and
                    # already see new files, so waiting a little then giving up loses nothing.
                    time.sleep(0.05 * (attempt + 1))
        return False

    def refresh_views_if_new(self, table: str) -> None:
        marker = self.home / ".views"
        known = set(marker.read_text().split()) if marker.exists() else set()
        if table not in known or not self.db_path.exists():
            self.refresh_views()


class Connection:
    """A DuckDB connection that notes the tables each query names (`execute`, `sql`); everything else is
    the connection's own."""

    def __init__(self, con: duckdb.DuckDBPyConnection, note: Callable[[Iterable[str]], None]) -> None:
        self.con = con
        self._note = note

    def execute(self, query: str, parameters: object = None) -> duckdb.DuckDBPyConnection:
        self._note(referenced_tables(query))
        return self.con.execute(query, parameters)

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        self._note(referenced_tables(query))
        return self.con.sql(query)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()


_FROM = re.compile(r"\b(?:FROM|JOIN)\s+\"?([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)


def _table_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE" and node.get("table_name"):
            yield node["table_name"]
        for value in node.values():
            yield from _table_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _table_refs(value)


@lru_cache(maxsize=4096)
def referenced_tables(query: str) -> set[str]:
    """The relation names a query reads (CTE names included; callers keep the catalog's). DuckDB's own
    parser for SELECTs; statements it cannot serialise (CREATE ... AS, COPY) by their FROM/JOIN clauses."""
    with duckdb.connect() as con:
        row = con.execute("SELECT json_serialize_sql(?)", [query]).fetchone()
    parsed = json.loads(row[0]) if row else {"error": True}
    if parsed.get("error"):
        return set(_FROM.findall(query))
    return set(_table_refs(parsed.get("statements", [])))


def _as_frames(frames: pl.DataFrame | Iterable[pl.DataFrame]) -> Iterable[pl.DataFrame]:
    return [frames] if isinstance(frames, pl.DataFrame) else frames


def write_parquet_stream(frames: Iterable[pl.DataFrame], path: Path, spec: TableSpec | None) -> int:
    """Write batches to one Parquet file with a fixed schema; memory holds one batch at a time."""
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    rows = 0
    try:
        for frame in frames:
            if spec is not None:
                frame = _conform(frame, spec)
            table = frame.to_arrow()
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(path, schema, compression="zstd")
            else:
                table = table.cast(schema)
            writer.write_table(table)
            rows += frame.height
        if writer is None:  # no batch at all: still write a valid empty file
            empty = pl.DataFrame(schema=spec.schema) if spec else pl.DataFrame()
            empty.write_parquet(path)
    finally:
        if writer is not None:
            writer.close()
    return rows


def _conform(frame: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """Order and cast columns to the declared schema; a missing declared column is a bug, say which."""
    missing = [c for c in spec.schema if c not in frame.columns]
    if missing:
        raise ValueError(f"table {spec.name!r}: frame lacks declared columns {missing}; has {frame.columns}")
    extra = [c for c in frame.columns if c not in spec.schema]
    return frame.select([pl.col(c).cast(t) for c, t in spec.schema.items()] + extra)
