"""The Dagster code location (`workspace.yaml` loads `assets.definitions`): one asset per warehouse table.

Training and evaluation assets come from their own modules when present; they run under declarative
automation (the daemon of `make ui` starts them when the corpora or models they read change).
"""

from __future__ import annotations

import importlib

import dagster as dg

from assets.checks import DATA_CHECKS
from assets.common import WarehouseResource
from assets.data import DATA_ASSETS


def _optional(module: str, assets_name: str, checks_name: str) -> tuple[list, list]:
    """Assets of a later stage whose module may not exist yet in a partial checkout."""
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return [], []
    return list(getattr(found, assets_name, [])), list(getattr(found, checks_name, []))


TRAINING_ASSETS, TRAINING_CHECKS = _optional("assets.training", "TRAINING_ASSETS", "TRAINING_CHECKS")
EVALUATION_ASSETS, EVALUATION_CHECKS = _optional(
    "assets.evaluation", "EVALUATION_ASSETS", "EVALUATION_CHECKS"
)

# Topological order: `assets.demo` materializes in this order, every partition of each.
PIPELINE = [*DATA_ASSETS, *TRAINING_ASSETS, *EVALUATION_ASSETS]
CHECKS = [*DATA_CHECKS, *TRAINING_CHECKS, *EVALUATION_CHECKS]

defs = dg.Definitions(
    assets=PIPELINE,
    asset_checks=CHECKS,
    resources={"warehouse": WarehouseResource()},
    # Running by default, so `make ui` (webserver + daemon) starts training and evaluation when their inputs
    # change, and the UI's automation tab shows why each ran.
    sensors=[
        dg.AutomationConditionSensorDefinition(
            "automation", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING
        )
    ],
)
