"""French and English answer normalisation, and question types derived from the data."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from evaluation.normalize import normalize_en, normalize_fr
from evaluation.question_types import question_types
from evaluation.run import bootstrap_interval


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Bleu sarcelle.", "bleu sarcelle"),
        ("  NON !", "non"),
        ("Oui", "oui"),
        ("le cercle", "cercle"),
        ("La forme", "forme"),
        ("les triangles", "triangles"),
        ("un cercle", "cercle"),
        ("une forme", "forme"),
        ("des carrés", "carrés"),
        ("l'homme", "homme"),
        ("L\u2019image", "image"),  # typographic apostrophe
        ("d'un rectangle", "rectangle"),
        ("trois", "3"),
        ("trois cercles", "3 cercles"),
        ("dix-sept", "17"),
        ("vingt et un", "21"),
        ("vingt-et-une formes", "21 formes"),
        ("soixante-dix", "70"),
        ("quatre-vingt-dix-sept", "97"),
        ("deux cents", "200"),
        ("un", "1"),  # alone, a number, not an article
        ("Une", "1"),
    ],
)
def test_normalize_fr(answer: str, expected: str) -> None:
    assert normalize_fr(answer) == expected


def test_normalize_fr_keeps_accents_and_nfc() -> None:
    assert normalize_fr("côte") == "côte"
    assert normalize_fr("cote") == "cote"
    assert normalize_fr("côte") != normalize_fr("cote")
    assert normalize_fr("pêche") != normalize_fr("pêché")
    decomposed = "e\u0301te\u0301"  # "été" as e + combining acute
    assert normalize_fr(decomposed) == "été"
    assert normalize_fr("ÉTÉ") == "été"


def test_normalize_en() -> None:
    assert normalize_en("The Circle.") == "circle"
    assert normalize_en("an apple") == "apple"
    assert normalize_en("twenty one") == "21"
    assert normalize_en("Two") == "2"
    assert normalize_en("a") == "1"
    assert normalize_en(None) == ""


def test_question_types_from_answers_and_wh_nouns() -> None:
    pairs = pl.DataFrame(
        {
            "question": [
                "is there a red shape?",
                "is there a red shape?",
                "what color is the shape?",
                "what is the color of the circle?",
                "what is the color of the circle?",
                "what shape is present?",
                "what is the blue shape?",
                "how many circles?",
            ],
            "answer": ["yes", "no", "red", "blue", "red", "circle", "circle", "3"],
        }
    )
    types = dict(question_types(pairs).iter_rows())
    assert types["is there a red shape?"] == "yes/no"
    assert types["what color is the shape?"] == "color"
    # no noun after "what": it joins "what color is the shape?" through the shared answer "red"
    assert types["what is the color of the circle?"] == "color"
    assert types["what shape is present?"] == "shape"
    # "what is the blue shape?" has no noun after "what": it joins its group through the answer "circle"
    assert types["what is the blue shape?"] == "shape"
    assert types["how many circles?"] == "number"


def test_bootstrap_interval_brackets_the_accuracy() -> None:
    correct = np.array([1.0] * 800 + [0.0] * 200)
    low, high = bootstrap_interval(correct, resamples=2000, seed=1)
    assert low < 0.8 < high
    assert 0.02 < high - low < 0.08  # ~ 2 x 1.96 x sqrt(0.16 / 1000) = 0.05
