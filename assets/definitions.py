"""The Dagster code location (`workspace.yaml` loads `assets.definitions`): one asset per warehouse table
or file output, generated from every layer's stage declarations; checks from the asset modules.

Training and evaluation assets run under declarative automation (the daemon of `make ui` starts them
when the corpora or models they read change).
"""

from __future__ import annotations

import dagster as dg

from assets.checks import DATA_CHECKS
from assets.common import ModelServersResource, WarehouseResource
from assets.evaluation import DEMO_PARTITIONS as EVALUATION_DEMO
from assets.evaluation import EVALUATION_CHECKS
from assets.jobs import JOBS
from assets.review import REVIEW_CHECKS
from assets.stages import stage_assets
from assets.training import DEMO_PARTITIONS as TRAINING_DEMO
from assets.training import TRAINING_CHECKS
from evaluation.stages import STAGES as EXPERIMENT_STAGES
from vlmfr_data.stages import STAGES as DATA_STAGES

# every stage of the graph, the data half then training and evaluation
STAGES = [*DATA_STAGES, *EXPERIMENT_STAGES]

# The partitions `make demo` materializes where not every one.
DEMO_PARTITIONS: dict[str, list] = {**TRAINING_DEMO, **EVALUATION_DEMO}


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
PIPELINE = stage_assets(STAGES)
PIPELINE = sorted(PIPELINE, key=lambda a: _topological_rank(PIPELINE).get(a, 0))
CHECKS = [*DATA_CHECKS, *REVIEW_CHECKS, *TRAINING_CHECKS, *EVALUATION_CHECKS]

defs = dg.Definitions(
    assets=PIPELINE,
    asset_checks=CHECKS,
    jobs=JOBS,
    resources={"warehouse": WarehouseResource(), "model_servers": ModelServersResource()},
    # Running by default, so `make ui` (webserver + daemon) starts training and evaluation when their inputs
    # change, and the UI's automation tab shows why each ran.
    sensors=[
        dg.AutomationConditionSensorDefinition(
            "automation", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING
        )
    ],
)
