"""Table and view declarations, and the catalog of every installed part of the project.

Each layer declares its own tables in a light module (polars types only, no torch) that lists
`TABLES` and, where it has any, `VIEWS`. The parts are assembled here, at run time, from the entry
points of the `vlmfr.tables` group in pyproject.toml: that list is the one place where the layers meet,
so the data layer never imports the layers above it and a user's own package can add its tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points

import polars as pl

TABLE_PARTS = "vlmfr.tables"  # entry point group: name -> module with TABLES (and VIEWS)


@dataclass(frozen=True)
class TableSpec:
    """A warehouse table: its schema (so it reads, typed and empty, before any data) and optional view SQL.

    `view_sql` may use `{source}` for the raw `read_parquet(...)` relation; by default the view is the
    raw relation itself.
    """

    name: str
    schema: dict[str, pl.DataType]
    view_sql: str | None = None
    description: str = ""

    def conform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """`frame` with the table's columns in order; columns it lacks (optional ones added to the
        table later, e.g. `translations.unknown_words`) are null."""
        missing = [
            pl.lit(None, dtype).alias(name)
            for name, dtype in self.schema.items()
            if name not in frame.columns
        ]
        return frame.with_columns(missing).select(list(self.schema))


@dataclass(frozen=True)
class ViewSpec:
    """A derived view: SQL over table views, created after every table view."""

    name: str
    sql: str
    description: str = ""


class Catalog:
    """The tables and views a warehouse knows (see `installed_catalog`)."""

    def __init__(self, tables: Iterable[TableSpec] = (), views: Iterable[ViewSpec] = ()) -> None:
        self.tables: dict[str, TableSpec] = {}
        for spec in tables:
            if spec.name in self.tables:
                raise ValueError(f"table {spec.name!r} is declared twice")
            self.tables[spec.name] = spec
        self.views: dict[str, ViewSpec] = {v.name: v for v in views}

    def extended(self, *specs: TableSpec | ViewSpec) -> Catalog:
        """A copy with more tables or views (tests, plug-ins); this catalog is unchanged."""
        return Catalog(
            [*self.tables.values(), *(s for s in specs if isinstance(s, TableSpec))],
            [*self.views.values(), *(s for s in specs if isinstance(s, ViewSpec))],
        )

    def names(self) -> list[str]:
        return [*self.tables, *self.views]

    def description(self, name: str) -> str:
        spec = self.tables.get(name) or self.views.get(name)
        return spec.description if spec else ""


@lru_cache(maxsize=1)
def installed_catalog() -> Catalog:
    """Every installed part's tables and views, parts in the order of their entry point names (the
    layers are numbered so that a view is created after the views it reads)."""
    parts = sorted(entry_points(group=TABLE_PARTS), key=lambda ep: ep.name)
    if not parts:
        raise RuntimeError(
            f"no `{TABLE_PARTS}` entry points: the vlmfr-data package is not installed in this "
            "environment. Run `make setup` (or `pip install -e .`) first."
        )
    tables: list[TableSpec] = []
    views: list[ViewSpec] = []
    for part in parts:
        module = part.load()
        tables += module.TABLES
        views += getattr(module, "VIEWS", [])
    return Catalog(tables, views)
