"""Consensus: how much a translation agrees with the other engines' translations of the same segment
(minimum-Bayes-risk selection with chrF as the utility). Engines that err differently rarely agree on
the same wrong output; one that agrees with the others is more likely right.

Agreement between two configurations of the same engine (both Apertium pivots share rules and the
French generator, and both turn a lone "no" into "ne") is weaker evidence than agreement across
engines: it counts `same_backend_weight` times (default 0: only other engines vote; `backends` maps
system -> backend, filled in from the project's MT systems).

It needs every system's translation of the segment, so the scoring stage binds the full pair set
first (`bind`). Its version names the systems and versions it compared against: adding an engine
re-scores every pair.
"""

from __future__ import annotations

import hashlib

import polars as pl
from sacrebleu.metrics.chrf import CHRF

from vlmfr_data.quality.base import Static, scores_frame


def agreement(pairs: pl.DataFrame) -> list[float | None]:
    """Per row of `pairs` (segment_id, system, text_fr): mean chrF against the other systems'
    translations of the same segment (lower-cased, every system counted alike); None without another
    system."""
    signal = Consensus(same_backend_weight=1.0)
    signal.bind(pairs.with_columns(pl.lit("").alias("system_version")))
    return signal.values(pairs)


class Consensus(Static):
    name = "consensus"
    description = (
        "value = weighted mean chrF (sacrebleu chrF2, lower-cased) of the translation against the other "
        "systems' translations of the segment (0..100; a system on the same backend counts "
        "`same_backend_weight` times, default 0); score = value / 100; null with no other system that counts"
    )

    def __init__(self, backends: dict[str, str] | None = None, same_backend_weight: float = 0.0) -> None:
        self._others: dict[str, list[tuple[str, str]]] = {}
        self.backends = dict(backends or {})
        self.same_backend_weight = float(same_backend_weight)
        self.version = "1 unbound"

    def bind(self, pairs: pl.DataFrame) -> None:
        """All current (segment, system, translation) pairs; call before `score`."""
        grouped = (
            pairs.filter(pl.col("text_fr").is_not_null()).group_by("segment_id").agg("system", "text_fr")
        )
        self._others = {
            seg: list(zip(systems, texts, strict=True)) for seg, systems, texts in grouped.iter_rows()
        }
        versions = sorted(set(pairs.select("system", "system_version").unique().iter_rows()))
        digest = hashlib.sha1(repr(versions).encode("utf-8")).hexdigest()[:12]
        families = sorted(self.backends.items())
        self.version = (
            f"2 chrF2 lower against {len(versions)} system versions #{digest} "
            f"same-backend x{self.same_backend_weight:g} {families}"
        )

    def _weight(self, system: str, other: str) -> float:
        backend = self.backends.get(system)
        return self.same_backend_weight if backend and backend == self.backends.get(other) else 1.0

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        values = self.values(pairs)
        return scores_frame(values, [None if v is None else v / 100.0 for v in values])

    def values(self, pairs: pl.DataFrame) -> list[float | None]:
        chrf = CHRF()
        values: list[float | None] = []
        for seg, system, text in pairs.select("segment_id", "system", "text_fr").iter_rows():
            others = [(self._weight(system, s), t) for s, t in self._others.get(seg, []) if s != system]
            total = sum(w for w, _ in others)
            if total <= 0 or text is None:
                values.append(None)
                continue
            hyp = text.casefold()
            values.append(sum(w * chrf.sentence_score(hyp, [o.casefold()]).score for w, o in others) / total)
        return values
