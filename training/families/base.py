"""What a VLM family provides to the training loop, the methods and the predictor.

A family builds or loads a model, names its parts (`vision`, `projector`, `language`, `lm_head`), lists the
LM linear layers LoRA adapts, turns examples (image + conversation) into tensors with loss only on the
answer tokens, computes the per-sample loss, and answers questions by greedy decoding.

Model folders (`save` / `load`), the same for every family:
- `vlmfr_model.json`: family, the family's config, `base` (the folder this model was trained from, or
  null for a complete model), `adapter` (whether `adapter/` holds a peft LoRA adapter), `version`.
- `weights.safetensors`: every weight this model trained that is not LoRA (a complete model: all weights
  except a frozen pretrained vision encoder, which comes from its package).
- `adapter/`: peft `adapter_config.json` + `adapter_model.safetensors` (LoRA weights only).
Loading a derived model loads its base, injects the adapter, then overwrites the trained weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pathlib import Path

    import polars as pl
    import torch


@dataclass
class Batch:
    """Model inputs of one batch plus the per-sample loss weights."""

    inputs: dict[str, Any]
    weights: torch.Tensor
    tokens: int  # non-padding tokens (for tokens/s)


class PreparedData(Protocol):
    """Examples turned into tensors once per run; `batch(indices)` slices a batch."""

    def __len__(self) -> int: ...

    def batch(self, indices: torch.Tensor) -> Batch: ...


class VLMFamily(Protocol):
    name: str

    def load(self, model_dir: Path, meta: dict[str, Any]) -> Any:
        """A model (with its tokenizer/processor attached) from a model folder and its `vlmfr_model.json`
        (`meta`); the caller then loads the stored weights and adapter."""
        ...

    def save(self, model: Any, model_dir: Path, trained: dict[str, torch.Tensor]) -> dict[str, Any]:
        """Write the family-specific files of a model folder (a tokenizer, say); returns the fields it
        adds to `vlmfr_model.json` (the family's config, or the checkpoint it stands on)."""
        ...

    def stored_weights(self, model: Any) -> set[str]:
        """Weights a complete model folder must hold (loading checks them; empty: the family's
        checkpoint holds them all)."""
        ...

    def parts(self, model: Any) -> dict[str, list[torch.nn.Module]]:
        """`vision`, `projector`, `language` (incl. embeddings), `lm_head`; each a list of modules."""
        ...

    def vision_blocks(self, model: Any) -> list[torch.nn.Module]:
        """The vision encoder's blocks in order (a method may train the last few)."""
        ...

    def lora_targets(self, model: Any) -> list[str]:
        """Full names of every linear layer of the language model except the LM head."""
        ...

    def prepare(self, model: Any, examples: pl.DataFrame, warehouse: Any = None) -> PreparedData:
        """Examples (id, image, conversations, weight) -> tensors; loss on answer tokens only."""
        ...

    def per_sample_loss(self, model: Any, batch: Batch) -> torch.Tensor:
        """Mean answer-token cross-entropy per sample, shape [batch]."""
        ...

    def answer(
        self,
        model: Any,
        image_paths: list[str],
        questions: list[str],
        batch_size: int = 64,
        warehouse: Any = None,
        max_new_tokens: int = 16,
    ) -> list[str]:
        """Greedy answers to single-turn questions about images (`warehouse`: where cached image
        features live, for a family that has them)."""
        ...
