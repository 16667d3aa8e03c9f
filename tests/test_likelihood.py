"""The translation-likelihood signal, on a tiny Llama built and saved here (the real loading path)."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
import torch

from tests.tiny_models import tiny_llama
from vlmfr_data.config import MTSystemConfig, ProjectConfig, default_config
from vlmfr_data.quality.base import PAIRS_SCHEMA, SIGNALS
from vlmfr_data.quality.likelihood import PROMPT, TranslationLikelihood


def _pairs(rows: list[tuple[str, str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "segment_id": f"s{i}",
                "system": system,
                "system_version": "v",
                "kind": "question",
                "text_en": en,
                "text_fr": fr,
                "spans_ok": True,
            }
            for i, (system, en, fr) in enumerate(rows)
        ],
        schema=PAIRS_SCHEMA,
    )


def test_unconfigured_signal_says_what_to_set() -> None:
    signal = SIGNALS.create("translation_likelihood")
    availability = signal.availability()
    assert not availability.ok
    assert "[quality.extra_signals.translation_likelihood]" in availability.reason
    with pytest.raises(ValueError, match="floor"):
        TranslationLikelihood(model="x", floor=1.0)


def test_batched_scores_match_each_pair_alone_and_skip_the_models_own(tmp_path: Path) -> None:
    path = str(tiny_llama(tmp_path / "llama"))
    signal = TranslationLikelihood(model=path, batch_size=2, models={"llm": path, "rules": None})
    assert signal.availability().ok
    pairs = _pairs(
        [
            ("rules", "what color is the shape?", "la forme est rouge"),
            ("rules", "is there a circle?", "le cercle"),
            ("llm", "is there a circle?", "le cercle est rouge"),  # the scoring model's own output
            ("rules", "how many are there?", ""),  # nothing to score
            ("rules", "what is in the image?", "la forme est le cercle rouge ."),
        ]
    )
    scores = signal.score(pairs)
    assert scores.height == pairs.height
    assert scores["value"].is_null().to_list() == [False, False, True, True, False]
    assert scores["detail"][2] == "own translation of the scoring model"

    # each pair alone, unpadded, straight through the model: the batched, padded figures must agree
    tokenizer, model = signal._lm._loaded
    for row in (0, 1, 4):
        prompt = tokenizer(PROMPT.format(source=pairs["text_en"][row]))["input_ids"]
        target = tokenizer(" " + pairs["text_fr"][row], add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt + target])
        with torch.inference_mode():
            logprobs = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
        alone = logprobs[len(prompt) - 1 :].gather(-1, ids[0, len(prompt) :, None]).mean().item()
        assert scores["value"][row] == pytest.approx(alone, abs=1e-4)
        assert scores["score"][row] == pytest.approx(min(1.0, max(0.0, 1 - alone / -6.0)), abs=1e-6)


def test_a_uniform_model_gives_minus_log_vocabulary(tmp_path: Path) -> None:
    """With a zeroed output head every token has probability 1/V: the value is -ln V whatever the text."""
    from transformers import AutoModelForCausalLM

    path = tiny_llama(tmp_path / "llama")
    model = AutoModelForCausalLM.from_pretrained(path)
    with torch.no_grad():
        model.lm_head.weight.zero_()
    model.save_pretrained(path)
    signal = TranslationLikelihood(model=str(path), floor=-10.0)
    scores = signal.score(_pairs([("rules", "is there a circle?", "le cercle"), ("rules", "red", "rouge")]))
    vocabulary = model.config.vocab_size
    assert scores["value"].to_list() == pytest.approx([-math.log(vocabulary)] * 2, abs=1e-5)
    assert scores["score"].to_list() == pytest.approx([1 - math.log(vocabulary) / 10] * 2, abs=1e-5)


def test_the_scoring_stage_tells_the_signal_which_systems_run_its_model() -> None:
    from vlmfr_data.stages import _quality

    base = default_config()
    config = ProjectConfig(
        **{
            **base.__dict__,
            "mt_systems": [
                *base.mt_systems,
                MTSystemConfig("local_llm", "hf_causal", {"model": "/models/llm"}),
            ],
            "quality": {"extra_signals": {"translation_likelihood": {"model": "/models/llm"}}},
        }
    )
    options = _quality(config).signals["translation_likelihood"]
    signal = SIGNALS.create("translation_likelihood", **options)
    assert signal.own_systems == {"local_llm"}


def test_extra_signals_add_to_the_default_signals_and_signals_replace_them() -> None:
    from vlmfr_data.quality.config import QualityConfig

    default = QualityConfig()
    config = QualityConfig.from_dict({"extra_signals": {"translation_likelihood": {"model": "/models/llm"}}})
    assert set(config.signals) == set(default.signals) | {"translation_likelihood"}
    assert config.signals["translation_likelihood"] == {"model": "/models/llm"}
    only = QualityConfig.from_dict(
        {"signals": {"lid_french": {}}, "extra_signals": {"translation_likelihood": {}}}
    )
    assert set(only.signals) == {"lid_french", "translation_likelihood"}
    with pytest.raises(ValueError, match=r"\[quality.extra_signals\]"):
        QualityConfig.from_dict({"extra_signals": {"translation_likelihood": "/models/llm"}})
