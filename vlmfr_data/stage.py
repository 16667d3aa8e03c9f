"""What every pipeline stage returns: one report type, whatever the layer or the backend, which the
CLI prints and a Dagster asset hands over as metadata."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

Log = Callable[[str], None]


@dataclass
class StageReport:
    """What a stage did: `values` (numbers, short strings, JSON-able dicts), `tables` (small preview
    frames), `paths` (files a person may open), `log` lines already said, and wall time."""

    stage: str
    values: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    ok: bool = True


__all__ = ["Log", "StageReport"]
