"""The training extension points: VLM families and training methods (lazy: listing them imports no torch)."""

from __future__ import annotations

from vlmfr_data.registry import Registry

FAMILIES: Registry = Registry(
    "VLM family",
    entries={"mini": "training.families.mini:MiniFamily", "hf": "training.families.hf:HFFamily"},
)
METHODS: Registry = Registry(
    "training method",
    entries={
        "lora": "training.methods:LoRA",
        "two_stage": "training.methods:TwoStage",
        "full": "training.methods:Full",
        "qe_weighted": "training.methods:QEWeighted",
    },
)
