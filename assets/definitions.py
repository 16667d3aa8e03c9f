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
from assets.jobs import JOBS

# The partitions `make demo` materializes where not every one (an asset module's `DEMO_PARTITIONS`).
DEMO_PARTITIONS: dict[str, list] = {}


def _optional(module: str, assets_name: str, checks_name: str) -> tuple[list, list]:
    """Assets of a later stage whose module may not exist yet in a partial checkout."""
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return [], []
    DEMO_PARTITIONS.update(getattr(found, "DEMO_PARTITIONS", {}))
    return list(getattr(found, assets_name, [])), list(getattr(found, checks_name, []))


REVIEW_ASSETS, REVIEW_CHECKS = _optional("assets.review", "REVIEW_ASSETS", "REVIEW_CHECKS")
TRAINING_ASSETS, TRAINING_CHECKS = _optional("assets.training", "TRAINING_ASSETS", "TRAINING_CHECKS")
EVALUATION_ASSETS, EVALUATION_CHECKS = _optional(
    "assets.evaluation", "EVALUATION_ASSETS", "EVALUATION_CHECKS"
)


def _topological_rank(assets: list[dg.AssetsDefinition]) -> dict[dg.AssetsDefinition, int]:
    """Each step's depth in the graph, so `assets.demo` can run the steps in list order."""
    owner = {key: asset for asset in assets for key in asset.keys}
    rank: dict[dg.AssetsDefinition, int] = {}

    def depth(asset: dg.AssetsDefinition) -> int:
        if asset not in rank:
            rank[asset] = 0  # guards against a cycle while recursing
            parents = {owner[k] for deps in asset.asset_deps.values() for k in deps if k in owner} - {asset}
            rank[asset] = 1 + max((depth(p) for p in parents), default=-1)
        return rank[asset]

    for asset in assets:
        depth(asset)
    return rank


# Topological order (stable within a depth): `assets.demo` materializes in this order, every partition.
PIPELINE = [*DATA_ASSETS, *REVIEW_ASSETS, *TRAINING_ASSETS, *EVALUATION_ASSETS]
PIPELINE = sorted(PIPELINE, key=lambda a: _topological_rank(PIPELINE).get(a, 0))
CHECKS = [*DATA_CHECKS, *REVIEW_CHECKS, *TRAINING_CHECKS, *EVALUATION_CHECKS]

defs = dg.Definitions(
    assets=PIPELINE,
    asset_checks=CHECKS,
    jobs=JOBS,
    resources={"warehouse": WarehouseResource()},
    # Running by default, so `make ui` (webserver + daemon) starts training and evaluation when their inputs
    # change, and the UI's automation tab shows why each ran.
    sensors=[
        dg.AutomationConditionSensorDefinition(
            "automation", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING
        )
    ],
)
