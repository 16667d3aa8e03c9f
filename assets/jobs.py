"""Jobs that run the data half on another executor: Dagster's multiprocess executor (one process per
step on this machine) and a real distributed engine, dask.distributed (steps shipped to dask workers;
`scripts/dask_cluster.sh` starts a scheduler and workers on this machine).

Production shape: the same asset graph; only the executor and where the Parquet lives change (see README
"Scale out").
"""

from __future__ import annotations

import os

import dagster as dg
from dagster_dask import dask_executor

# the unpartitioned steps after translation: score -> combine -> French samples -> gold (a diamond of
# independent work that an executor can spread over processes or machines)
QUALITY_SELECTION = dg.AssetSelection.assets(
    *("sample_segments", "dataset_segments", "segments", "segment_contexts"),
    *("quality_scores", "quality_signals", "translation_quality", "french_samples"),
    *("gold_pairs", "gold_summary", "signal_correlations", "threshold_ablation"),
)

quality_multiprocess = dg.define_asset_job(
    "quality_multiprocess",
    selection=QUALITY_SELECTION,
    executor_def=dg.multiprocess_executor.configured({"max_concurrent": 2}),
    description="The data half after translation, one process per step (Dagster's multiprocess executor).",
)

quality_on_dask = dg.define_asset_job(
    "quality_on_dask",
    selection=QUALITY_SELECTION,
    executor_def=dask_executor.configured(
        {"cluster": {"existing": {"address": os.environ.get("VLMFR_DASK_SCHEDULER", "tcp://127.0.0.1:8786")}}}
    ),
    description="The data half after translation on dask.distributed workers "
    "(scheduler address: $VLMFR_DASK_SCHEDULER, default tcp://127.0.0.1:8786).",
)

JOBS = [quality_multiprocess, quality_on_dask]
