"""Answer normalisation before exact match, French and English.

French (`normalize_fr`): Unicode NFC, lower case, typographic apostrophes -> ', elision and articles
removed (l', le, la, les, un, une, des; also d' and du/de la/de l' that head an answer), number words ->
digits ("vingt et un" -> "21", "dix-sept" -> "17"), punctuation removed, spaces collapsed. Accents are
KEPT: "côte" and "cote", "pêche" and "pêché" are different answers; multilingual VQA forks that apply
NFKD and strip marks merge them (and turn "l'homme" into "lhomme").

English (`normalize_en`): the same steps with English articles (a, an, the) and number words, as in the
VQA v2 evaluation (lmms-eval's EvalAI processor), which is English-only.

A lone "un"/"une" is the number 1, not an article: an answer is never normalised to nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

NORMALIZER_VERSION = "norm1"

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
# Everything that is not a letter, digit, apostrophe, hyphen or space counts as punctuation.
_PUNCT = re.compile(r"[^\w\s'-]|_")
_SPACES = re.compile(r"\s+")
_FR_ELISION = re.compile(r"\b(?:l|d|qu|j|m|t|s|n|c)'", re.UNICODE)

FR_ARTICLES = frozenset({"le", "la", "les", "un", "une", "des", "du", "de"})
EN_ARTICLES = frozenset({"a", "an", "the"})

FR_UNITS = {
    "zéro": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7,
    "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15,
    "seize": 16, "vingt": 20, "vingts": 20, "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60,
}  # fmt: skip
FR_SCALES = {"cent": 100, "cents": 100, "mille": 1000}
EN_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
EN_SCALES = {"hundred": 100, "thousand": 1000}


def _number_value(words: list[str], units: dict[str, int], scales: dict[str, int]) -> int | None:
    """Value of a run of number words ("quatre vingt dix sept" -> 97), or None if it is not one."""
    total, current, last = 0, 0, 0
    for word in words:
        if word in units:
            value = units[word]
            if value == 20 and 1 < last < 10:  # "quatre-vingt(s)": 4 x 20
                current += last * 19
            else:
                current += value
            last = value
        elif word in scales:
            scale = scales[word]
            current = max(current, 1) * scale
            if scale >= 1000:
                total, current = total + current, 0
        else:
            return None
    return total + current


def _numbers_to_digits(
    tokens: list[str],
    units: dict[str, int],
    scales: dict[str, int],
    joiners: set[str],
    articles: frozenset[str],
) -> list[str]:
    """Replace each maximal run of number words (hyphens split, "et"/"and" inside a run) by its digits."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        # "vingt-et-une": a joiner inside a hyphenated number adds nothing
        run = [p for p in tokens[i].split("-") if p and p not in joiners]
        if run and all(p in units or p in scales for p in run):
            j = i + 1
            while j < len(tokens):
                nxt = [p for p in tokens[j].split("-") if p and p not in joiners]
                if nxt and all(p in units or p in scales for p in nxt):
                    run += nxt
                    j += 1
                elif tokens[j] in joiners and j + 1 < len(tokens) and tokens[j + 1] in units:
                    j += 1  # "vingt et un": the joiner adds nothing
                else:
                    break
            value = _number_value(run, units, scales)
            # "un cercle": a lone "un"/"a" before a noun is an article (the caller drops it)
            article_like = len(run) == 1 and run[0] in articles and len(tokens) > 1
            if value is not None and not article_like:
                out.append(str(value))
                i = j
                continue
        out.append(tokens[i])
        i += 1
    return out


def _finish(tokens: list[str], articles: frozenset[str], number_of_lone: dict[str, int]) -> str:
    kept = [t for t in tokens if t not in articles]
    if not kept:  # "un", "une", "a" alone: a number, not an article
        kept = [str(number_of_lone[t]) if t in number_of_lone else t for t in tokens]
    return " ".join(kept)


def normalize_fr(answer: str | None) -> str:
    if answer is None:
        return ""
    text = unicodedata.normalize("NFC", answer).translate(_APOSTROPHES).lower().strip()
    text = _FR_ELISION.sub(" ", text)  # l'image -> image, d'un -> un, qu'il -> il
    text = _PUNCT.sub(" ", text).replace("'", " ")
    tokens = [t.strip("-") for t in _SPACES.split(text) if t.strip("-")]
    tokens = _numbers_to_digits(tokens, FR_UNITS, FR_SCALES, {"et"}, FR_ARTICLES)
    return _finish(tokens, FR_ARTICLES, {"un": 1, "une": 1})


def normalize_en(answer: str | None) -> str:
    if answer is None:
        return ""
    text = unicodedata.normalize("NFC", answer).translate(_APOSTROPHES).lower().strip()
    text = _PUNCT.sub(" ", text).replace("'", " ")
    tokens = [t.strip("-") for t in _SPACES.split(text) if t.strip("-")]
    tokens = _numbers_to_digits(tokens, EN_UNITS, EN_SCALES, {"and"}, EN_ARTICLES)
    return _finish(tokens, EN_ARTICLES, {"a": 1, "an": 1})


NORMALIZERS: dict[str, Callable[[str | None], str]] = {"fr": normalize_fr, "en": normalize_en}


def normalizer(language: str) -> Callable[[str | None], str]:
    try:
        return NORMALIZERS[language]
    except KeyError:
        raise KeyError(
            f"no answer normaliser for language {language!r}; known: {sorted(NORMALIZERS)}"
        ) from None
