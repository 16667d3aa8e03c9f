"""CTranslate2 (optional extra `pip install vlmfr-data[ctranslate2]`): converted Marian/NLLB/M2M100 models.

`model` is a CTranslate2 model folder; `tokenizer` a transformers tokenizer folder (defaults to `model`,
since `ct2-transformers-converter --copy_files` puts the tokenizer files beside the weights).
"""

from __future__ import annotations

import importlib.util
from functools import cached_property
from pathlib import Path
from typing import Any

from vlmfr_data.mt.base import PIPELINE_VERSION, Availability, SystemDefaults
from vlmfr_data.mt.hf_common import fingerprint, load_tokenizer


class CTranslate2(SystemDefaults):
    context_style = "sentence"  # see mt/context.in_context
    backend = "ctranslate2"

    def __init__(
        self,
        name: str,
        model: str,
        tokenizer: str | None = None,
        beam_size: int = 1,
        target_prefix: str | None = None,
        src_lang: str | None = None,
        device: str = "cpu",
        max_decoding_length: int = 256,
    ) -> None:
        self.name = name
        self.model_path = Path(model).expanduser()
        self.tokenizer_path = Path(tokenizer).expanduser() if tokenizer else self.model_path
        self.beam_size = beam_size
        self.target_prefix = target_prefix  # e.g. "fra_Latn" for NLLB, "__fr__" for M2M100
        self.src_lang = src_lang
        self.device = device
        self.max_decoding_length = max_decoding_length

    def availability(self) -> Availability:
        if importlib.util.find_spec("ctranslate2") is None:
            return Availability(
                False, "the `ctranslate2` package is not installed: `pip install 'vlmfr-data[ctranslate2]'`"
            )
        if not (self.model_path / "model.bin").exists():
            return Availability(
                False,
                f"{self.model_path} is not a CTranslate2 model folder (no model.bin); "
                "convert one with `ct2-transformers-converter --model <hf-folder> --output_dir ...`",
            )
        return Availability(True)

    @cached_property
    def version(self) -> str:
        return (
            f"{self.model_path.name}@{fingerprint(self.model_path)} beams={self.beam_size} {PIPELINE_VERSION}"
        )

    @cached_property
    def _loaded(self) -> tuple[Any, Any]:
        # the optional `ctranslate2` extra, absent from environments that never run this backend
        import ctranslate2  # pyright: ignore[reportMissingImports]

        tokenizer = load_tokenizer(self.tokenizer_path)
        if self.src_lang:
            tokenizer.src_lang = self.src_lang
        return ctranslate2.Translator(str(self.model_path), device=self.device), tokenizer

    def translate(self, texts: list[str]) -> list[str]:
        if not texts:
            return []
        translator, tokenizer = self._loaded
        sources = [tokenizer.convert_ids_to_tokens(tokenizer.encode(t)) for t in texts]
        prefix = [[self.target_prefix]] * len(texts) if self.target_prefix else None
        results = translator.translate_batch(
            sources,
            target_prefix=prefix,
            beam_size=self.beam_size,
            max_decoding_length=self.max_decoding_length,
        )
        outputs = []
        for result in results:
            tokens = result.hypotheses[0]
            if self.target_prefix and tokens and tokens[0] == self.target_prefix:
                tokens = tokens[1:]
            outputs.append(
                tokenizer.decode(tokenizer.convert_tokens_to_ids(tokens), skip_special_tokens=True)
            )
        return outputs
