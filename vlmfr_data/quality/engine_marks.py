"""The engine's own confidence: the words it marked as unknown while translating (Apertium `*teal`,
`*Rectángulo`; captured by the MT step into `translations.unknown_words`, the text itself stays clean).

The signal only ever penalises: a translation without marks gets null, like one from an engine that
cannot mark (an LLM). Scoring "no marks" as 1.0 would lift every Apertium output above an unmarked LLM
output of the same quality (measured: "ne" 0.768 above Gemma's "non" 0.760 for "no"). A translation
whose words are mostly marked unknown is the engine saying it left the source as it was ("teal",
"Rectángulo"): gate `engine_unknown`.
"""

from __future__ import annotations

import polars as pl

from vlmfr_data.quality.base import Static, scores_frame

GATE = "engine_unknown"
GATE_SHARE = 0.5


class EngineUnknownWords(Static):
    name = "engine_unknown_words"
    version = "2"
    description = (
        "value = share of the translation's words the engine itself marked unknown (0..1); "
        "score = (1 - value)^2 where it marked any (one unknown word in a 10-word caption: 0.81), null "
        "where it marked none or cannot mark; gate 'engine_unknown' at half the words or more; detail "
        "lists the words"
    )

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        if "unknown_words" not in pairs.columns:
            n = pairs.height
            return scores_frame([None] * n, [None] * n)
        words = pairs["text_fr"].fill_null("").str.count_matches(r"\w+").cast(pl.Float64).to_list()
        marks = pairs["unknown_words"].to_list()
        values = [
            None if m is None else min(1.0, len(m) / max(w, 1.0)) for m, w in zip(marks, words, strict=True)
        ]
        scores = [None if not v else (1.0 - v) ** 2 for v in values]
        gates = [GATE if v is not None and v >= GATE_SHARE else None for v in values]
        detail = [", ".join(m) if m else None for m in marks]
        return scores_frame(values, scores, gates, detail)
