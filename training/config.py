"""Model, training and method configs (nanoVLM style dataclasses), parsed from `[training]` in vlmfr.toml.

Two recipes share the code. `demo` (the default in `make demo`) bounds every French fine-tuning run to a
subset and a step count so the whole training part fits in minutes on 2 CPU cores; `full` trains on the
whole corpus for the configured epochs. Stage 0 (the English VLM) uses the same settings in both, because
the comparison on French only means something if the English model is good (>= 0.95 on easy-vqa test).

    [training]
    recipe = "demo"                    # or "full"
    family = "mini"                    # or "hf" with model = "/path/to/local/checkpoint"
    [training.english]                 # stage 0 overrides (TrainConfig fields)
    epochs = 6
    [training.finetune]                # French runs (TrainConfig fields)
    max_steps = 120
    [training.methods.lora]            # MethodConfig fields
    r = 16
    [training.model]                   # MiniConfig fields
    hidden_size = 192
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from vlmfr_data.settings import parse_table


@dataclass(frozen=True)
class MiniConfig:
    """The embedded `mini` VLM: frozen EfficientNet-Lite0 taps -> MLP projector -> small Llama decoder.

    Vision: the 64x64 easy-vqa images are read at `image_size`; the outputs of blocks `vision_taps`
    (block 4: 40 channels at stride 8, where colour survives; block 10: 112 channels at stride 16, where
    shape is linearly separable: a probe reached 0.992 colour / 1.000 shape on test images) are
    average-pooled to a `grid` x `grid` map and concatenated per cell: grid**2 visual tokens (+ 1 global).
    """

    image_size: int = 64  # pixels, square
    vision_taps: tuple[int, ...] = (4, 10)  # encoder blocks whose outputs become visual tokens
    grid: int = 2  # each tap pooled to grid x grid cells: grid**2 visual tokens
    global_token: bool = True  # one more visual token: the taps averaged over the whole image
    projector_hidden: int = 256
    hidden_size: int = 128  # the decoder's width
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 384
    vocab_size: int = 2048  # byte-level BPE vocabulary, trained on the texts the model is created with
    max_seq_len: int = 96  # token limit per example
    dropout: float = 0.0

    @classmethod
    def tiny(cls) -> MiniConfig:
        """For tests: trains in seconds (features still come from the real frozen encoder)."""
        return cls(
            projector_hidden=32,
            hidden_size=32,
            num_layers=1,
            num_heads=2,
            intermediate_size=64,
            vocab_size=400,
            max_seq_len=48,
        )

    @property
    def visual_tokens(self) -> int:
        return self.grid * self.grid + int(self.global_token)


@dataclass(frozen=True)
class TrainConfig:
    """One training run. `max_steps` (if set) caps `epochs`; `max_samples` takes a seeded subset."""

    epochs: float = 1.0  # passes over the train split (capped by `max_steps`)
    max_steps: int | None = None  # optimizer steps at most
    max_samples: int | None = None  # a seeded subset of the train split
    # Equal compute: training examples every compared run sees (steps = examples / batch_size, any
    # corpus size); None = epochs / max_steps decide.
    examples: int | None = None
    batch_size: int = 256  # examples per optimizer step
    lr: float = 2e-3  # default for the parts a method trains (a method may set its own per part)
    warmup_steps: int = 30  # linear warm-up before the cosine decay
    min_lr_ratio: float = 0.05  # cosine decay to lr * min_lr_ratio
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    seed: int = 0  # trainable initialisation, LoRA init and data order
    checkpoint_every: int = 200  # steps; a checkpoint is also written at the end
    log_every: int = 10  # steps between loss lines
    # torch CPU threads. 1: measured on the shared 2-core machine, 2 threads spin-wait when another process
    # holds a core (3-9 s a step instead of 0.4 s); Dagster also runs partitions in parallel processes.
    threads: int = 1
    device: str | None = None  # None: cuda if available (bf16), else cpu

    @classmethod
    def tiny(cls) -> TrainConfig:
        return cls(
            epochs=1, max_steps=12, batch_size=16, lr=3e-3, warmup_steps=2, checkpoint_every=6, log_every=2
        )


@dataclass(frozen=True)
class MethodConfig:
    """Which parts train and at which learning rate (0 = frozen with requires_grad=False), LoRA settings.

    Parts: `vision` (the encoder; `vision_last_blocks` > 0 trains only its last blocks), `projector`,
    `language` (every LM weight: `full`), `lora` (adapters on every LM linear layer except the head).
    """

    lr_vision: float = 0.0  # the vision encoder (0: frozen)
    vision_last_blocks: int = 0  # > 0: only the encoder's last blocks train
    lr_projector: float = 0.0  # the image-to-token projector
    lr_language: float = 0.0  # every language-model weight (`full`)
    lr_lora: float = 0.0  # the LoRA adapters on every LM linear layer except the head
    # Output rows (LM head) of the tokens the base model never emitted in its own training: a new vocabulary.
    # The English VLM's head pushed those rows down for every English answer, and LoRA with the head frozen
    # (LLaVA's rule) could not lift them: French loss plateaued at 2.2-2.3 after 120 steps at lr 2e-3 or 1e-2,
    # 0.31 with these rows trained (the rows of tokens it did emit stay frozen). 0 = LLaVA's rule alone.
    lr_new_tokens: float = 0.0
    r: int = 16  # LoRA rank
    alpha: int = 32  # LoRA scaling (alpha / r)
    lora_dropout: float = 0.0
    # two_stage only: the stage-A recipe (projector, optional last vision blocks) and its share of steps
    stage_a_lr_projector: float = 1e-3
    stage_a_lr_vision: float = 0.0
    stage_a_vision_last_blocks: int = 0
    stage_a_fraction: float = 0.3


# On the gold corpus every sample weighs 1 (it has no quality score), so qe_weighted trains exactly lora:
# the gold ceiling of a method is the gold corpus trained with CEILING_METHOD.get(method, method).
CEILING_METHOD: dict[str, str] = {"qe_weighted": "lora"}

DEFAULT_METHODS: dict[str, MethodConfig] = {
    # LLaVA's rule: LoRA on every LM linear except the head; vision and projector frozen
    # (+ the head rows of tokens the English model never emitted, see `lr_new_tokens`)
    "lora": MethodConfig(lr_lora=2e-3, lr_new_tokens=2e-3),
    # stage A: projector at 1e-3 with the LM frozen; stage B: LoRA from stage A, projector frozen
    "two_stage": MethodConfig(lr_lora=2e-3, lr_new_tokens=2e-3),
    # everything but the vision encoder
    "full": MethodConfig(lr_projector=5e-4, lr_language=5e-4),
    # LoRA, loss weighted per sample by its quality score
    "qe_weighted": MethodConfig(lr_lora=2e-3, lr_new_tokens=2e-3),
}


@dataclass(frozen=True)
class TrainingSettings:
    """Everything `[training]` configures."""

    # `demo` bounds every French run to `finetune.examples`; `full` trains the whole corpus for its epochs
    recipe: Literal["demo", "full"] = "demo"
    family: str = "mini"  # the VLM family (training.registry FAMILIES): `mini`, or `hf` with `model_path`
    model: MiniConfig = field(default_factory=MiniConfig)
    model_path: str | None = None  # local checkpoint path for family "hf"
    english: TrainConfig = field(default_factory=lambda: ENGLISH_TRAIN)
    finetune: TrainConfig = field(default_factory=lambda: DEMO_FINETUNE)  # the recipe's (full: FULL_FINETUNE)
    methods: dict[str, MethodConfig] = field(default_factory=lambda: dict(DEFAULT_METHODS))
    # tier set each of the once-only methods trains on in the demo (the others: every tier set)
    once_methods: dict[str, str] = field(
        default_factory=lambda: {"full": "high", "qe_weighted": "high+medium+low"}
    )

    def method(self, name: str) -> MethodConfig:
        return self.methods.get(name, DEFAULT_METHODS.get(name, MethodConfig()))

    def with_recipe(self, recipe: Literal["demo", "full"]) -> TrainingSettings:
        """These settings under another recipe: `finetune` moves to that recipe's defaults, keeping every
        field set away from the current recipe's defaults."""
        old, new = (DEMO_FINETUNE if r == "demo" else FULL_FINETUNE for r in (self.recipe, recipe))
        changed = {f.name: getattr(self.finetune, f.name) for f in fields(TrainConfig)}
        changed = {k: v for k, v in changed.items() if v != getattr(old, k)}
        return replace(self, recipe=recipe, finetune=replace(new, **changed))

    @classmethod
    def from_table(cls, raw: dict[str, Any] | None, where: str = "[training]") -> TrainingSettings:
        """The `[training]` table over the defaults of its recipe; a wrong key or type is an error naming
        its key path (vlmfr_data.settings)."""
        raw = dict(raw or {})
        recipe = parse_table(cls, {k: v for k, v in raw.items() if k == "recipe"}, where).recipe
        base = cls(recipe=recipe, finetune=DEMO_FINETUNE if recipe == "demo" else FULL_FINETUNE)
        return parse_table(cls, raw, where, base)


# Stage 0, the same in both recipes. Chosen on the English dev split only (perf/choose_lr.py --english;
# accuracy on its 1,872 items, seeds 0 / 1): lr 2e-3 x 5 epochs 0.914 / -; 1e-3 x 5 0.980 / 0.928;
# 1e-3 x 8 0.974 / 0.986; 7e-4 x 5 0.973 / -. The yes/no colour questions are learnt late and at a
# seed-dependent step (colour itself is read early): 8 epochs at 1e-3 got there with both seeds.
# Two torch threads: stage 0 is on the demo's critical path (every French run waits for it) and has the
# second core to itself once the data half is done; 150 steps took 15.7 s with 2 threads and 25.0 s with
# 1 on an idle machine, 21.2 s against 23.1 s beside a busy single-thread process, provided OpenMP
# threads wait passively (OMP_WAIT_POLICY=PASSIVE, which `make` exports; spinning they took 47.4 s).
ENGLISH_TRAIN = TrainConfig(
    epochs=8, batch_size=128, lr=1e-3, warmup_steps=40, checkpoint_every=300, log_every=20, threads=2
)
# French fine-tuning: the full recipe trains 3 epochs over the corpus's train split ...
FULL_FINETUNE = TrainConfig(epochs=3, batch_size=128, lr=2e-3, warmup_steps=30, checkpoint_every=200)
# ... the demo recipe 15,360 examples per run (120 steps of 128) whatever the corpus size.
DEMO_FINETUNE = replace(FULL_FINETUNE, examples=15_360)


def parse_training(raw: dict[str, Any] | None) -> TrainingSettings:
    """A `[training]` table given as a dict (in code, or from the CLI) -> settings."""
    return TrainingSettings.from_table(raw)


def training_settings(project: Any = None) -> TrainingSettings:
    """The `[training]` settings of `project` (a vlmfr_data ProjectConfig, parsed once when it was
    loaded), or of `vlmfr.toml` when none is given: what every entry point trains with."""
    if project is None:
        from vlmfr_data.config import load_config

        project = load_config()
    settings = project.training
    if not isinstance(settings, TrainingSettings):
        raise TypeError(f"ProjectConfig.training is {type(settings).__name__}, not TrainingSettings")
    return settings


def config_json(*configs: Any) -> str:
    """Stable JSON of dataclass configs (part of a run's identity)."""
    return json.dumps(
        [asdict(c) if dataclasses.is_dataclass(c) and not isinstance(c, type) else c for c in configs],
        sort_keys=True,
    )
