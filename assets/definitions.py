"""The Dagster code location: `workspace.yaml` loads `assets.definitions`."""

from __future__ import annotations

import dagster as dg

from assets import ingest, quality, translation
from assets.common import WarehouseResource

# Topological order: `assets.demo` materializes in this order, every partition of each.
PIPELINE = [
    ingest.source_samples,
    ingest.segments,
    translation.translations,
    quality.quality_scores,
    quality.french_samples,
    quality.gold_evaluation,
    quality.quality_report,
    quality.french_corpora,
]

CHECKS = quality.GX_CHECKS

defs = dg.Definitions(assets=PIPELINE, asset_checks=CHECKS, resources={"warehouse": WarehouseResource()})
