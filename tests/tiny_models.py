"""Tiny randomly initialised transformers models, built and saved by the tests (no download)."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

SPECIALS = ["<pad>", "</s>", "<unk>", "<s>"]
WORDS = [
    "what",
    "color",
    "is",
    "the",
    "shape",
    "?",
    "does",
    "image",
    "contain",
    "a",
    "circle",
    "red",
    "blue",
    "how",
    "many",
    "are",
    "there",
    "in",
    "picture",
    ".",
    "translate",
    "english",
    "to",
    "french",
    ":",
    "le",
    "la",
    "est",
    "forme",
    "cercle",
    "rouge",
    "XQZ0",
    "XQZ1",
    "XQZ2",
]


def word_tokenizer(extra: list[str] | None = None, seq2seq: bool = True) -> PreTrainedTokenizerFast:
    vocab = {tok: i for i, tok in enumerate(SPECIALS + sorted(set(WORDS + (extra or []))))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if seq2seq:
        tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    else:
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 3)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", bos_token="<s>"
    )


def tiny_marian(path: Path) -> Path:
    from transformers import MarianConfig, MarianMTModel

    torch.manual_seed(0)
    tokenizer = word_tokenizer()
    config = MarianConfig(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        forced_eos_token_id=1,
    )
    MarianMTModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def tiny_llama(path: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = word_tokenizer(extra=["English", "French", "Translate", "cat", "sofa"], seq2seq=False)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=0,
        bos_token_id=3,
        eos_token_id=1,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def tiny_nllb(path: Path) -> Path:
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizerFast

    torch.manual_seed(0)
    base = word_tokenizer()
    base.save_pretrained(path / "base")
    tokenizer = NllbTokenizerFast(
        tokenizer_file=str(path / "base" / "tokenizer.json"), src_lang="eng_Latn", tgt_lang="fra_Latn"
    )
    config = M2M100Config(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    M2M100ForConditionalGeneration(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
