"""The `hf` family: any local transformers VLM checkpoint (`AutoModelForImageTextToText`: LLaVA, Idefics3,
SmolVLM, ...) with its processor and chat template. Nothing is downloaded: `register_hf_model` writes a
model folder that points at a local checkpoint, and every run trained from it stores only its adapter and
trained weights (the base stays where it is).

Loss only on the assistant turns: for each assistant turn, the tokens between the chat-templated prefix
(with the generation prompt) and the prefix plus that turn are labelled; everything else is -100.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import polars as pl
import torch
from torch import nn

from training.families.base import Batch

if TYPE_CHECKING:  # transformers loads on first use
    from transformers import GenerationMixin, PreTrainedModel

IGNORE = -100
IMAGE_TOKEN = "<image>"
# module attribute names per part, across transformers VLM classes (LLaVA, Idefics3/SmolVLM, Qwen2-VL, ...)
PART_NAMES = {
    "vision": ["vision_tower", "vision_model", "visual"],
    "projector": ["multi_modal_projector", "connector", "mm_projector"],
    "language": ["language_model", "text_model"],
}


def register_hf_model(checkpoint: str | Path, out_dir: str | Path) -> Path:
    """A model folder (`vlmfr_model.json` + empty trained weights) for a local HF VLM checkpoint."""
    from safetensors.torch import save_file

    from training.checkpoints import META, WEIGHTS, atomic_dir, model_version

    checkpoint = Path(checkpoint).resolve()
    if not (checkpoint / "config.json").exists():
        raise FileNotFoundError(f"{checkpoint} is not a transformers checkpoint (no config.json)")

    def write(staging: Path) -> None:
        save_file({}, str(staging / WEIGHTS))
        payload = {
            "family": "hf",
            "hf_model": str(checkpoint),
            "base": None,
            "adapter": False,
            "model": f"hf:{checkpoint.name}",
        }
        payload["version"] = model_version(
            staging, {**payload, "config": (checkpoint / "config.json").read_text()}
        )
        (staging / META).write_text(json.dumps(payload, indent=2, sort_keys=True))

    return atomic_dir(Path(out_dir), write)


def _find(model: nn.Module, names: list[str]) -> list[nn.Module]:
    for holder in (getattr(model, "model", None), model):
        if holder is None:
            continue
        for name in names:
            module = getattr(holder, name, None)
            if isinstance(module, nn.Module):
                return [module]
    return []


def _messages(conversation: list[dict[str, str]], with_image: bool) -> list[dict[str, Any]]:
    messages, image_placed = [], False
    for turn in conversation:
        role = "assistant" if turn["from"] in ("gpt", "assistant") else "user"
        text = turn["value"] or ""
        content: list[dict[str, Any]] = []
        if role == "user" and with_image and not image_placed:
            content.append({"type": "image"})
            image_placed = True
        content.append({"type": "text", "text": text.replace(IMAGE_TOKEN, "").strip()})
        messages.append({"role": role, "content": content})
    return messages


class HFData:
    def __init__(
        self, items: list[dict[str, torch.Tensor]], weights: torch.Tensor, pad_id: int, device: str
    ) -> None:
        self.items, self.weights, self.pad_id, self.device = items, weights, pad_id, device

    def __len__(self) -> int:
        return len(self.items)

    def batch(self, indices: torch.Tensor) -> Batch:
        chosen = [self.items[int(i)] for i in indices]
        width = max(int(item["input_ids"].shape[0]) for item in chosen)
        ids = torch.full((len(chosen), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(chosen), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(chosen), width), dtype=torch.long)
        for row, item in enumerate(chosen):
            n = item["input_ids"].shape[0]
            ids[row, :n], labels[row, :n], mask[row, :n] = item["input_ids"], item["labels"], 1
        inputs: dict[str, Any] = {"input_ids": ids, "attention_mask": mask, "labels": labels}
        for key in chosen[0]:
            if key not in ("input_ids", "labels", "attention_mask"):
                inputs[key] = torch.cat([item[key] for item in chosen])
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        return Batch(inputs=inputs, weights=self.weights[indices].to(self.device), tokens=int(mask.sum()))


class HFFamily:
    name = "hf"

    def load(self, model_dir: Path, meta: dict[str, Any]) -> nn.Module:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        path = meta["hf_model"]
        model = AutoModelForImageTextToText.from_pretrained(path)
        model.processor = AutoProcessor.from_pretrained(path)
        return model

    def save(self, model: nn.Module, model_dir: Path, trained: dict[str, torch.Tensor]) -> dict[str, Any]:
        return {"hf_model": model.name_or_path}

    def stored_weights(self, model: nn.Module) -> set[str]:
        return set()  # the checkpoint named in `hf_model` holds every base weight

    def parts(self, model: nn.Module) -> dict[str, list[nn.Module]]:
        # the model is the transformers one `load` built: nn.Module's typing knows none of its methods
        head = cast("PreTrainedModel", model).get_output_embeddings()
        assert head is not None  # image-text-to-text models all generate, through an LM head
        return {**{part: _find(model, names) for part, names in PART_NAMES.items()}, "lm_head": [head]}

    def vision_blocks(self, model: nn.Module) -> list[nn.Module]:
        vision = self.parts(model)["vision"]
        if not vision:
            return []
        layers = [m for n, m in vision[0].named_modules() if isinstance(m, nn.ModuleList)]
        return list(max(layers, key=len)) if layers else []

    def lora_targets(self, model: nn.Module) -> list[str]:
        language = self.parts(model)["language"]
        if not language:
            raise ValueError(f"{type(model).__name__}: no language model found ({PART_NAMES['language']})")
        head = cast("PreTrainedModel", model).get_output_embeddings()
        prefix = next(n for n, m in model.named_modules() if m is language[0])
        return [
            f"{prefix}.{name}"
            for name, module in language[0].named_modules()
            if isinstance(module, nn.Linear) and module is not head
        ]

    # ---------------------------------------------------------------------------------------- data
    def _encode(self, processor: Any, text: str, image: Any) -> dict[str, torch.Tensor]:
        kwargs: dict[str, Any] = {"text": [text], "return_tensors": "pt"}
        if image is not None:
            kwargs["images"] = [[image]] if "Idefics" in type(processor).__name__ else [image]
        return dict(processor(**kwargs))

    def prepare(self, model: nn.Module, examples: pl.DataFrame, warehouse: Any = None) -> HFData:
        from PIL import Image

        processor: Any = model.processor  # attached by `load`
        device = str(next(model.parameters()).device)
        items = []
        for row in examples.iter_rows(named=True):  # per sample: the processor expands images per sample
            image = Image.open(row["image"]).convert("RGB") if row.get("image") else None
            messages = _messages(row["conversations"], image is not None)
            full_text = processor.apply_chat_template(messages, tokenize=False)
            full = self._encode(processor, full_text, image)
            ids = full["input_ids"][0]
            labels = torch.full_like(ids, IGNORE)
            for index, message in enumerate(messages):
                if message["role"] != "assistant":
                    continue
                before = processor.apply_chat_template(
                    messages[:index], tokenize=False, add_generation_prompt=True
                )
                upto = processor.apply_chat_template(messages[: index + 1], tokenize=False)
                start = self._encode(processor, before, image)["input_ids"].shape[1]
                end = self._encode(processor, upto, image)["input_ids"].shape[1]
                labels[start:end] = ids[start:end]
            text_keys = set(
                processor.tokenizer.model_input_names
            )  # input_ids, attention_mask, token_type_ids
            item = {k: v for k, v in full.items() if k not in text_keys}  # pixel values and their masks/sizes
            item["input_ids"], item["labels"] = ids, labels
            items.append(item)
        weights = torch.tensor(examples["weight"].to_numpy(), dtype=torch.float32)
        pad = processor.tokenizer.pad_token_id
        return HFData(items, weights, pad if pad is not None else 0, device)

    def per_sample_loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        inputs = {k: v for k, v in batch.inputs.items() if k != "labels"}
        logits = model(**inputs).logits[:, :-1].float()
        labels = batch.inputs["labels"][:, 1:]
        token_loss = nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE, reduction="none"
        ).view(labels.shape)
        counts = (labels != IGNORE).sum(dim=1).clamp(min=1)
        return token_loss.sum(dim=1) / counts

    def answer(
        self,
        model: nn.Module,
        image_paths: list[str],
        questions: list[str],
        batch_size: int = 64,
        warehouse: Any = None,
        max_new_tokens: int = 16,
    ) -> list[str]:
        from PIL import Image

        processor: Any = model.processor  # attached by `load`
        device = next(model.parameters()).device
        tokenizer = processor.tokenizer
        tokenizer.padding_side = "left"
        answers: list[str] = []
        for start in range(0, len(questions), batch_size):
            paths, qs = image_paths[start : start + batch_size], questions[start : start + batch_size]
            texts = [
                processor.apply_chat_template(
                    _messages([{"from": "human", "value": q}], True),
                    tokenize=False,
                    add_generation_prompt=True,
                )
                for q in qs
            ]
            images = [Image.open(p).convert("RGB") for p in paths]
            if "Idefics" in type(processor).__name__:
                images = [[im] for im in images]
            encoded = processor(text=texts, images=images, return_tensors="pt", padding=True).to(device)
            inputs = {
                k: v for k, v in encoded.items() if k != "token_type_ids"
            }  # the tokenizer's, not the model's
            out = cast("GenerationMixin", model).generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id
                if tokenizer.pad_token_id is not None
                else tokenizer.eos_token_id,
            )
            new = out[:, inputs["input_ids"].shape[1] :]
            answers.extend(t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True))
        return answers
