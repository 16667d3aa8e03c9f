"""Cheap rule-based signals: length ratio, protected spans intact, copy of the source, repetition, empty."""

from __future__ import annotations

import math
from typing import cast

import polars as pl

from vlmfr_data.quality.base import Static, scores_frame

# French runs about 15% longer than English in characters; scores fall off in log space around that.
FR_EN_LENGTH_RATIO = 1.15
MIN_CHARS_FOR_LENGTH = 12  # below this ("yes" -> "oui") the ratio says nothing


class LengthRatio(Static):
    description = (
        "value = chars(fr) / chars(en) (0..inf); score = 1 - |ln(value / 1.15)| / ln 3, clipped to [0, 1] "
        "(1 at the typical FR/EN ratio, 0 at 3x longer or shorter); null for sources under 12 chars"
    )

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        en = pairs["text_en"].str.len_chars().cast(pl.Float64)
        fr = pairs["text_fr"].fill_null("").str.len_chars().cast(pl.Float64)
        ratio = (fr / en).to_list()
        short = (en < MIN_CHARS_FOR_LENGTH).to_list()
        scores = [
            None if s else max(0.0, 1.0 - abs(math.log(max(r, 1e-6) / FR_EN_LENGTH_RATIO)) / math.log(3.0))
            for r, s in zip(ratio, short, strict=True)
        ]
        return scores_frame(ratio, scores)


class SpansIntact(Static):
    description = (
        "value = 1 if every protected span (`<image>` and other special tokens, URLs, code, placeholders, "
        "numbers) came through MT exactly once and the `<image>` count matches, else 0; gate 'broken_spans'"
    )

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        fr = pairs["text_fr"].fill_null("")
        image_ok = pairs["text_en"].str.count_matches("<image>", literal=True) == fr.str.count_matches(
            "<image>", literal=True
        )
        ok = (pairs["spans_ok"].fill_null(True) & image_ok).to_list()
        value: list[float | None] = [1.0 if o else 0.0 for o in ok]
        gates = [None if o else "broken_spans" for o in ok]
        return scores_frame(value, value, gates)


class SourceCopy(Static):
    description = (
        "value = 1 if the output equals the source (case and spacing ignored), else 0; gate 'copy_of_source' "
        "when a copied source has 3 or more words (one-word copies like 'rectangle' are legitimate)"
    )

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        def norm(s: pl.Series) -> pl.Series:
            return s.fill_null("").str.to_lowercase().str.replace_all(r"[\s\p{P}]+", " ").str.strip_chars()

        copy = (norm(pairs["text_en"]) == norm(pairs["text_fr"])).to_list()
        words = pairs["text_en"].str.split(" ").list.len().to_list()
        value = [1.0 if c else 0.0 for c in copy]
        gates = ["copy_of_source" if c and w >= 3 else None for c, w in zip(copy, words, strict=True)]
        # scores_frame takes nullable columns, and a list[float] is no list[float | None] to the checker
        return scores_frame(cast(list[float | None], value), [1.0 - v for v in value], gates)


class Repetition(Static):
    description = (
        "value = share of word trigrams that repeat an earlier trigram, plus a word repeated 3+ times in a "
        "row counts as 1 (0..1; LLM run-ons); score = 1 - value"
    )

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        values = []
        for text in pairs["text_fr"].fill_null("").str.to_lowercase().to_list():
            words = text.split()
            stutter = any(words[i] == words[i + 1] == words[i + 2] for i in range(len(words) - 2))
            grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
            share = (len(grams) - len(set(grams))) / len(grams) if grams else 0.0
            values.append(1.0 if stutter else share)
        return scores_frame(values, [1.0 - v for v in values])


class EmptyOutput(Static):
    description = "value = 1 if the translation is empty or only punctuation, else 0; gate 'empty_output'"

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        empty = (pairs["text_fr"].fill_null("").str.replace_all(r"[\s\p{P}]+", "") == "").to_list()
        value = [1.0 if e else 0.0 for e in empty]
        gates = ["empty_output" if e else None for e in empty]
        # as in SourceCopy
        return scores_frame(cast(list[float | None], value), [1.0 - v for v in value], gates)
