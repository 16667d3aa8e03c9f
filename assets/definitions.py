"""The Dagster code location: `workspace.yaml` loads `assets.definitions`."""

from __future__ import annotations

import dagster as dg

from assets import ingest, translation
from assets.common import WarehouseResource

# Topological order: `assets.demo` materializes in this order, every partition of each.
PIPELINE = [ingest.source_samples, ingest.segments, translation.translations]

defs = dg.Definitions(assets=PIPELINE, resources={"warehouse": WarehouseResource()})
