"""COMET / CometKiwi through `unbabel-comet`, from a local checkpoint (no weights ship offline here).

Configure `checkpoint` (signal option) or `$VLMFR_COMET_CHECKPOINT`: the `.ckpt` file of a COMET model
folder (`<model>/checkpoints/model.ckpt` beside `<model>/hparams.yaml`, whose `pretrained_model` must
name a local encoder folder). Reference-free models (CometKiwi) score (src, mt); reference-based ones
also need `ref` and are skipped for pairs without one. Without a checkpoint the signal is recorded as
skipped, with this reason, and the combined score renormalises over the other signals.
"""

from __future__ import annotations

import importlib.util
import os
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from vlmfr_data.quality.base import scores_frame
from vlmfr_data.registry import Availability


class Comet:
    description = (
        "value = COMET / CometKiwi segment score (model-dependent, ~0..1); score = value clipped to [0, 1]"
    )

    def __init__(self, checkpoint: str | None = None, batch_size: int = 16) -> None:
        ref = checkpoint or os.environ.get("VLMFR_COMET_CHECKPOINT")
        self.checkpoint = Path(ref).expanduser() if ref else None
        self.batch_size = batch_size

    def availability(self) -> Availability:
        if importlib.util.find_spec("comet") is None:
            return Availability(False, "`pip install unbabel-comet`")
        if self.checkpoint is None:
            return Availability(
                False,
                "no COMET checkpoint configured (set $VLMFR_COMET_CHECKPOINT or the signal's "
                "`checkpoint` option to a local model.ckpt; weights cannot be downloaded here)",
            )
        if not self.checkpoint.exists():
            return Availability(False, f"COMET checkpoint {self.checkpoint} does not exist")
        return Availability(True)

    @cached_property
    def version(self) -> str:
        if self.checkpoint is None:
            return "unconfigured"
        return f"{self.checkpoint.parent.parent.name}:{self.checkpoint.stat().st_size if self.checkpoint.exists() else 0}"

    @cached_property
    def model(self) -> Any:
        from comet import load_from_checkpoint

        return load_from_checkpoint(str(self.checkpoint), reload_hparams=True)

    @property
    def reference_free(self) -> bool:
        """CometKiwi-style models score (src, mt); UnifiedMetric is reference-free unless trained with `ref`."""
        name = type(self.model).__name__
        if name == "ReferencelessRegression":
            return True
        return name == "UnifiedMetric" and "ref" not in self.model.hparams.get(
            "input_segments", ["mt", "src"]
        )

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        references = pairs["reference"].to_list() if "reference" in pairs.columns else [None] * pairs.height
        rows = [
            {"src": s, "mt": m or ""} | ({"ref": r} if r else {})
            for s, m, r in zip(
                pairs["text_en"].to_list(), pairs["text_fr"].to_list(), references, strict=True
            )
        ]
        usable = [i for i, row in enumerate(rows) if self.reference_free or "ref" in row]
        values: list[float | None] = [None] * len(rows)
        if usable:
            prediction = self.model.predict(
                [rows[i] for i in usable],
                batch_size=self.batch_size,
                gpus=0,
                accelerator="cpu",
                progress_bar=False,
                num_workers=1,
            )
            for i, value in zip(usable, prediction.scores, strict=True):
                values[i] = float(value)
        detail = [None if v is not None else "needs a reference" for v in values]
        return scores_frame(
            values, [None if v is None else min(1.0, max(0.0, v)) for v in values], None, detail
        )
