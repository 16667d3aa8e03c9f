"""French lexicon coverage: the share of words that Apertium's French morphological analyser knows.

`lt-proc` on `apertium-fr-es`'s `fr-es.automorf.bin` marks unknown words with `*`. That catches what
language ID misses on short text: an English word left untranslated ("teal"), a Spanish leak from the
pivot ("rectángulo"), an LLM's invented words ("tbe"). One process per batch, one pair per line.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import polars as pl

from vlmfr_data.quality.base import scores_frame
from vlmfr_data.registry import Availability

ANALYSER = Path("/usr/share/apertium/apertium-fr-es/fr-es.automorf.bin")
_LEXICAL_UNIT = re.compile(r"\^((?:\\.|[^/$\\])*)/((?:\\.|[^$\\])*)\$")
_STREAM_SPECIAL = re.compile(r"([\^$/<>{}\[\]\\@*#+~])")


class FrenchLexicon:
    description = (
        "value = share of words (with letters) known to Apertium's French analyser (0..1); score = value; "
        "detail lists the unknown words"
    )

    def __init__(self, analyser: str | None = None) -> None:
        self.analyser = Path(analyser) if analyser else ANALYSER

    def availability(self) -> Availability:
        if shutil.which("lt-proc") is None or not self.analyser.exists():
            return Availability(
                False, f"needs `lt-proc` and {self.analyser}: `sudo apt-get install apertium-fr-es`"
            )
        return Availability(True)

    @property
    def version(self) -> str:
        return f"{self.analyser.name}:{self.analyser.stat().st_size if self.analyser.exists() else 0}"

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        lines = [
            _STREAM_SPECIAL.sub(r"\\\1", t.replace("\n", " "))
            for t in pairs["text_fr"].fill_null("").to_list()
        ]
        result = subprocess.run(
            ["lt-proc", "-w", str(self.analyser)],
            input="\n".join(lines) + "\n",
            capture_output=True,
            text=True,
            check=True,
        )
        out_lines = result.stdout.split("\n")[: len(lines)]
        if len(out_lines) != len(lines):
            raise RuntimeError(f"lt-proc returned {len(out_lines)} lines for {len(lines)} texts")
        values: list[float | None] = []
        details: list[str | None] = []
        for line in out_lines:
            words = [(w, a) for w, a in _LEXICAL_UNIT.findall(line) if any(ch.isalpha() for ch in w)]
            unknown = [w.replace("\\", "") for w, a in words if a.startswith("*")]
            values.append(1.0 - len(unknown) / len(words) if words else None)
            details.append(",".join(unknown) or None)
        return scores_frame(values, values, None, details)
