"""Answers from any trained model folder (both families), for evaluation.

predictor = load_predictor("$VLMFR_HOME/models/english_vlm")
predictor.answer(["img.png"], ["What color is the shape?"])   # ['red'] (greedy, stripped)
predictor.name      # stable id, e.g. "mini:english_vlm"
predictor.version   # hash of weights + config (+ base model's): cache predictions per version
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Predictor:
    name: str
    version: str
    model_dir: Path
    family: Any
    model: Any
    warehouse: Any = None  # when set, the mini family reads/writes cached image features there

    def answer(self, image_paths: list[str], questions: list[str], batch_size: int = 64) -> list[str]:
        """Greedy decoding of each answer; no post-processing beyond stripping whitespace."""
        if len(image_paths) != len(questions):
            raise ValueError(f"{len(image_paths)} images for {len(questions)} questions")
        if not questions:
            return []
        import torch

        with torch.no_grad():
            return self.family.answer(
                self.model,
                list(image_paths),
                list(questions),
                batch_size=batch_size,
                warehouse=self.warehouse,
            )


def load_predictor(model_dir: str | Path, device: str | None = None, warehouse: Any = None) -> Predictor:
    """A predictor for a model folder written by `training` (english_vlm, a tier model, any run)."""
    from training.checkpoints import load_model
    from training.train import pick_device

    folder = Path(model_dir)
    family, model, meta = load_model(folder, pick_device(device))
    name = meta.get("model") or f"{meta['family']}:{folder.name}"
    return Predictor(
        name=name, version=meta["version"], model_dir=folder, family=family, model=model, warehouse=warehouse
    )
