"""The quality-signal extension point: one protocol, a registry, small concrete classes.

A signal scores (source, translation) pairs. It returns, per pair, a raw `value` in the signal's own
documented range and a `score` in [0, 1] where higher is better (null = not applicable to this pair,
e.g. language ID on a one-word answer). A signal may also raise a hard `gate` (wrong language, broken
`<image>`): a gated translation is rejected whatever the other signals say.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import polars as pl

from vlmfr_data import plugins
from vlmfr_data.registry import Availability, Registry

# Input columns every signal may use.
PAIRS_SCHEMA: dict[str, pl.DataType] = {
    "segment_id": pl.String(),
    "system": pl.String(),
    "system_version": pl.String(),
    "kind": pl.String(),
    "text_en": pl.String(),
    "text_fr": pl.String(),
    "spans_ok": pl.Boolean(),
}

# Output of `score`, one row per input pair, same order.
SCORES_SCHEMA: dict[str, pl.DataType] = {
    "value": pl.Float64(),
    "score": pl.Float64(),
    "gate": pl.String(),  # a hard-gate reason, or null
    "detail": pl.String(),
}


@runtime_checkable
class QualitySignal(Protocol):
    name: str
    description: str  # what it measures and the range of `value`

    @property
    def version(self) -> str: ...

    def availability(self) -> Availability: ...

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        """Columns of SCORES_SCHEMA, one row per row of `pairs` (PAIRS_SCHEMA), in order."""
        ...


# A signal that compares a translation with the other systems' translations of its segment also has
# `bind(all_pairs)`, which the scoring stage calls with every current pair before `score` (consensus).


SIGNALS: Registry[QualitySignal] = plugins.SIGNALS  # the entries live in vlmfr_data.plugins


def scores_frame(
    value: list[float | None],
    score: list[float | None],
    gate: list[str | None] | None = None,
    detail: list[str | None] | None = None,
) -> pl.DataFrame:
    n = len(value)
    return pl.DataFrame(
        {"value": value, "score": score, "gate": gate or [None] * n, "detail": detail or [None] * n},
        schema=SCORES_SCHEMA,
    )


class Static:
    """Mixin for signals that need nothing outside the Python environment."""

    version = "1"

    def availability(self) -> Availability:
        return Availability(True)
