"""Warehouse tables of the `training` package, listed by `vlmfr_data.catalog` (polars types only: no heavy imports)."""

from __future__ import annotations

from vlmfr_data.store import TableSpec

TABLES: list[TableSpec] = []
