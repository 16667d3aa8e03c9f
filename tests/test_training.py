"""Training: the mini VLM learns, methods train exactly their parts, checkpoints resume bit-exactly, the hf
family trains and reloads an adapter on a tiny LLaVA built here, and the leak check catches a test id.

Everything runs on real easy-vqa images (first 160 train / 40 test questions) and the real frozen
EfficientNet-Lite0; models are `MiniConfig.tiny()`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
import torch

from training.checkpoints import read_meta
from training.config import MethodConfig, MiniConfig, TrainConfig, TrainingSettings
from vlmfr_data.config import DatasetConfig
from vlmfr_data.ingest import ingest_dataset
from vlmfr_data.store import Warehouse

TINY_TRAIN = TrainConfig.tiny()
FRENCH = {"yes": "oui", "no": "non", "circle": "cercle", "red": "rouge", "blue": "bleu", "green": "vert"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("training_home")


@pytest.fixture(scope="module")
def store(home: Path) -> Warehouse:
    warehouse = Warehouse(home)
    ingest_dataset(
        warehouse, DatasetConfig(name="easy_vqa", format="easy_vqa", splits=["train", "test"], limit=160)
    )
    return warehouse


def _corpus(store: Warehouse, folder: Path, extra_test_ids_as_train: int = 0) -> Path:
    """A French-looking corpus (samples.parquet as vlmfr_data.corpora writes it) from the warehouse samples."""
    samples = store.read("samples").filter(pl.col("dataset") == "easy_vqa")
    question = pl.col("turns").list.get(0).struct.field("text")
    answer = pl.col("turns").list.get(1).struct.field("text")
    french_answer = answer.replace(FRENCH)
    frame = samples.select(
        pl.concat_str("dataset", "split", "sample_id", separator="/").alias("id"),
        "dataset",
        "split",
        "sample_id",
        "image",
        pl.concat_list(
            pl.struct(
                pl.lit("human").alias("from"), (pl.lit("<image>\nQuestion : ") + question).alias("value")
            ),
            pl.struct(pl.lit("gpt").alias("from"), french_answer.alias("value")),
        ).alias("conversations"),
        pl.lit("high").alias("tier"),
        (pl.int_range(pl.len()) % 10 / 10 + 0.05).alias("min_combined"),
        pl.lit(["apertium"]).alias("systems"),
    )
    if extra_test_ids_as_train:  # a mislabelled test sample: the leak the check must catch
        leaked = (
            frame.filter(pl.col("split") == "test")
            .head(extra_test_ids_as_train)
            .with_columns(split=pl.lit("train"))
        )
        frame = pl.concat([frame, leaked])
    folder.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(folder / "samples.parquet")
    return folder


@pytest.fixture(scope="module")
def english(store: Warehouse, home: Path):  # noqa: ANN201
    from training.train import train_english_vlm

    settings = TrainingSettings(model=MiniConfig.tiny())
    train = replace(TINY_TRAIN, max_steps=40, lr=5e-3, warmup_steps=4, log_every=4)
    return train_english_vlm(store, settings, out_dir=home / "models" / "english_vlm", train=train)


@pytest.fixture(scope="module")
def corpus(store: Warehouse, home: Path) -> Path:
    return _corpus(store, home / "corpora" / "high")


def _params(model_dir: str | Path) -> dict[str, torch.Tensor]:
    from training.checkpoints import load_model

    _, model, _ = load_model(Path(model_dir))
    # peft moves an adapted linear's own weight under `base_layer`: compare by the original name
    return {name.replace(".base_layer", ""): p.detach().clone() for name, p in model.named_parameters()}


def test_registries_list_without_importing_torch_modules() -> None:
    from training.registry import FAMILIES, METHODS

    assert FAMILIES.names() == ["hf", "mini"]
    assert METHODS.names() == ["full", "lora", "qe_weighted", "two_stage"]


def test_mini_loss_falls_and_predictor_answers(english, store: Warehouse) -> None:  # noqa: ANN001
    from training.inference import load_predictor

    curve = pl.read_parquet(Path(english.model_dir) / "loss.parquet")
    assert curve["loss"][-1] < 0.5 * curve["loss"][0], curve
    assert english.samples == 160 and english.steps == 40 and english.tokens_per_s > 0
    runs = store.sql("SELECT model, method, final_loss FROM training_runs")
    assert runs.row(0)[:2] == ("mini:english_vlm", "pretrain")
    predictor = load_predictor(english.model_dir)
    test = store.read("samples").filter(pl.col("split") == "test").head(8)
    questions = test["turns"].list.get(0).struct.field("text").to_list()
    answers = predictor.answer(test["image"].to_list(), questions, batch_size=4)
    assert len(answers) == 8 and all(isinstance(a, str) for a in answers)
    assert predictor.name == "mini:english_vlm" and len(predictor.version) == 16
    # answers come from the model: a different model version answers the same way through the same code
    assert load_predictor(english.model_dir).answer(test["image"].to_list(), questions, 8) == answers


def test_lora_changes_only_adapters(english, store: Warehouse, corpus: Path, home: Path) -> None:  # noqa: ANN001
    from training.train import train_on_corpus

    report = train_on_corpus(
        store,
        corpus,
        "lora",
        english.model_dir,
        home / "runs" / "lora",
        TINY_TRAIN,
        MethodConfig(lr_lora=1e-2, lr_new_tokens=1e-2, r=4),
    )
    base, tuned = _params(english.model_dir), _params(report.model_dir)
    lora = [n for n in tuned if "lora_" in n]
    assert lora and all(n.startswith("language.model.") for n in lora)
    assert not any("lm_head" in n for n in lora)
    assert any(not torch.equal(tuned[n], torch.zeros_like(tuned[n])) for n in lora if "lora_B" in n)
    # the head rows of tokens the English model emitted stay bit-identical; the others (French-only
    # tokens, a new vocabulary for it) train
    emitted = read_meta(english.model_dir)["emitted_token_ids"]
    head = "language.lm_head.weight"
    new_rows = torch.ones(base[head].shape[0], dtype=torch.bool)
    new_rows[emitted] = False
    french = set(read_meta(report.model_dir)["emitted_token_ids"]) - set(emitted)
    assert french, "the French corpus has answer tokens the English model never emitted"
    assert torch.equal(tuned[head][~new_rows], base[head][~new_rows])
    assert not torch.equal(tuned[head][new_rows], base[head][new_rows])
    for name, value in base.items():
        if name != head:
            assert torch.equal(tuned[name], value), name
    hidden = base[head].shape[1]
    assert report.trainable_params == sum(tuned[n].numel() for n in lora) + int(new_rows.sum()) * hidden


def test_lora_with_llava_rule_alone_keeps_the_whole_head(
    english, store: Warehouse, corpus: Path, home: Path
) -> None:  # noqa: ANN001
    from training.train import train_on_corpus

    report = train_on_corpus(
        store,
        corpus,
        "lora",
        english.model_dir,
        home / "runs" / "lora_only",
        TINY_TRAIN,
        MethodConfig(lr_lora=1e-2, r=4),
    )
    base, tuned = _params(english.model_dir), _params(report.model_dir)
    for name, value in base.items():
        assert torch.equal(tuned[name], value), name


def test_two_stage_trains_projector_and_vision_then_only_adapters(
    english,
    store: Warehouse,
    corpus: Path,
    home: Path,  # noqa: ANN001
) -> None:
    from training.train import Interrupted, train_on_corpus

    method = MethodConfig(
        lr_lora=1e-2,
        r=4,
        stage_a_lr_projector=1e-2,
        stage_a_lr_vision=1e-3,
        stage_a_vision_last_blocks=1,
        stage_a_fraction=0.5,
    )
    out = home / "runs" / "two_stage"
    with pytest.raises(Interrupted):  # stop at the end of stage A (6 of 12 steps)
        train_on_corpus(
            store, corpus, "two_stage", english.model_dir, out, TINY_TRAIN, method, stop_after_steps=6
        )
    base = _params(english.model_dir)
    after_a = _params(out.parent / f".{out.name}.checkpoint")
    changed = {n for n in base if not torch.equal(base[n], after_a[n])}
    last_block = f"vision.blocks.{len(MiniConfig.tiny().vision_taps) and max(MiniConfig.tiny().vision_taps)}."
    assert any(n.startswith("projector.") for n in changed)
    assert any(n.startswith(last_block) for n in changed)
    assert all(n.startswith(("projector.", last_block)) for n in changed), sorted(changed)
    report = train_on_corpus(store, corpus, "two_stage", english.model_dir, out, TINY_TRAIN, method)
    final = _params(report.model_dir)
    for name, value in after_a.items():
        if "lora_" not in name:
            assert torch.equal(final[name], value), name  # stage B: projector and vision kept from stage A
    lora_b = [n for n in final if "lora_B" in n]
    assert lora_b and any(not torch.equal(final[n], torch.zeros_like(final[n])) for n in lora_b)


def test_resumed_run_matches_uninterrupted(english, store: Warehouse, corpus: Path, home: Path) -> None:  # noqa: ANN001
    from training.train import Interrupted, train_on_corpus

    method = MethodConfig(lr_lora=1e-2, r=4, lora_dropout=0.1)  # dropout: the RNG must be restored too
    straight = train_on_corpus(
        store, corpus, "qe_weighted", english.model_dir, home / "runs" / "straight", TINY_TRAIN, method
    )
    out = home / "runs" / "resumed"
    with pytest.raises(Interrupted):
        train_on_corpus(
            store, corpus, "qe_weighted", english.model_dir, out, TINY_TRAIN, method, stop_after_steps=5
        )
    assert not out.exists()  # a killed run leaves only its checkpoint, never a half model folder
    resumed = train_on_corpus(store, corpus, "qe_weighted", english.model_dir, out, TINY_TRAIN, method)
    a, b = _params(straight.model_dir), _params(resumed.model_dir)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert resumed.final_loss == straight.final_loss
    again = train_on_corpus(store, corpus, "qe_weighted", english.model_dir, out, TINY_TRAIN, method)
    assert again.run_id == resumed.run_id and again.created_at == resumed.created_at  # finished: reused


def test_leak_check_fails_on_a_test_id_in_training(store: Warehouse, home: Path) -> None:
    from training.checks import check_no_test_leak

    clean = _corpus(store, home / "leak" / "clean")
    leaky = _corpus(store, home / "leak" / "leaky", extra_test_ids_as_train=2)
    assert check_no_test_leak(store, [clean]).ok
    report = check_no_test_leak(store, [clean, leaky])
    assert not report.ok and len(report.leaked) == 2 and report.leaked[0].startswith("easy_vqa/test-")


def _tiny_llava(path: Path) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    words = [
        "<pad>",
        "</s>",
        "<unk>",
        "<s>",
        "<image>",
        "USER:",
        "ASSISTANT:",
        "Question",
        ":",
        "?",
        "oui",
        "non",
        "cercle",
        "rouge",
        "bleu",
        "vert",
        "What",
        "color",
        "is",
        "the",
        "shape",
        "Does",
        "image",
        "contain",
        "a",
        "circle",
        "Is",
        "there",
        "triangle",
        "rectangle",
        "shape?",
        "red",
        "blue",
        "green",
        "in",
    ]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        bos_token="<s>",
        additional_special_tokens=["<image>"],
    )
    template = (
        "{% for m in messages %}{% if m['role'] == 'user' %}USER: {% for c in m['content'] %}"
        "{% if c['type'] == 'image' %}<image> {% else %}{{ c['text'] }} {% endif %}{% endfor %}"
        "{% else %}ASSISTANT: {% for c in m['content'] %}{{ c['text'] }}{% endfor %} </s> {% endif %}{% endfor %}"
        "{% if add_generation_prompt %}ASSISTANT: {% endif %}"
    )
    tokenizer.chat_template = template
    image_processor = CLIPImageProcessor(size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16})
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=template,
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=16,
            patch_size=8,
            projection_dim=16,
        ),
        text_config=LlamaConfig(
            vocab_size=len(words),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=64,
            pad_token_id=0,
            eos_token_id=1,
            bos_token_id=3,
        ),
        image_token_index=words.index("<image>"),
        vision_feature_layer=-1,
    )
    torch.manual_seed(0)
    LlavaForConditionalGeneration(config).save_pretrained(path)
    processor.save_pretrained(path)
    return path


def test_hf_llava_trains_and_reloads_its_adapter(store: Warehouse, corpus: Path, home: Path) -> None:
    from training.families.hf import register_hf_model
    from training.inference import load_predictor
    from training.train import train_on_corpus

    base = register_hf_model(_tiny_llava(home / "tiny_llava_ckpt"), home / "models" / "tiny_llava")
    small = home / "corpora" / "small"
    small.mkdir(parents=True, exist_ok=True)
    pl.read_parquet(corpus / "samples.parquet").head(24).write_parquet(small / "samples.parquet")
    train = replace(TINY_TRAIN, max_steps=6, batch_size=8)
    report = train_on_corpus(
        store,
        small,
        "two_stage",
        base,
        home / "runs" / "llava",
        train,
        MethodConfig(lr_lora=1e-2, r=2, stage_a_lr_projector=1e-2, stage_a_fraction=0.5),
    )
    assert Path(report.model_dir, "adapter", "adapter_config.json").exists()
    base_params, tuned = _params(base), _params(report.model_dir)
    changed = {n for n in base_params if not torch.equal(base_params[n], tuned[n])}
    assert changed and all("multi_modal_projector" in n for n in changed), sorted(changed)
    assert any("lora_" in n and "language_model" in n for n in tuned)
    predictor = load_predictor(report.model_dir)
    test = store.read("samples").filter(pl.col("split") == "test").head(3)
    answers = predictor.answer(test["image"].to_list(), ["What color is the shape ?"] * 3, batch_size=2)
    assert len(answers) == 3 and predictor.version != load_predictor(base).version


def test_a_checkpoint_swap_interrupted_between_its_renames_is_restored(tmp_path: Path) -> None:
    from training.checkpoints import TRAINER_STATE, atomic_dir, load_trainer_state

    final = tmp_path / ".run.checkpoint"
    atomic_dir(final, lambda staging: torch.save({"step": 1}, staging / TRAINER_STATE))
    atomic_dir(final, lambda staging: torch.save({"step": 2}, staging / TRAINER_STATE))
    assert load_trainer_state(final)["step"] == 2  # type: ignore[index]
    assert [p.name for p in tmp_path.iterdir()] == [final.name]  # the old version is gone
    # the fallback swap (no atomic exchange) killed after moving the old version aside
    final.rename(tmp_path / f".{final.name}.old-1234abcd")  # what atomic_dir names the old version
    assert load_trainer_state(final)["step"] == 2  # type: ignore[index]
    assert [p.name for p in tmp_path.iterdir()] == [final.name]


def test_a_checkpoint_swap_without_atomic_exchange_still_replaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.checkpoints as checkpoints

    monkeypatch.setattr(checkpoints, "_exchange", lambda a, b: False)  # a system without renameat2
    final = tmp_path / "model"
    checkpoints.atomic_dir(final, lambda staging: (staging / "v").write_text("1"))
    checkpoints.atomic_dir(final, lambda staging: (staging / "v").write_text("2"))
    assert (final / "v").read_text() == "2" and [p.name for p in tmp_path.iterdir()] == ["model"]
