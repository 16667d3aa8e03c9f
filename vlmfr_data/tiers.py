"""The tier vocabulary, defined once: names, order, cumulative training sets, colours, SQL helpers.

Imported by scoring (a translation's tier), selection (a sample's worst tier and what a tier set keeps:
`vlmfr_data.selection`, which the French samples, corpora, sweep and gold ablation go through),
validation (value sets), figures (colours) and the report (SQL order). Light: polars only.
"""

from __future__ import annotations

import polars as pl

# Best first. `rejected` = gated or untranslated; the three others are cut by thresholds.
TIERS: list[str] = ["high", "medium", "low", "rejected"]
KEPT_TIERS: list[str] = TIERS[:-1]
REJECTED = TIERS[-1]

# Cumulative training corpora: "high+medium" holds every sample whose tier is high or medium.
TIER_SETS: dict[str, list[str]] = {"+".join(KEPT_TIERS[: i + 1]): KEPT_TIERS[: i + 1] for i in range(3)}

# The ceiling corpus: samples whose every segment has a gold (hand-written) French reference, built from
# the references instead of the MT. Trained like a tier set, it measures what the translations cost.
GOLD_CORPUS = "gold"
CORPUS_NAMES: list[str] = [*TIER_SETS, GOLD_CORPUS]

# Ordered enum: `max()` of a sample's segment tiers is its worst tier.
TIER_ENUM = pl.Enum(TIERS)

TIER_COLOURS: dict[str, str] = {
    "high": "#2b8a3e",
    "medium": "#74b816",
    "low": "#f59f00",
    "rejected": "#c92a2a",
}


def tier_order_sql(column: str = "tier") -> str:
    """An ORDER BY key that sorts tiers best first."""
    return f"list_position({TIERS!r}, {column})"


def tier_sql_list(tiers: list[str]) -> str:
    """`('high', 'medium')` for an SQL `IN`."""
    return "(" + ", ".join(f"'{t}'" for t in tiers) + ")"
