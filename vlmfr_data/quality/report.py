"""The quality part of the report: figures, written beside report.md."""

from __future__ import annotations

from pathlib import Path

from vlmfr_data.quality import figures
from vlmfr_data.quality.config import QualityConfig
from vlmfr_data.store import Warehouse


def build_quality_figures(warehouse: Warehouse, config: QualityConfig) -> list[tuple[str, Path]]:
    folder = warehouse.home / "report"
    made = [
        (
            "Combined score per MT system",
            figures.score_distributions(warehouse, config.thresholds, folder / "combined_by_system.png"),
        ),
        ("Tier sizes", figures.tier_sizes(warehouse, folder / "tier_sizes.png")),
    ]
    if warehouse.partitions("gold_pairs"):
        made.append(
            ("Signals vs gold chrF", figures.signals_vs_gold(warehouse, folder / "signals_vs_gold.png"))
        )
    if warehouse.partitions("threshold_ablation"):
        made.append(
            (
                "Threshold ablation",
                figures.threshold_ablation(warehouse, config.thresholds, folder / "threshold_ablation.png"),
            )
        )
    return made
