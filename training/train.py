"""The training loop and its three entry points.

    train_on_corpus(warehouse, corpus_dir, method="lora", base_model_dir=None, out_dir=None,
                    config=None, method_config=None, tier_set=None, model_name=None, emit=None) -> TrainingReport
        Train `method` (lora | two_stage | full | qe_weighted) on the train split of any corpus folder
        (`samples.parquet` as written by `vlmfr_data.corpora`), starting from `base_model_dir` (default:
        `$VLMFR_HOME/models/english_vlm`), into `out_dir` (default: `$VLMFR_HOME/models/runs/<run id>`).
        `config` is a `TrainConfig` (default: the recipe's fine-tuning config). Writes a `training_runs`
        row and the loss curve (`training_loss` + `loss.png` in the model folder).
    train_english_vlm(warehouse, settings=None, out_dir=None, dataset="easy_vqa") -> TrainingReport
        Stage 0: the `mini` VLM from scratch (tokenizer, projector, decoder) on the English train split.
    train_tier_model(warehouse, tier_set, method, settings=None) -> TrainingReport
        `train_on_corpus` on `$VLMFR_HOME/corpora/<tier_set>` into `models/tier_models/<tier_set>__<method>`.

A run's identity (`run_id`) hashes the family, method and its config, the train config, the training
rows actually used (`corpus_hash`) and the base model's version. A finished run with the same id is
reused (an identical corpus under another tier set reuses the model, recorded with `reused_from`); an
interrupted one resumes from its last checkpoint (weights, optimizer, scheduler, step, RNG), so it ends
with the same weights as an uninterrupted run. Batches come from a permutation seeded by (seed, stage,
epoch), so the data order needs no saved state.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from training.config import (
    MethodConfig,
    TrainConfig,
    TrainingSettings,
    config_json,
    training_settings,
)
from training.data import corpus_examples, english_examples, english_texts, frame_hash, french_texts, subset
from training.dev import DevSet

log = logging.getLogger("vlmfr.training")


class Interrupted(RuntimeError):
    """Raised by `stop_after_steps` (tests, debugging): the run stopped after writing a checkpoint."""


@dataclass
class TrainingReport:
    run_id: str
    model: str
    family: str
    method: str
    tier_set: str | None
    corpus: str
    corpus_hash: str
    base_model_dir: str | None
    model_dir: str
    samples: int
    steps: int
    epochs: float
    final_loss: float
    seconds: float
    tokens_per_s: float
    trainable_params: int
    total_params: int
    device: str
    config: str
    seed: int = 0
    selected_step: int | None = None  # the step whose weights the model holds (best on dev, else last)
    dev_accuracy: float | None = None  # its accuracy on the dev benchmark
    dev: str | None = None  # the dev benchmark it was chosen on
    reused_from: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def loss_png(self) -> Path:
        return Path(self.model_dir) / "loss.png"

    def row(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------------- helpers
def pick_device(requested: str | None = None) -> str:
    import torch

    if requested:
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def models_dir(warehouse: Any) -> Path:
    return Path(warehouse.home) / "models"


def english_vlm_dir(warehouse: Any) -> Path:
    return models_dir(warehouse) / "english_vlm"


def seed_suffix(seed: int) -> str:
    """Seed 0 keeps the plain name (one-seed projects see no change); other seeds add `__seed<k>`."""
    return "" if seed == 0 else f"__seed{seed}"


def tier_model_dir(warehouse: Any, tier_set: str, method: str, seed: int = 0) -> Path:
    return models_dir(warehouse) / "tier_models" / f"{tier_set}__{method}{seed_suffix(seed)}"


def _hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _partition(model: str) -> str:
    return "".join(c if c.isalnum() or c in "_.=+-" else "_" for c in model)


def _split_steps(total: int, fractions: list[float]) -> list[int]:
    steps = [max(1, round(total * f)) for f in fractions[:-1]]
    return [*steps, max(1, total - sum(steps))]


# ----------------------------------------------------------------------------------------- the loop
@dataclass
class RunSpec:
    """Everything one run needs; built by the entry points."""

    family: Any
    make_model: Callable[[], Any]  # a fresh model (base loaded, or new) on CPU
    method: Any  # training.methods.Method
    examples: pl.DataFrame
    train: TrainConfig
    out_dir: Path
    base_dir: Path | None
    identity: dict[str, Any]
    model_name: str
    tier_set: str | None
    corpus: str
    warehouse: Any = None
    emit: Callable[[str], None] | None = None
    stop_after_steps: int | None = None  # simulate a crash (tests)
    dev: DevSet | None = None  # when set, the run ends with the weights of its best dev step


def _dev_accuracy(spec: RunSpec, model: Any) -> float:
    import torch

    dev = spec.dev
    assert dev is not None
    was_training = model.training
    with torch.no_grad():
        answers = spec.family.answer(
            model, dev.images, dev.questions, batch_size=dev.batch_size, warehouse=spec.warehouse
        )
    model.train(was_training)
    return float(dev.score(answers))


def run_training(spec: RunSpec) -> TrainingReport:
    import torch

    from training.checkpoints import (
        atomic_dir,
        load_trained_weights,
        load_trainer_state,
        read_meta,
        save_checkpoint,
        set_rng_state,
        write_model,
    )
    from training.figures import loss_curve_png
    from training.methods import apply_stage

    cfg = spec.train
    run_id = _hash(spec.identity)
    done = read_meta(spec.out_dir)
    if done.get("run_id") == run_id and "report" in done:
        log.info(f"{spec.model_name}: run {run_id} already finished in {spec.out_dir}; reused")
        return TrainingReport(
            **{**done["report"], "created_at": datetime.fromisoformat(done["report"]["created_at"])}
        )

    started = time.perf_counter()
    torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    autocast = device.startswith("cuda") and torch.cuda.is_bf16_supported()
    checkpoint_dir = spec.out_dir.parent / f".{spec.out_dir.name}.checkpoint"
    state = load_trainer_state(checkpoint_dir)
    if state is not None and state.get("run_id") != run_id:
        state = None  # a checkpoint of another configuration: start over
    torch.manual_seed(cfg.seed)
    model = spec.make_model().to(device)
    model.train()
    stages = spec.method.stages()
    n = spec.examples.height
    if n == 0:
        raise ValueError(f"{spec.model_name}: no training samples (split 'train') in {spec.corpus}")
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    # `examples` (equal compute): every compared run sees that many examples whatever its corpus size;
    # a small corpus is repeated for more epochs
    total_steps = cfg.max_steps or max(
        1,
        math.ceil(cfg.examples / cfg.batch_size) if cfg.examples else math.ceil(cfg.epochs * steps_per_epoch),
    )
    stage_steps = _split_steps(total_steps, [s.fraction for s in stages])
    meta = {"run_id": run_id, "model": spec.model_name, "method": spec.method.name, "identity": spec.identity}

    trained_names: set[str] = set()
    losses: list[dict[str, Any]] = list(state["losses"]) if state else []
    # dev selection: (step, accuracy) of every dev evaluation, and the trained weights of the best one
    dev_curve: list[dict[str, Any]] = list(state.get("dev_curve", [])) if state else []
    best: dict[str, Any] = dict(state.get("best", {})) if state else {}
    tokens = int(state["tokens"]) if state else 0
    loop_seconds = float(state["loop_seconds"]) if state else 0.0
    data = None
    data_pixels: bool | None = None
    progress = None
    global_step = sum(stage_steps[: state["stage"]]) + state["step"] if state else 0
    from vlmfr_data.progress import Progress

    progress = Progress(f"train {spec.model_name}", total=total_steps, unit="steps", emit=spec.emit)
    progress.done = global_step
    # Tokens the base model was trained to emit (its head rows for the others are a new vocabulary); this
    # run's own answer tokens join them in its metadata, for models trained from it.
    base_emitted = read_meta(spec.base_dir).get("emitted_token_ids") if spec.base_dir else []
    if base_emitted is not None:
        model._vlmfr_emitted_tokens = base_emitted  # noqa: SLF001
    for stage_index, (stage, steps) in enumerate(zip(stages, stage_steps, strict=True)):
        groups = apply_stage(spec.family, model, stage, spec.method.config)
        trained_names |= {n for n, p in model.named_parameters() if p.requires_grad}
        if state is not None and stage_index < state["stage"]:
            continue
        optimizer = torch.optim.AdamW(
            [
                {
                    "params": g["params"],
                    "lr": g["lr"],
                    "weight_decay": g.get("weight_decay", cfg.weight_decay),
                }
                for g in groups
            ],
            weight_decay=cfg.weight_decay,
        )
        warmup = min(cfg.warmup_steps, max(1, steps // 5))

        def schedule(step: int, steps: int = steps, warmup: int = warmup) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress_ratio = min(1.0, (step - warmup) / max(1, steps - warmup))
            return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress_ratio))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        start_step = 0
        window: list[float] = []
        if state is not None and stage_index == state["stage"]:
            load_trained_weights(model, checkpoint_dir)
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            set_rng_state(state["rng"])
            start_step = state["step"]
            window = list(state.get("window", []))
            log.info(f"{spec.model_name}: resumed stage {stage.name} at step {start_step}/{steps}")
            state = None
        params = [p for g in groups for p in g["params"]]
        use_pixels = any(p.requires_grad for m in spec.family.parts(model)["vision"] for p in m.parameters())
        if data is None or data_pixels != use_pixels:
            data = spec.family.prepare(model, spec.examples, spec.warehouse)
            data_pixels = use_pixels
            labels = getattr(data, "labels", None)
            if labels is not None and base_emitted is not None:
                own = torch.unique(labels[labels >= 0]).tolist()
                meta["emitted_token_ids"] = sorted(set(base_emitted) | set(own))
        for step in range(start_step, steps):
            t0 = time.perf_counter()
            epoch, position = divmod(step, steps_per_epoch)
            order = torch.randperm(
                n, generator=torch.Generator().manual_seed(cfg.seed * 1000 + stage_index * 100 + epoch)
            )
            batch = data.batch(order[position * cfg.batch_size : (position + 1) * cfg.batch_size])
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                per_sample = spec.family.per_sample_loss(model, batch)
            weights = batch.weights
            loss = (per_sample * weights).sum() / weights.sum().clamp(min=1e-8)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            tokens += batch.tokens
            loop_seconds += time.perf_counter() - t0
            window.append(float(loss.detach()))
            global_step += 1
            if len(window) >= cfg.log_every or step == steps - 1:
                losses.append(
                    {
                        "stage": stage.name,
                        "step": global_step,
                        "epoch": round(global_step * cfg.batch_size / n, 4),
                        "loss": sum(window) / len(window),
                        "lr": scheduler.get_last_lr()[0],
                        "seconds": round(loop_seconds, 3),
                    }
                )
                window = []
            last = step == steps - 1
            if spec.dev is not None and (
                global_step % spec.dev.every == 0 or (last and stage_index == len(stages) - 1)
            ):
                accuracy = _dev_accuracy(spec, model)
                dev_curve.append({"stage": stage.name, "step": global_step, "dev_accuracy": accuracy})
                if accuracy > best.get("accuracy", -1.0):
                    best = {
                        "accuracy": accuracy,
                        "step": global_step,
                        "weights": {
                            n: p.detach().clone() for n, p in model.named_parameters() if n in trained_names
                        },
                    }
            extra = f"loss {losses[-1]['loss']:.4f}" if losses else ""
            if dev_curve:
                extra += f", dev {dev_curve[-1]['dev_accuracy']:.3f} (best {best['accuracy']:.3f} @ {best['step']})"
            progress.update(1, extra=extra)
            interrupted = spec.stop_after_steps is not None and global_step >= spec.stop_after_steps
            if last or interrupted or (step + 1) % cfg.checkpoint_every == 0:
                save_checkpoint(
                    checkpoint_dir,
                    spec.family,
                    model,
                    trained_names,
                    meta,
                    spec.base_dir,
                    {
                        "run_id": run_id,
                        "stage": stage_index,
                        "step": step + 1,
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "losses": losses,
                        "window": window,
                        "tokens": tokens,
                        "loop_seconds": loop_seconds,
                        "dev_curve": dev_curve,
                        "best": best,
                    },
                )
            if interrupted and not (last and stage_index == len(stages) - 1):
                raise Interrupted(f"{spec.model_name}: stopped after step {global_step} (checkpoint written)")

    selected_step, dev_accuracy = total_steps, None
    if best:
        # end with the weights of the best dev step (the last step's when it is the best)
        selected_step, dev_accuracy = int(best["step"]), float(best["accuracy"])
        if selected_step != global_step:
            with torch.no_grad():
                for name, parameter in model.named_parameters():
                    if name in best["weights"]:
                        parameter.copy_(best["weights"][name])
        meta["selection"] = {
            "dev": spec.dev.name if spec.dev else None,
            "dev_version": spec.dev.version if spec.dev else None,
            "step": selected_step,
            "dev_accuracy": dev_accuracy,
        }
    seconds = time.perf_counter() - started
    tail = [row["loss"] for row in losses[-2:]] or [float("nan")]
    model_name = spec.model_name
    report = TrainingReport(
        run_id=run_id,
        model=model_name,
        family=spec.family.name,
        method=spec.method.name,
        tier_set=spec.tier_set,
        corpus=spec.corpus,
        corpus_hash=spec.identity["corpus_hash"],
        base_model_dir=str(spec.base_dir) if spec.base_dir else None,
        model_dir=str(spec.out_dir),
        samples=n,
        steps=total_steps,
        epochs=round(total_steps * cfg.batch_size / n, 3),
        final_loss=round(sum(tail) / len(tail), 5),
        seconds=round(seconds, 2),
        tokens_per_s=round(tokens / loop_seconds, 1) if loop_seconds else 0.0,
        trainable_params=sum(
            getattr(p, "_vlmfr_trainable_numel", p.numel())
            for name, p in model.named_parameters()
            if name in trained_names
        ),
        total_params=sum(p.numel() for p in model.parameters()),
        device=device,
        config=json.dumps(spec.identity["configs"], sort_keys=True),
        seed=cfg.seed,
        selected_step=selected_step,
        dev_accuracy=dev_accuracy,
        dev=spec.dev.name if spec.dev else None,
    )
    curve = pl.DataFrame(
        losses,
        schema={
            "stage": pl.String(),
            "step": pl.Int64(),
            "epoch": pl.Float64(),
            "loss": pl.Float64(),
            "lr": pl.Float64(),
            "seconds": pl.Float64(),
        },
    )
    dev_frame = pl.DataFrame(
        dev_curve, schema={"stage": pl.String(), "step": pl.Int64(), "dev_accuracy": pl.Float64()}
    )
    curve = (
        curve.join(dev_frame, on=["stage", "step"], how="full", coalesce=True)
        .sort("step")
        .with_columns(
            pl.col("epoch").fill_null(pl.col("step") * cfg.batch_size / n),
            pl.col("seconds").forward_fill(),
        )
    )

    def write_final(staging: Path) -> None:
        final_meta = {**meta, "report": {**report.row(), "created_at": report.created_at.isoformat()}}
        write_model(staging, spec.family, model, trained_names, final_meta, spec.base_dir)
        loss_curve_png(curve, staging / "loss.png", title=model_name)
        curve.write_parquet(staging / "loss.parquet")

    atomic_dir(spec.out_dir, write_final)
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    if spec.warehouse is not None:
        record_run(spec.warehouse, report, curve)
    log.info(
        f"{model_name}: {total_steps} steps in {seconds:.0f}s, final loss {report.final_loss:.4f}, "
        f"{report.tokens_per_s:,.0f} tokens/s"
    )
    return report


def record_run(warehouse: Any, report: TrainingReport, curve: pl.DataFrame | None) -> None:
    from training.tables import TRAINING_LOSS, TRAINING_RUNS

    row = pl.DataFrame([report.row()], schema=TRAINING_RUNS.schema, strict=False)
    warehouse.append("training_runs", row)
    if curve is not None and curve.height:
        frame = curve.with_columns(pl.lit(report.run_id).alias("run_id"), pl.lit(report.model).alias("model"))
        warehouse.write_partition(
            "training_loss", frame.select(list(TRAINING_LOSS.schema)), _partition(report.model)
        )


# ------------------------------------------------------------------------------------- entry points
def train_english_vlm(
    warehouse: Any,
    settings: TrainingSettings | None = None,
    out_dir: Path | None = None,
    dataset: str = "easy_vqa",
    emit: Callable[[str], None] | None = None,
    train: TrainConfig | None = None,
    stop_after_steps: int | None = None,
    dev: DevSet | None = None,
) -> TrainingReport:
    """Stage 0: the `mini` VLM from scratch on the English train split of `dataset` (dev images held
    out); with `dev`, it ends with the weights of its best step on that English dev set.

    With `[training] family = "hf"` and `model_path`, the English VLM is that local checkpoint: it is
    registered (a model folder pointing at it), not trained.
    """
    from training.families.mini import MiniFamily
    from training.methods import Pretrain

    settings = settings or TrainingSettings()
    if settings.family == "hf":
        return _register_english_hf(
            warehouse, settings, Path(out_dir) if out_dir else english_vlm_dir(warehouse)
        )
    train = train or settings.english
    family = MiniFamily()
    examples = english_examples(warehouse, dataset)
    texts = english_texts(warehouse) + french_texts()
    method = Pretrain(MethodConfig(lr_projector=train.lr, lr_language=train.lr))
    identity = {
        "family": family.name,
        "method": "pretrain",
        "corpus_hash": frame_hash(examples),
        "tokenizer_texts": _hash(texts),
        "configs": [asdict(settings.model), asdict(train)],
        "dev": dev.version if dev else None,
    }
    spec = RunSpec(
        family=family,
        make_model=lambda: family.create(settings.model, texts),
        method=method,
        examples=examples,
        train=train,
        out_dir=Path(out_dir) if out_dir else english_vlm_dir(warehouse),
        base_dir=None,
        identity=identity,
        model_name="mini:english_vlm",
        tier_set=None,
        corpus=f"samples:{dataset}",
        warehouse=warehouse,
        emit=emit,
        stop_after_steps=stop_after_steps,
        dev=dev,
    )
    return run_training(spec)


def _register_english_hf(warehouse: Any, settings: TrainingSettings, out_dir: Path) -> TrainingReport:
    from training.checkpoints import read_meta
    from training.families.hf import register_hf_model

    if not settings.model_path:
        raise ValueError('[training] family = "hf" needs model_path = "/path/to/a/local/checkpoint"')
    register_hf_model(settings.model_path, out_dir)
    meta = read_meta(out_dir)
    report = TrainingReport(
        run_id=meta["version"],
        model=meta["model"],
        family="hf",
        method="registered",
        tier_set=None,
        corpus="",
        corpus_hash="",
        base_model_dir=None,
        model_dir=str(out_dir),
        samples=0,
        steps=0,
        epochs=0.0,
        final_loss=float("nan"),
        seconds=0.0,
        tokens_per_s=0.0,
        trainable_params=0,
        total_params=0,
        device="",
        config=json.dumps({"hf_model": settings.model_path}),
    )
    record_run(warehouse, report, None)
    return report


def _finetune_run(
    corpus_dir: str | Path, recipe: Any, base_meta: dict[str, Any], train: TrainConfig, dev: DevSet | None
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """A fine-tuning run's training rows and its identity (equal identities are the same run: reused)."""
    examples = corpus_examples(
        corpus_dir, weight_by_quality=any(s.weight_by_quality for s in recipe.stages())
    )
    examples = subset(examples, train.max_samples, train.seed)
    identity = {
        "family": base_meta.get("family"),
        "method": recipe.name,
        "corpus_hash": frame_hash(examples),
        "base_version": base_meta.get("version"),
        "configs": [asdict(recipe.config), asdict(replace(train, device=None, threads=1))],
        "dev": dev.version if dev else None,
    }
    return examples, identity


def train_on_corpus(
    warehouse: Any,
    corpus_dir: str | Path,
    method: str = "lora",
    base_model_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    config: TrainConfig | None = None,
    method_config: MethodConfig | None = None,
    tier_set: str | None = None,
    model_name: str | None = None,
    emit: Callable[[str], None] | None = None,
    stop_after_steps: int | None = None,
    dev: DevSet | None = None,
) -> TrainingReport:
    """Fine-tune the model in `base_model_dir` with `method` on the train split of `corpus_dir` (dev
    images held out); with `dev`, the run ends with the weights of its best dev step."""
    from training.checkpoints import load_model, read_meta
    from training.methods import create_method
    from training.registry import FAMILIES

    if config is None or method_config is None:
        # a library call without a recipe trains with vlmfr.toml's, as the CLI and the assets do
        settings = training_settings()
        config = config or settings.finetune
        method_config = method_config or settings.method(method)
    train = config
    base_dir = Path(base_model_dir) if base_model_dir else english_vlm_dir(warehouse)
    base_meta = read_meta(base_dir)
    if not base_meta:
        raise FileNotFoundError(
            f"no base model in {base_dir}: train the English VLM first (asset english_vlm)"
        )
    family = FAMILIES.create(base_meta["family"])
    recipe = create_method(method, method_config)
    examples, identity = _finetune_run(corpus_dir, recipe, base_meta, train, dev)
    run_id = _hash(identity)
    target = Path(out_dir) if out_dir else models_dir(warehouse) / "runs" / run_id
    spec = RunSpec(
        family=family,
        make_model=lambda: load_model(base_dir)[1],
        method=recipe,
        examples=examples,
        train=train,
        out_dir=target,
        base_dir=base_dir,
        identity=identity,
        # "corpus_": a folder named like a tier set ("high") must not replace that tier model's row
        model_name=model_name or f"{family.name}:corpus_{Path(corpus_dir).name}__{method}",
        tier_set=tier_set,
        corpus=str(corpus_dir),
        warehouse=warehouse,
        emit=emit,
        stop_after_steps=stop_after_steps,
        dev=dev,
    )
    return run_training(spec)


def train_tier_model(
    warehouse: Any,
    tier_set: str,
    method: str,
    settings: TrainingSettings | None = None,
    steps: int | None = None,
    emit: Callable[[str], None] | None = None,
    seed: int | None = None,
    dev: DevSet | None = None,
) -> TrainingReport:
    """One (tier set, method, seed) model; a corpus identical to one already trained reuses that model.

    The seed changes the trainable initialisation (LoRA, new head rows), the subset and the data order."""
    from vlmfr_data.corpora import corpora_dir

    settings = settings or _settings_from_config()
    train = finetune_config(settings, seed=seed, steps=steps)
    corpus = corpora_dir(warehouse) / tier_set
    if not (corpus / "samples.parquet").exists():
        raise FileNotFoundError(f"no corpus {corpus}: materialize french_corpora[{tier_set}] first")
    from training.checkpoints import read_meta

    family = read_meta(english_vlm_dir(warehouse)).get("family", settings.family)
    model_name = f"{family}:{tier_set}__{method}{seed_suffix(train.seed)}"
    reusable = _finished_twin(warehouse, corpus, method, settings, train, model_name, dev)
    if reusable is not None:
        return reusable
    return train_on_corpus(
        warehouse,
        corpus,
        method=method,
        out_dir=tier_model_dir(warehouse, tier_set, method, train.seed),
        config=train,
        method_config=settings.method(method),
        tier_set=tier_set,
        model_name=model_name,
        emit=emit,
        dev=dev,
    )


def _finished_twin(
    warehouse: Any,
    corpus: Path,
    method: str,
    settings: TrainingSettings,
    train: TrainConfig,
    model_name: str,
    dev: DevSet | None = None,
) -> TrainingReport | None:
    """A finished run of the same identity under another tier set (identical training rows)."""
    from training.checkpoints import read_meta
    from training.methods import create_method

    recipe = create_method(method, settings.method(method))
    _, identity = _finetune_run(corpus, recipe, read_meta(english_vlm_dir(warehouse)), train, dev)
    run_id = _hash(identity)
    own = tier_model_dir(warehouse, corpus.name, method, train.seed)
    if read_meta(own).get("run_id") == run_id:
        return None  # this tier set's own finished run: run_training reuses it
    folder = models_dir(warehouse) / "tier_models"
    for other in sorted(folder.glob(f"*__{method}{seed_suffix(train.seed)}")) if folder.exists() else []:
        meta = read_meta(other)
        if meta.get("run_id") == run_id and "report" in meta:
            source = meta["report"]
            report = TrainingReport(
                **{
                    **source,
                    "model": model_name,
                    "tier_set": corpus.name,
                    "corpus": str(corpus),
                    "reused_from": source["run_id"],
                    "created_at": datetime.now(UTC),
                    "seconds": 0.0,
                }
            )
            record_run(warehouse, report, None)
            log.info(f"{model_name}: corpus identical to {other.name}; reusing its model")
            return report
    return None


def finetune_config(
    settings: TrainingSettings, seed: int | None = None, steps: int | None = None
) -> TrainConfig:
    """The French fine-tuning recipe every compared run uses, for one seed (`steps` overrides its length)."""
    train = settings.finetune
    if seed is not None:
        train = replace(train, seed=seed)
    return train if steps is None else replace(train, max_steps=steps)


def _settings_from_config() -> TrainingSettings:
    from vlmfr_data.config import load_config

    return training_settings(load_config())


def config_summary(settings: TrainingSettings) -> str:
    return config_json(settings.model, settings.english, settings.finetune)
