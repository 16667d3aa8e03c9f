"""Round trip: back-translate the French to English with an MT system (default Apertium fr-es | spa-eng)
and score chrF against the source with sacrebleu."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import polars as pl
from sacrebleu.metrics import CHRF

from vlmfr_data.config import MTSystemConfig
from vlmfr_data.mt import create_system
from vlmfr_data.mt.base import Availability, MTSystem
from vlmfr_data.quality.base import scores_frame

DEFAULT_BACK_TRANSLATION = {
    "name": "apertium_fr_en",
    "backend": "apertium",
    "options": {"modes": ["fr-es", "spa-eng"]},
}


class RoundTripChrF:
    description = "value = chrF(back-translation, source) (0..100, sacrebleu chrF2); score = value / 100"

    def __init__(self, back_translation: dict[str, Any] | None = None, batch_size: int = 1000) -> None:
        spec = back_translation or DEFAULT_BACK_TRANSLATION
        self.system_config = MTSystemConfig(
            name=spec["name"], backend=spec["backend"], options=spec.get("options", {})
        )
        self.batch_size = batch_size

    @cached_property
    def system(self) -> MTSystem:
        return create_system(self.system_config)

    def availability(self) -> Availability:
        found = self.system.availability()
        return found if found.ok else Availability(False, f"back-translation system: {found.reason}")

    @cached_property
    def version(self) -> str:
        return f"chrF2 via {self.system.name} ({self.system.version})"

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        french = [t.replace("\n", " ") for t in pairs["text_fr"].fill_null("").to_list()]
        back: list[str] = []
        for i in range(0, len(french), self.batch_size):
            back.extend(self.system.translate(french[i : i + self.batch_size]))
        chrf = CHRF()
        values = [
            chrf.sentence_score(b, [s]).score for b, s in zip(back, pairs["text_en"].to_list(), strict=True)
        ]
        return scores_frame(values, [v / 100.0 for v in values], None, back)
