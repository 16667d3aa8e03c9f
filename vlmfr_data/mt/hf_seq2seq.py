"""Any transformers seq2seq checkpoint from a local path or cache: Marian/OPUS-MT, NLLB and M2M100 (language
codes), MADLAD/T5 (target prefix). Batched beam or greedy generation."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from vlmfr_data.mt.base import PIPELINE_VERSION, Availability, SystemDefaults
from vlmfr_data.mt.hf_common import (
    fingerprint,
    load_tokenizer,
    local_availability,
    resolve_local,
    set_threads,
)

# Default codes per family for English -> French.
NLLB_CODES = {"en": "eng_Latn", "fr": "fra_Latn"}


class HFSeq2Seq(SystemDefaults):
    context_style = "sentence"  # see mt/context.in_context
    backend = "hf_seq2seq"

    def __init__(
        self,
        name: str,
        model: str,
        num_beams: int = 1,
        max_new_tokens: int = 256,
        src_lang: str | None = None,
        tgt_lang: str | None = None,
        prefix: str | None = None,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        self.name = name
        self.model_ref = model
        self.num_beams = num_beams
        self.max_new_tokens = max_new_tokens
        self.src_lang_code = src_lang
        self.tgt_lang_code = tgt_lang
        self.prefix = prefix
        self.device = device
        self.threads = threads

    def availability(self) -> Availability:
        return local_availability(self.model_ref)

    @cached_property
    def path(self) -> Path:
        path, reason = resolve_local(self.model_ref)
        if path is None:
            raise FileNotFoundError(reason)
        return path

    @cached_property
    def version(self) -> str:
        return (
            f"{Path(self.model_ref).name}@{fingerprint(self.path)} beams={self.num_beams} {PIPELINE_VERSION}"
        )

    @cached_property
    def _loaded(self) -> tuple[Any, Any, dict[str, Any]]:
        from transformers import AutoModelForSeq2SeqLM

        set_threads(self.threads)
        tokenizer = load_tokenizer(self.path)
        model = AutoModelForSeq2SeqLM.from_pretrained(self.path, local_files_only=True).to(self.device).eval()
        gen_kwargs: dict[str, Any] = {}
        family = model.config.model_type
        if family == "m2m_100" and "nllb" in type(tokenizer).__name__.lower():
            tokenizer.src_lang = self.src_lang_code or NLLB_CODES[self.source_lang]
            gen_kwargs["forced_bos_token_id"] = tokenizer.convert_tokens_to_ids(
                self.tgt_lang_code or NLLB_CODES[self.target_lang]
            )
        elif family == "m2m_100":
            tokenizer.src_lang = self.src_lang_code or self.source_lang
            gen_kwargs["forced_bos_token_id"] = tokenizer.get_lang_id(self.tgt_lang_code or self.target_lang)
        elif family in ("t5", "mt5") and self.prefix is None:
            self.prefix = f"<2{self.tgt_lang_code or self.target_lang}> "  # MADLAD-400 convention
        elif family == "marian" and self.tgt_lang_code:
            self.prefix = self.prefix or f">>{self.tgt_lang_code}<< "  # multi-target OPUS-MT models
        return tokenizer, model, gen_kwargs

    def translate(self, texts: list[str]) -> list[str]:
        if not texts:
            return []
        tokenizer, model, gen_kwargs = self._loaded
        inputs = [f"{self.prefix}{t}" for t in texts] if self.prefix else texts
        encoded = tokenizer(
            inputs, return_tensors="pt", padding=True, truncation=True, return_token_type_ids=False
        ).to(self.device)
        with torch.inference_mode():
            generated = model.generate(
                **encoded,
                num_beams=self.num_beams,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                **gen_kwargs,
            )
        return [t.strip() for t in tokenizer.batch_decode(generated, skip_special_tokens=True)]
