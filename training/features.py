"""Frozen image features, computed once per (encoder, image) and cached in the warehouse table
`image_features` (partition = encoder id), so every epoch, every training run and every prediction after
the first pays only for the decoder. Missing images are encoded in batches and each batch is appended
as it finishes: a killed run keeps what it encoded.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import torch

from vlmfr_data.progress import Progress

log = logging.getLogger("vlmfr.training")
ENCODE_BATCH = 250
_MEMORY: dict[str, dict[str, np.ndarray]] = {}  # per process: encoder -> image -> features


def partition_name(encoder: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", encoder)


def image_features(
    warehouse: Any,
    images: list[str],
    encoder: str,
    encode: Callable[[list[str]], torch.Tensor],
) -> torch.Tensor:
    """Features of `images` in order, flattened: [N, tokens * dim]; `encode(paths)` computes missing ones.

    Without a warehouse (tests, ad-hoc predictions) features are only memoised in this process.
    """
    memory = _MEMORY.setdefault(encoder, {})
    partition = partition_name(encoder)
    missing = [p for p in dict.fromkeys(images) if p not in memory]
    if missing and warehouse is not None and warehouse.has_partition("image_features", partition):
        stored = (
            warehouse.scan("image_features", partition)
            .filter(pl.col("image").is_in(missing))
            .unique("image", keep="last")
            .collect()
        )
        if stored.height:
            width = stored["features"].list.len().max()
            matrix = stored["features"].list.to_array(width).to_numpy()
            memory.update(zip(stored["image"].to_list(), matrix, strict=True))
        missing = [p for p in missing if p not in memory]
    if missing:
        progress = Progress(f"image features ({encoder})", total=len(missing), unit="images")
        for start in range(0, len(missing), ENCODE_BATCH):
            paths = missing[start : start + ENCODE_BATCH]
            with torch.no_grad():
                feats = encode(paths).float()
            flat = feats.reshape(len(paths), -1).numpy()
            memory.update(zip(paths, flat, strict=True))
            if warehouse is not None:
                frame = pl.DataFrame(
                    {"encoder": [encoder] * len(paths), "image": paths, "features": list(flat)},
                    schema={"encoder": pl.String(), "image": pl.String(), "features": pl.List(pl.Float32())},
                )
                warehouse.append("image_features", frame, partition)
            progress.update(len(paths))
    matrix = np.stack([memory[p] for p in images]).astype(np.float32)
    return torch.from_numpy(matrix)


def shaped(features: torch.Tensor, tokens: int) -> torch.Tensor:
    """[N, tokens*dim] -> [N, tokens, dim]."""
    return features.reshape(features.shape[0], tokens, -1)
