"""The benchmark extension point: items, answer normalisation, metric, version.

A benchmark yields `ITEM_SCHEMA` rows (one question about one image with its reference answer, plus the
English source question/answer and the question type), normalises answers in its language, and has a
version: a hash of its items, the normaliser and its own code version, so cached predictions are reused
exactly when nothing the score depends on changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import polars as pl

from evaluation.normalize import NORMALIZER_VERSION, normalizer
from vlmfr_data.store import Warehouse

ITEM_SCHEMA = {
    "item_id": pl.String(),
    "image": pl.String(),
    "question": pl.String(),
    "answer": pl.String(),
    "question_en": pl.String(),
    "answer_en": pl.String(),
    "question_type": pl.String(),
}


class Benchmark:
    name: str  # stamped by the registry
    language: str = "en"
    description: str = ""
    code_version: str = "1"

    def items(self, warehouse: Warehouse) -> pl.DataFrame:  # pragma: no cover - every benchmark overrides
        raise NotImplementedError

    @property
    def normalize(self) -> Callable[[str | None], str]:
        return normalizer(self.language)

    def version(self, items: pl.DataFrame) -> str:
        digest = hashlib.sha1()
        for column in ("item_id", "image", "question", "answer"):
            digest.update(column.encode())
            digest.update(items[column].fill_null("\0").str.join("\n").item().encode("utf-8"))
        return f"{self.name}-v{self.code_version}-{NORMALIZER_VERSION}-{digest.hexdigest()[:12]}"

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "language": self.language, "description": self.description}
