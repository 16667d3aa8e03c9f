"""The one stage contract: every pipeline step, whatever its layer or backend, is declared once as a
`Stage` (what it reads, what it writes, how it is partitioned, which library function runs it) and
returns a `StageReport`. The Dagster assets and their dependencies are generated from the declarations
(`assets.stages`), the CLI and notebooks call the same functions, and a test runs every stage on a
small project and checks what it actually read (`Warehouse.tables_read`) against what it declared.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

Log = Callable[[str], None]


@dataclass
class StageReport:
    """What a stage did: `values` (numbers, short strings, JSON-able dicts), `tables` (small preview
    frames), `paths` (files a person may open), `figures` (PNG files) and wall time. `per_asset` holds
    what to show on each of the stage's other outputs (a multi-output stage shows the rest on its first)."""

    stage: str
    values: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    ok: bool = True
    per_asset: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One pipeline step, declared once.

    `run` names the library function ("module:function", imported only when the stage runs, so listing
    stages never imports torch). It is called as `run(warehouse, config, log=..., **partition)`, one
    keyword per partition dimension, and returns a `StageReport`.

    `reads` are the warehouse tables (or views) it reads rows of that other stages wrote: each becomes a
    dependency on the stages writing it; `"table@stage"` reads only the rows that one stage writes there
    (a tier model's runs in `training_runs`, not the sweep's). `cache` are tables it reads only for its own earlier rows (the
    translation cache, cached predictions): they are written by it, so they add no dependency. `after`
    names outputs that are files rather than tables (corpora, models) that it reads. `writes` are its
    warehouse tables; `outputs` are its Dagster assets (default: its tables).
    """

    name: str
    run: str
    writes: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    cache: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    partitions: tuple[str, ...] = ()
    config: tuple[str, ...] = ()
    group: str = ""
    kinds: tuple[str, ...] = ("parquet",)
    description: str = ""
    # rerun when an input changes, under `make ui`'s daemon (training and evaluation follow their inputs)
    follows_inputs: bool = False

    @property
    def tables_read(self) -> set[str]:
        """The tables and views it may read: `reads` (without their `@stage`), `cache` and `writes`."""
        return {name.split("@")[0] for name in self.reads} | set(self.cache) | set(self.writes)

    @property
    def assets(self) -> tuple[str, ...]:
        """The outputs a Dagster graph shows: `outputs`, else the tables written."""
        return self.outputs or self.writes

    def function(self) -> Callable[..., StageReport]:
        module, _, name = self.run.partition(":")
        return getattr(importlib.import_module(module), name)

    def __call__(self, warehouse: Any, config: Any, log: Log | None = None, **partition: str) -> StageReport:
        missing = set(self.partitions) - set(partition)
        if missing:
            raise TypeError(f"stage {self.name!r} needs partition key(s) {sorted(missing)}")
        return self.function()(warehouse, config, log=log, **partition)


def upstream(stages: list[Stage], tables_of: Callable[[str], set[str]] | None = None) -> dict[str, set[str]]:
    """Stage name -> the stages it depends on: the writers of what it `reads` (`tables_of` turns a
    view's name into the tables it reads) and the owners of what it reads `after`."""
    writers: dict[str, set[str]] = {}
    for stage in stages:
        for name in (*stage.writes, *stage.assets):
            writers.setdefault(name, set()).add(stage.name)
    deps: dict[str, set[str]] = {}
    for stage in stages:
        found: set[str] = set()
        for entry in (*stage.reads, *stage.after):
            table, _, writer = entry.partition("@")
            for name in tables_of(table) if tables_of else {table}:
                if name not in writers or (writer and writer not in writers[name]):
                    raise ValueError(f"stage {stage.name!r} reads {entry!r}, which no stage writes")
                found |= {writer} if writer else writers[name]
        deps[stage.name] = found - {stage.name}
    return deps


__all__ = ["Log", "Stage", "StageReport", "upstream"]
