"""Training methods as parameter-group recipes (nanoVLM style): one learning rate per part, and a part with
learning rate 0 is frozen (`requires_grad=False`, not in the optimizer).

Parts: `vision` (all of it, or its last `vision_last_blocks` blocks), `projector`, `language` (the whole LM:
embeddings, blocks, head), `lora` (peft LoRA adapters on every linear of the LM except the head, injected
on first use), `new_token_rows` (the head rows of tokens the base model never emitted; the other rows get
no gradient and no weight decay, so they stay bit-identical). A method is a list of stages; each stage
gets a share of the run's steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from training.config import MethodConfig


@dataclass(frozen=True)
class Stage:
    name: str
    lrs: dict[str, float]  # part -> learning rate (0 or absent: frozen)
    vision_last_blocks: int = 0  # 0 = every vision block when lrs["vision"] > 0
    fraction: float = 1.0  # share of the run's steps
    weight_by_quality: bool = False

    @property
    def uses_lora(self) -> bool:
        return self.lrs.get("lora", 0.0) > 0


@dataclass
class Method:
    config: MethodConfig = field(default_factory=MethodConfig)
    name: ClassVar[str] = "method"  # stamped by the registry

    def stages(self) -> list[Stage]:
        c = self.config
        return [
            Stage(
                "main",
                {
                    "vision": c.lr_vision,
                    "projector": c.lr_projector,
                    "language": c.lr_language,
                    "lora": c.lr_lora,
                    "new_token_rows": c.lr_new_tokens,
                },
                vision_last_blocks=c.vision_last_blocks,
            )
        ]


def _lora_lrs(c: MethodConfig) -> dict[str, float]:
    return {"lora": c.lr_lora, "new_token_rows": c.lr_new_tokens}


class LoRA(Method):
    """peft LoRA on every LM linear except the head (+ the head rows of never-emitted tokens); vision,
    projector, embeddings and the rest of the head frozen."""

    def stages(self) -> list[Stage]:
        return [Stage("main", _lora_lrs(self.config))]


class QEWeighted(LoRA):
    """LoRA on the whole corpus with each sample's loss weighted by its quality score (soft filtering)."""

    def stages(self) -> list[Stage]:
        return [Stage("main", _lora_lrs(self.config), weight_by_quality=True)]


class Full(Method):
    """Everything but the vision encoder: projector and the whole language model."""

    def stages(self) -> list[Stage]:
        c = self.config
        return [Stage("main", {"projector": c.lr_projector, "language": c.lr_language})]


class Pretrain(Full):
    """Stage 0 (the English VLM from scratch): the `full` recipe at the English learning rate."""

    name: ClassVar[str] = "pretrain"


class TwoStage(Method):
    """A: projector (+ optional last vision blocks), LM frozen. B: LoRA on the LM from A, rest frozen."""

    def stages(self) -> list[Stage]:
        c = self.config
        return [
            Stage(
                "A",
                {"projector": c.stage_a_lr_projector, "vision": c.stage_a_lr_vision},
                vision_last_blocks=c.stage_a_vision_last_blocks,
                fraction=c.stage_a_fraction,
            ),
            Stage("B", _lora_lrs(c), fraction=1.0 - c.stage_a_fraction),
        ]


def create_method(name: str, config: MethodConfig) -> Method:
    from training.registry import METHODS

    return METHODS.create(name, config=config)


# --------------------------------------------------------------------------------------- application
def inject_lora(family: Any, model: Any, config: MethodConfig) -> Any:
    """peft LoRA adapters on the family's LoRA targets (in place); returns the LoraConfig."""
    from peft import LoraConfig, inject_adapter_in_model

    lora = LoraConfig(
        r=config.r,
        lora_alpha=config.alpha,
        lora_dropout=config.lora_dropout,
        target_modules=family.lora_targets(model),
    )
    inject_adapter_in_model(lora, model)
    model._vlmfr_lora_config = lora  # noqa: SLF001 - saved beside the adapter weights
    return lora


def is_lora(name: str) -> bool:
    return "lora_" in name


def apply_stage(family: Any, model: Any, stage: Stage, config: MethodConfig) -> list[dict[str, Any]]:
    """Freeze everything, then unfreeze the stage's parts; returns optimizer parameter groups."""
    if stage.uses_lora and getattr(model, "_vlmfr_lora_config", None) is None:
        inject_lora(family, model, config)
    for param in model.parameters():
        param.requires_grad_(False)
    parts = family.parts(model)
    chosen: dict[str, list[Any]] = {}
    for part, lr in stage.lrs.items():
        if lr <= 0:
            continue
        if part == "lora":
            params = [p for n, p in model.named_parameters() if is_lora(n)]
        elif part == "vision" and stage.vision_last_blocks > 0:
            blocks = family.vision_blocks(model)[-stage.vision_last_blocks :]
            params = [p for b in blocks for p in b.parameters()]
        elif part == "new_token_rows":
            params = _new_token_rows(parts["lm_head"], getattr(model, "_vlmfr_emitted_tokens", None))
        elif part == "language":
            modules = parts["language"] + parts["lm_head"]
            params = [p for m in modules for n, p in m.named_parameters() if not is_lora(n)]
        else:
            params = [p for m in parts[part] for p in m.parameters()]
        unique = list({id(p): p for p in params}.values())
        for p in unique:
            p.requires_grad_(True)
        chosen[part] = unique
    return [
        # no weight decay on the head rows: decoupled decay would shrink the frozen rows too
        {"params": params, "lr": stage.lrs[part], "part": part}
        | ({"weight_decay": 0.0} if part == "new_token_rows" else {})
        for part, params in chosen.items()
        if params
    ]


def _new_token_rows(heads: list[Any], emitted: Any) -> list[Any]:
    """The head weight, its gradient masked to the rows of tokens the base model never emitted.

    `emitted` (token ids, from the base model's metadata) None: the base did not record them (an HF
    checkpoint, whose LM already knows its vocabulary): nothing to train."""
    import torch

    if emitted is None:
        return []
    params = []
    for head in heads:
        weight = head.weight
        if getattr(weight, "_vlmfr_row_mask", None) is None:
            mask = torch.ones(weight.shape[0], 1, dtype=weight.dtype, device=weight.device)
            mask[torch.as_tensor(emitted, dtype=torch.long, device=weight.device)] = 0
            weight._vlmfr_row_mask = mask  # noqa: SLF001
            weight._vlmfr_trainable_numel = int(mask.sum().item()) * weight.shape[1]  # noqa: SLF001
            weight.requires_grad_(True)  # a hook needs it; apply_stage sets it anyway
            weight.register_hook(lambda grad, mask=mask: grad * mask)
        params.append(weight)
    return params
