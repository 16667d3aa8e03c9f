"""What gets evaluated: a model answering directly, or translate-test around the English model.

Both turn benchmark items into predictions (`item_id`, `prediction`, and for translate-test the English
question the model saw and its English answer) and say how long each part took.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from evaluation.config import PROMPTED_BACKENDS
from evaluation.mt_cache import translate_cached
from vlmfr_data.config import MTSystemConfig
from vlmfr_data.mt.base import MTSystem
from vlmfr_data.store import Warehouse

PREDICTION_SCHEMA = {
    "item_id": pl.String(),
    "prediction": pl.String(),
    "question_mt_en": pl.String(),
    "prediction_en": pl.String(),
}


def direct_predictions(item_ids: pl.Series, answers: list[str] | pl.Series) -> pl.DataFrame:
    """Predictions of a system that answers the question as asked (no MT English in between)."""
    return pl.DataFrame(
        {"item_id": item_ids, "prediction": answers, "question_mt_en": None, "prediction_en": None},
        schema=PREDICTION_SCHEMA,
    )


class Predictor(Protocol):
    """training.inference's predictor (the contract this package codes against)."""

    name: str
    version: str

    def answer(self, image_paths: list[str], questions: list[str], batch_size: int = 64) -> list[str]: ...


@dataclass
class Timing:
    translate_question_s: float = 0.0
    model_s: float = 0.0
    translate_answer_s: float = 0.0

    @property
    def total_s(self) -> float:
        return self.translate_question_s + self.model_s + self.translate_answer_s


@dataclass
class DirectModel:
    """A VLM answering the benchmark's question as asked."""

    predictor: Predictor
    name: str
    kind: str = "tier_model"
    method: str | None = None
    tier_set: str | None = None
    mt_system: str | None = None
    seed: int | None = None  # training seed, for one seed's model of a seeded configuration
    timing: Timing = field(default_factory=Timing)

    @property
    def version(self) -> str:
        return self.predictor.version

    def predict(self, items: pl.DataFrame, batch_size: int) -> pl.DataFrame:
        started = time.perf_counter()
        answers = self.predictor.answer(
            items["image"].to_list(), items["question"].to_list(), batch_size=batch_size
        )
        self.timing = Timing(model_s=time.perf_counter() - started)
        return direct_predictions(items["item_id"], answers)

    def answer_one(self, image: str, question: str, timing: Timing) -> str:
        started = time.perf_counter()
        (answer,) = self.predictor.answer([image], [question], batch_size=1)
        timing.model_s += time.perf_counter() - started
        return answer


@dataclass
class TranslateTest:
    """French question -> English (backward MT) -> English VLM -> English answer -> French (forward MT)."""

    predictor: Predictor
    forward: MTSystem  # EN->FR, the configured system
    backward: MTSystem  # FR->EN
    warehouse: Warehouse
    mt_batch_size: int = 64
    kind: str = "translate_test"
    method: str | None = "translate_test"
    tier_set: str | None = None
    timing: Timing = field(default_factory=Timing)
    last_stats: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"translate_test:{self.forward.name}"

    @property
    def mt_system(self) -> str:
        return self.forward.name

    @property
    def version(self) -> str:
        return (
            f"{self.predictor.version}|fr-en {self.backward.name}={self.backward.version}"
            f"|en-fr {self.forward.name}={self.forward.version}"
        )

    def predict(self, items: pl.DataFrame, batch_size: int) -> pl.DataFrame:
        timing = Timing()
        started = time.perf_counter()
        questions = translate_cached(
            self.warehouse, self.backward, items["question"].to_list(), self.mt_batch_size
        )
        question_en = [questions.lookup(q) for q in items["question"].to_list()]
        timing.translate_question_s = time.perf_counter() - started
        # an untranslatable question gets no answer (counted wrong), never a made-up one
        asked = [i for i, q in enumerate(question_en) if q]
        started = time.perf_counter()
        answers_en: list[str | None] = [None] * items.height
        if asked:
            images = items["image"].to_list()
            produced = self.predictor.answer(
                [images[i] for i in asked], [q for q in question_en if q], batch_size=batch_size
            )
            for i, answer in zip(asked, produced, strict=True):
                answers_en[i] = answer
        timing.model_s = time.perf_counter() - started
        started = time.perf_counter()
        answers = translate_cached(
            self.warehouse, self.forward, [a for a in answers_en if a], self.mt_batch_size
        )
        prediction = [answers.lookup(a) if a else None for a in answers_en]
        timing.translate_answer_s = time.perf_counter() - started
        self.timing = timing
        self.last_stats = {
            "questions_translated_now": questions.translated_now,
            "questions_reused": questions.reused,
            "questions_failed": questions.failed,
            "answers_translated_now": answers.translated_now,
            "answers_reused": answers.reused,
            "answers_failed": answers.failed,
        }
        return pl.DataFrame(
            {
                "item_id": items["item_id"],
                "prediction": prediction,
                "question_mt_en": question_en,
                "prediction_en": answers_en,
            },
            schema=PREDICTION_SCHEMA,
        )

    def answer_one(self, image: str, question: str, timing: Timing) -> str | None:
        """One item end to end with uncached engine calls: what a user waits for per question."""
        started = time.perf_counter()
        (question_en,) = self.backward.translate([question])
        timing.translate_question_s += time.perf_counter() - started
        started = time.perf_counter()
        (answer_en,) = self.predictor.answer([image], [question_en], batch_size=1)
        timing.model_s += time.perf_counter() - started
        started = time.perf_counter()
        (answer,) = self.forward.translate([answer_en])
        timing.translate_answer_s += time.perf_counter() - started
        return answer


def create_backward(config: MTSystemConfig) -> MTSystem:
    """Create a FR->EN system. A prompted causal LM is the EN->FR model turned round: its few-shot pairs
    are reversed and its languages swapped (the direction is in its version, so caches never mix)."""
    from vlmfr_data.mt import create_system

    if config.backend in PROMPTED_BACKENDS:
        from vlmfr_data.mt.prompts import DEFAULT_EXAMPLES

        options = dict(config.options)
        pairs = options.get("examples") or [list(e) for e in DEFAULT_EXAMPLES]
        options["examples"] = [[fr, en] for en, fr in pairs]
        options.update(source_lang="fr", target_lang="en")
        return create_system(MTSystemConfig(config.name, config.backend, options, config.batch_size))
    return create_system(config)


@dataclass
class MajorityAnswer:
    """The floor any model must beat: per question type, the benchmark's most frequent reference answer.

    Taken on the benchmark's own answers, it is the best any constant-per-type answerer can score on
    these items (an upper bound of the train-split majority): a model at or below it has learned nothing
    from the image. It picks nothing among models, so reading test answers leaks no choice."""

    name: str = "majority"
    kind: str = "baseline"
    method: str | None = None
    tier_set: str | None = None
    mt_system: str | None = None
    seed: int | None = None
    answers: dict[str, str] = field(default_factory=dict)

    @property
    def version(self) -> str:
        import hashlib
        import json

        return (
            "majority-" + hashlib.sha256(json.dumps(self.answers, sort_keys=True).encode()).hexdigest()[:12]
        )

    @classmethod
    def of(cls, items: pl.DataFrame) -> MajorityAnswer:
        counts = (
            items.with_columns(pl.col("question_type").fill_null("other"))
            .group_by("question_type", "answer")
            .len()
            .sort(["question_type", "len", "answer"], descending=[False, True, False])
            .unique("question_type", keep="first")
        )
        return cls(answers=dict(counts.select("question_type", "answer").iter_rows()))

    def predict(self, items: pl.DataFrame, batch_size: int) -> pl.DataFrame:
        answers = items["question_type"].fill_null("other").replace_strict(self.answers, default=None)
        return direct_predictions(items["item_id"], answers)
