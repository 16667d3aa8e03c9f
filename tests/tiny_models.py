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


# Encoder-decoder sizes shared by the tiny Marian and NLLB models (about 10k parameters).
TINY_SEQ2SEQ = {
    "d_model": 16,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 32,
    "decoder_ffn_dim": 32,
    "max_position_embeddings": 64,
}


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
        **TINY_SEQ2SEQ,
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
        **TINY_SEQ2SEQ,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    M2M100ForConditionalGeneration(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def tiny_comet_checkpoint(path: Path) -> Path:
    """A CometKiwi-shaped (reference-free) COMET model: tiny XLM-R encoder with a sentencepiece vocabulary
    trained here, saved as `<path>/checkpoints/model.ckpt` beside `<path>/hparams.yaml`, the layout
    `comet.load_from_checkpoint` reads. Random weights: it exercises the real loading and scoring path."""
    import sentencepiece as spm
    import yaml
    from comet.models import ReferencelessRegression
    from transformers import XLMRobertaConfig

    torch.manual_seed(0)
    encoder = path / "encoder"
    encoder.mkdir(parents=True)
    corpus = encoder / "corpus.txt"
    corpus.write_text(
        "\n".join(
            [
                "what color is the shape ?",
                "quelle est la couleur de la forme ?",
                "is there a red circle in the image ?",
                "y a-t-il un cercle rouge dans l'image ?",
                "the blue triangle is next to the green square .",
                "le triangle bleu est à côté du carré vert .",
                "yes no oui non",
                "how many shapes are there ?",
                "combien de formes y a-t-il ?",
            ]
            * 3
        )
    )
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(encoder / "sentencepiece.bpe"),
        vocab_size=60,
        model_type="unigram",
        character_coverage=1.0,
        bos_id=0,
        pad_id=1,
        eos_id=2,
        unk_id=3,
        minloglevel=2,
    )
    tokenizer = xlmr_fast_tokenizer(encoder / "sentencepiece.bpe.model")
    tokenizer.save_pretrained(encoder)
    XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=130,
        pad_token_id=1,
    ).save_pretrained(encoder)
    model = ReferencelessRegression(
        pretrained_model=str(encoder),
        load_pretrained_weights=False,
        hidden_sizes=[16],
        layer="mix",
        pool="avg",
        local_files_only=True,
    )
    (path / "checkpoints").mkdir()
    checkpoint = path / "checkpoints" / "model.ckpt"
    import pytorch_lightning

    torch.save(
        {
            "state_dict": model.state_dict(),
            "hyper_parameters": dict(model.hparams),
            "pytorch-lightning_version": pytorch_lightning.__version__,
        },
        checkpoint,
    )
    hparams = {**dict(model.hparams), "class_identifier": "referenceless_regression_metric"}
    (path / "hparams.yaml").write_text(yaml.safe_dump(hparams))
    return checkpoint


def xlmr_fast_tokenizer(spm_model: Path) -> object:
    """An XLM-R fast tokenizer (tokenizer.json, as real checkpoints ship) from a sentencepiece model.

    Built from the pieces and scores that `SentencePieceProcessor` reports, laid out like transformers'
    XLMRobertaConverter (<s> <pad> </s> <unk>, the pieces, <mask>). The converter itself needs
    protobuf >= 5 for sentencepiece 0.2.3, which unbabel-comet's protobuf < 5 pin rules out.
    """
    import sentencepiece as spm
    from tokenizers import decoders, normalizers, pre_tokenizers
    from transformers import XLMRobertaTokenizerFast

    processor = spm.SentencePieceProcessor(model_file=str(spm_model))
    pieces = [
        (processor.id_to_piece(i), processor.get_score(i)) for i in range(4, processor.get_piece_size())
    ]
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), *pieces, ("<mask>", 0.0)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(" {2,}", " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    return XLMRobertaTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
    )


ECHO_WORDS = ["le", "la", "chat", "chien", "maison", "rouge", "bleu", "bonjour", "monde", "cercle"]


def tiny_echo_gguf(path: Path) -> Path:
    """A 1-layer Llama GGUF (float32, SentencePiece vocab with byte fallback) that llama.cpp serves.

    Its attention and MLP write nothing and its head is its embedding table, so the next token is the
    one nearest the last token's embedding: itself. Greedy decoding repeats the prompt's last token
    ("le chat" -> " chat chat chat ..."), a real forward pass whose answer the tests can predict.
    """
    import gguf
    import numpy as np

    rng = np.random.default_rng(0)
    tokens = ["<unk>", "<s>", "</s>", *[f"<0x{b:02X}>" for b in range(256)]]
    types = [2, 3, 3, *[6] * 256]  # unknown, control, control, bytes
    # SentencePiece merges adjacent pieces only into pieces of the vocabulary: every prefix of "▁word" is
    # one, so "▁chat" is reached ("▁c", "▁ch", "▁cha", "▁chat") and stays one token
    prefixes = dict.fromkeys(f"▁{w}"[:n] for w in ECHO_WORDS for n in range(2, len(w) + 2))
    pieces = ["▁", *[chr(c) for c in range(ord("a"), ord("z") + 1)], *prefixes]
    tokens += pieces
    types += [1] * len(pieces)
    scores = [0.0] * (len(tokens) - len(pieces)) + [float(len(p)) for p in pieces]  # whole words first
    n_vocab, n_embd, n_ff, n_head = len(tokens), 128, 256, 4
    embeddings = rng.standard_normal((n_vocab, n_embd)).astype(np.float32)

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-echo")
    writer.add_context_length(2048)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(1)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head)
    writer.add_rope_dimension_count(n_embd // n_head)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(0)  # all float32
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    zeros = np.zeros
    writer.add_tensor("token_embd.weight", embeddings)
    writer.add_tensor("output_norm.weight", np.ones(n_embd, np.float32))
    writer.add_tensor("output.weight", embeddings.copy())
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(n_embd, np.float32))
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        writer.add_tensor(f"blk.0.{name}.weight", zeros((n_embd, n_embd), np.float32))
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(n_embd, np.float32))
    writer.add_tensor("blk.0.ffn_gate.weight", zeros((n_ff, n_embd), np.float32))
    writer.add_tensor("blk.0.ffn_up.weight", zeros((n_ff, n_embd), np.float32))
    writer.add_tensor("blk.0.ffn_down.weight", zeros((n_embd, n_ff), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
