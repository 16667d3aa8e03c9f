"""Warehouse tables of the `training` package, listed by `vlmfr_data.catalog` (polars types only: no heavy imports)."""

from __future__ import annotations

import polars as pl

from vlmfr_data.schema import TableSpec

TRAINING_RUNS = TableSpec(
    name="training_runs",
    schema={
        "run_id": pl.String(),  # hash of (family, method, corpus, base model version, configs)
        "model": pl.String(),  # stable model id, e.g. "mini:high__lora"
        "family": pl.String(),
        "method": pl.String(),
        "tier_set": pl.String(),  # null for the English VLM and for ad-hoc corpora
        "corpus": pl.String(),  # corpus folder (or "samples:<dataset>" for stage 0)
        "corpus_hash": pl.String(),  # hash of the training rows actually used (ids, texts, weights)
        "base_model_dir": pl.String(),
        "model_dir": pl.String(),
        "seed": pl.Int64(),  # training seed (initialisation of what trains, data order)
        "selected_step": pl.Int64(),  # the step whose weights the model holds (best on `dev`, else last)
        "dev_accuracy": pl.Float64(),
        "dev": pl.String(),  # the dev benchmark the checkpoint was chosen on (never a test split)
        "reused_from": pl.String(),  # run id whose model this row reuses (identical corpus), else null
        "samples": pl.Int64(),
        "steps": pl.Int64(),
        "epochs": pl.Float64(),
        "final_loss": pl.Float64(),
        "seconds": pl.Float64(),
        "tokens_per_s": pl.Float64(),
        "trainable_params": pl.Int64(),
        "total_params": pl.Int64(),
        "device": pl.String(),
        "config": pl.String(),  # JSON of model, train and method configs
        "created_at": pl.Datetime("us", "UTC"),
    },
    view_sql="SELECT *, tier_set AS tier FROM {source} "
    "QUALIFY row_number() OVER (PARTITION BY model ORDER BY created_at DESC) = 1",
    description="One row per trained model (latest per model id): method, tier set, corpus hash, samples, "
    "steps, final loss, seconds, tokens/s, trainable and total parameters, where the weights are.",
)

TRAINING_LOSS = TableSpec(
    name="training_loss",
    schema={
        "run_id": pl.String(),
        "model": pl.String(),
        "stage": pl.String(),  # "main", or "A"/"B" for two_stage
        "step": pl.Int64(),
        "epoch": pl.Float64(),
        "loss": pl.Float64(),  # mean weighted loss over the logging window
        "lr": pl.Float64(),
        "seconds": pl.Float64(),
        "dev_accuracy": pl.Float64(),  # at the steps the run was evaluated on its dev set, else null
    },
    description="Loss curve of every training run (one row per logged step; partition = model id).",
)

IMAGE_FEATURES = TableSpec(
    name="image_features",
    schema={
        "encoder": pl.String(),  # encoder id + version: what produced the features (partition key)
        "image": pl.String(),  # image path as in `samples.image`
        "features": pl.List(pl.Float32()),  # flattened [tokens, dim] frozen vision output
    },
    description="Frozen vision-encoder output per image, computed once and reused by every training run "
    "and prediction (partition = encoder id).",
)

TABLES: list[TableSpec] = [TRAINING_RUNS, TRAINING_LOSS, IMAGE_FEATURES]
