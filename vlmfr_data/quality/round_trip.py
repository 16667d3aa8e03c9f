"""Round trip: back-translate the French to English and score chrF against the source (sacrebleu).

Back-translating through the reverse of the engine that produced the translation forgives that
engine's own errors: Apertium's es-fr writes "ne" for "no" and its fr-es reads "ne" back as "no", a
perfect round trip. So each translation goes back through an engine other than its producer: the
first of `back_translations` that is not its producer's reverse chain (Apertium modes reversed, e.g.
eng-spa|es-fr against fr-es|spa-eng). Default: the Spanish-pivot reverse, then the Catalan one, so the
Spanish pivot's output returns through Catalan and everything else through Spanish. `producers`
(system -> {"backend", "modes"}) is filled in from the project's MT systems.

Measured on the 2026-12-01 demo (Spearman of the round trip with gold sentence chrF, within one
engine): the Spanish pivot's output through its own reverse 0.21 (captions) / 0.18 (easy-vqa), through
the Catalan one 0.29 / 0.36; the Catalan pivot's through its own 0.21 / 0.35, through the Spanish one
0.29 / 0.54.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import polars as pl
from sacrebleu.metrics.chrf import CHRF

from vlmfr_data.config import MTSystemConfig
from vlmfr_data.mt import create_system
from vlmfr_data.mt.apertium import REVERSE_MODES
from vlmfr_data.mt.base import Availability, MTSystem
from vlmfr_data.quality.base import scores_frame

DEFAULT_BACK_TRANSLATION = {
    "name": "apertium_fr_en",
    "backend": "apertium",
    "options": {"modes": ["fr-es", "spa-eng"]},
}
DEFAULT_BACK_TRANSLATIONS = [
    DEFAULT_BACK_TRANSLATION,
    {"name": "apertium_cat_fr_en", "backend": "apertium", "options": {"modes": ["fra-cat", "cat-eng"]}},
]


class RoundTripChrF:
    description = (
        "value = chrF(back-translation, source) (0..100, sacrebleu chrF2), the back-translation by an "
        "engine other than the producer's reverse; score = value / 100"
    )

    def __init__(
        self,
        back_translation: dict[str, Any] | None = None,
        back_translations: list[dict[str, Any]] | None = None,
        producers: dict[str, dict[str, Any]] | None = None,
        batch_size: int = 1000,
    ) -> None:
        # one `back_translation` (the older option) means that engine for every translation
        specs = [back_translation] if back_translation else (back_translations or DEFAULT_BACK_TRANSLATIONS)
        self.configs = [
            MTSystemConfig(name=s["name"], backend=s["backend"], options=s.get("options", {})) for s in specs
        ]
        self.producers = dict(producers or {})
        self.batch_size = batch_size

    @cached_property
    def systems(self) -> list[MTSystem]:
        """The configured back-translation engines that are available."""
        built = [create_system(c) for c in self.configs]
        return [s for s in built if s.availability().ok]

    def availability(self) -> Availability:
        if self.systems:
            return Availability(True)
        reasons = "; ".join(str(create_system(c).availability().reason) for c in self.configs)
        return Availability(False, f"no back-translation system is available: {reasons}")

    def _reverses(self, config: MTSystemConfig, producer: str) -> bool:
        made_by = self.producers.get(producer, {})
        modes = made_by.get("modes") or []
        if config.backend != made_by.get("backend") or not modes:
            return False
        return list(config.options.get("modes", [])) == [REVERSE_MODES.get(m, "?") for m in reversed(modes)]

    def back_system(self, producer: str) -> MTSystem:
        """The first available back-translation engine that is not `producer`'s own reverse."""
        by_name = {c.name: c for c in self.configs}
        for system in self.systems:
            if not self._reverses(by_name[system.name], producer):
                return system
        return self.systems[0]

    @cached_property
    def version(self) -> str:
        chosen = {p: self.back_system(p).name for p in sorted(self.producers)}
        engines = ", ".join(f"{s.name} ({s.version})" for s in self.systems)
        return f"chrF2 via {engines}; cross-engine {chosen}"

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        french = [t.replace("\n", " ") for t in pairs["text_fr"].fill_null("").to_list()]
        producers = pairs["system"].to_list()
        chosen = {p: self.back_system(p) for p in set(producers)}
        engines = [chosen[p] for p in producers]
        back: list[str] = [""] * len(french)
        for engine in {id(e): e for e in engines}.values():
            rows = [i for i, e in enumerate(engines) if e is engine]
            for start in range(0, len(rows), self.batch_size):
                chunk = rows[start : start + self.batch_size]
                for i, text in zip(chunk, engine.translate([french[i] for i in chunk]), strict=True):
                    back[i] = text
        chrf = CHRF()
        values = [
            chrf.sentence_score(b, [s]).score for b, s in zip(back, pairs["text_en"].to_list(), strict=True)
        ]
        detail: list[str | None] = [f"{e.name}: {b}" for e, b in zip(engines, back, strict=True)]
        return scores_frame(values, [v / 100.0 for v in values], None, detail)
