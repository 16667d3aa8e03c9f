"""Warehouse guarantees: atomic partitions, no lock failures for parallel writers, views in the file."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import duckdb
import polars as pl
import pytest

from vlmfr_data.schema import installed_catalog
from vlmfr_data.store import TableSpec, Warehouse

THINGS = TableSpec("test_things", {"k": pl.Int64(), "v": pl.String()})


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    """This module's own catalog: its test table never reaches another test's warehouse."""
    return Warehouse(tmp_path / "home", catalog=installed_catalog().extended(THINGS))


def test_a_test_table_does_not_leak_into_other_catalogs(warehouse: Warehouse, tmp_path: Path) -> None:
    other = Warehouse(
        tmp_path / "other", catalog=installed_catalog().extended(TableSpec("other_things", {"x": pl.Int64()}))
    )
    assert "test_things" in warehouse.catalog.tables and "other_things" not in warehouse.catalog.tables
    assert "test_things" not in other.catalog.tables and "test_things" not in installed_catalog().tables
    with pytest.raises(duckdb.CatalogException):
        other.sql("SELECT * FROM test_things")
    assert warehouse.sql("SELECT count(*) FROM test_things").item() == 0


def test_reads_write_nothing(tmp_path: Path) -> None:
    """A query on a warehouse that does not exist yet creates no folder and no file."""
    home = tmp_path / "never_written"
    warehouse = Warehouse(home)
    assert warehouse.sql("SELECT count(*) AS n FROM segments").item() == 0
    assert warehouse.read("samples").height == 0
    assert not home.exists() and not warehouse.exists()


def test_write_partition_replaces_whole(warehouse: Warehouse) -> None:
    warehouse.write_partition("test_things", pl.DataFrame({"k": [1, 2], "v": ["a", "b"]}), "p1")
    warehouse.write_partition("test_things", (pl.DataFrame({"k": [i], "v": ["x"]}) for i in range(3)), "p1")
    warehouse.write_partition("test_things", pl.DataFrame({"k": [9], "v": ["z"]}), "p2")
    assert sorted(warehouse.read("test_things", "p1")["k"]) == [0, 1, 2]
    assert warehouse.sql("SELECT count(*) FROM test_things").item() == 4
    assert warehouse.partitions("test_things") == ["p1", "p2"]


def test_killed_write_leaves_previous_partition(warehouse: Warehouse) -> None:
    warehouse.write_partition("test_things", pl.DataFrame({"k": [1], "v": ["old"]}), "p")

    def exploding():
        yield pl.DataFrame({"k": [2], "v": ["new"]})
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        warehouse.write_partition("test_things", exploding(), "p")
    assert warehouse.read("test_things", "p")["v"].to_list() == ["old"]
    assert not any(warehouse.tmp_dir.iterdir())  # staging cleaned up, nothing half-written in tables/


def test_empty_table_has_schema_and_view(warehouse: Warehouse) -> None:
    assert warehouse.read("test_things").schema == pl.Schema({"k": pl.Int64(), "v": pl.String()})
    assert warehouse.sql("SELECT count(*) FROM test_things").item() == 0


def _append_many(home: str, worker: int) -> None:
    wh = Warehouse(home, catalog=installed_catalog().extended(THINGS))
    for i in range(8):
        wh.append("test_things", pl.DataFrame({"k": [worker * 100 + i], "v": [f"w{worker}"]}), f"w{worker}")
        wh.refresh_views()


def test_parallel_writers_never_fail_on_lock(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    Path(home).mkdir()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(home, w)) for w in range(3)]
    for p in procs:
        p.start()
    # a reader holding the database file open must not make writers fail either
    with duckdb.connect(str(Path(home) / "warehouse.duckdb")) as held:
        held.execute("SELECT 1")
        for p in procs:
            p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    wh = Warehouse(home, catalog=installed_catalog().extended(THINGS))
    wh.refresh_views()
    with duckdb.connect(str(wh.db_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM test_things").fetchone() == (24,)


def test_stale_leftovers_of_killed_runs_are_swept_fresh_ones_kept(warehouse: Warehouse) -> None:
    import os
    import time

    warehouse.tmp_dir.mkdir(parents=True)
    old_dir, old_file, fresh = (
        warehouse.tmp_dir / "corpus-dead",
        warehouse.tmp_dir / "part-dead.parquet",
        warehouse.tmp_dir / "busy",
    )
    old_dir.mkdir()
    (old_dir / "samples.parquet").write_bytes(b"half")
    old_file.write_bytes(b"half")
    fresh.mkdir()
    long_ago = time.time() - warehouse.STALE_TMP_SECONDS - 60
    for path in (old_dir, old_file):
        os.utime(path, (long_ago, long_ago))
    warehouse.write_partition("test_things", pl.DataFrame({"k": [1], "v": ["a"]}))
    assert not old_dir.exists() and not old_file.exists() and fresh.exists()


def test_a_derived_view_over_older_files_is_missing_and_the_rest_still_answers(
    tmp_path: Path, caplog
) -> None:  # noqa: ANN001
    """Parquet written before a column was added: the view that reads the column is skipped, with a warning
    that says what to do; the tables and the other views answer."""
    from vlmfr_data.schema import ViewSpec

    home = tmp_path / "home"
    Warehouse(home, catalog=installed_catalog().extended(THINGS)).write_partition(
        "test_things", pl.DataFrame({"k": [1, 2], "v": ["a", "b"]})
    )
    newer = TableSpec("test_things", {"k": pl.Int64(), "v": pl.String(), "w": pl.Int64()})
    catalog = installed_catalog().extended(
        newer,
        ViewSpec("test_w", "SELECT sum(w) AS w FROM test_things"),
        ViewSpec("test_k", "SELECT sum(k) AS k FROM test_things"),
    )
    warehouse = Warehouse(home, catalog=catalog)
    with caplog.at_level("WARNING"):
        assert warehouse.sql("SELECT k FROM test_k").item() == 3
    assert "view test_w is not available" in caplog.text and "materialize its inputs again" in caplog.text
    with pytest.raises(duckdb.CatalogException):
        warehouse.sql("SELECT * FROM test_w")
