"""Each extension point takes one new module plus one registry line, and the product's own code runs it.

For each of the four (quality signal, MT backend, benchmark, training method) the test writes a small
plug-in module into a temporary folder on `sys.path`, adds the one registry line (the public
`register` call, which is what an entry in `vlmfr_data/plugins.py`, `training/registry.py` or
`evaluation/benchmarks/__init__.py` amounts to, or a `module:Class` name in the config where the config
takes one), then uses it through the real stage: scoring, `translate_segments`, evaluation, the
optimizer's parameter groups. Every registration is undone when its test ends (`plugged`), and the
test checks that the registry is back to what it was.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.conftest import fixture_translations, write_json
from vlmfr_data.config import DatasetConfig, load_config
from vlmfr_data.registry import Registry, UnknownEntry
from vlmfr_data.store import Warehouse

# ------------------------------------------------------------------------------------ the plug-ins
# The whole of each plug-in: these strings are the new files a user writes.

SIGNAL_MODULE = "toy_stopwords"
SIGNAL_SOURCE = '''
"""Quality signal: the share of French stop-words in a translation (an English copy has almost none)."""

import polars as pl

from vlmfr_data.quality.base import Static, scores_frame

STOPWORDS = frozenset(
    "le la les l de des du d un une et est sont en dans à au aux ce cette il elle y a sur sous pour par "
    "avec que qui ne pas quelle quel".split()
)
TYPICAL_SHARE = 0.3  # about a third of the words of a French question or caption are stop-words
MIN_WORDS = 3  # "Oui." or "Rouge." has none and is fine: no score


class FrenchStopwords(Static):
    description = (
        "value = share of the words of the translation that are French stop-words (0..1); "
        "score = min(1, value / 0.3); null under 3 words"
    )

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        words = pl.col("text_fr").fill_null("").str.to_lowercase().str.extract_all(r"[a-zàâçéèêëîïôûùüÿœ]+")
        share = words.list.eval(pl.element().is_in(list(STOPWORDS))).list.mean().fill_null(0.0)
        measured = pairs.select(
            share.alias("value"),
            pl.when(words.list.len() >= MIN_WORDS).then((share / TYPICAL_SHARE).clip(upper_bound=1.0)).alias("score"),
        )
        return scores_frame(measured["value"].to_list(), measured["score"].to_list())
'''
SIGNAL_LINE = ("french_stopwords", f"{SIGNAL_MODULE}:FrenchStopwords")

MT_MODULE = "toy_word_table"
MT_SOURCE = '''
"""MT backend: word for word from an English -> French table; words not in the table are kept as they
are. Deterministic and rough: a baseline, and an engine for tests, not a translation model."""

import hashlib
import json
import re

from vlmfr_data.mt.base import PIPELINE_VERSION, SystemDefaults
from vlmfr_data.registry import Availability

TABLE = {
    "what": "quelle", "color": "couleur", "is": "est", "the": "la", "shape": "forme", "in": "dans",
    "image": "image", "there": "il y a", "a": "un", "circle": "cercle", "red": "rouge", "blue": "bleu",
    "yes": "oui", "no": "non", "triangle": "triangle",
}


class WordTable(SystemDefaults):
    def __init__(self, name: str, table: dict[str, str] | None = None) -> None:
        self.name = name
        self.table = {**TABLE, **(table or {})}

    @property
    def version(self) -> str:  # a new table is a new version: the cache translates again
        digest = hashlib.sha1(json.dumps(sorted(self.table.items())).encode()).hexdigest()[:8]
        return f"word-table-{digest} {PIPELINE_VERSION}"

    def availability(self) -> Availability:
        return Availability(True)

    def translate(self, texts: list[str]) -> list[str]:
        return [re.sub(r"[A-Za-z]+", self._word, text) for text in texts]

    def _word(self, match: re.Match) -> str:
        word = match.group()
        french = self.table.get(word.lower(), word)  # sentinels (XQZ0) are not in the table: kept
        return french[:1].upper() + french[1:] if word[:1].isupper() else french
'''
MT_LINE = ("word_table", f"{MT_MODULE}:WordTable")

BENCHMARK_MODULE = "toy_first_turn"
BENCHMARK_SOURCE = '''
"""Benchmark: the first question and answer of every sample of one dataset, in English."""

import polars as pl

from evaluation.benchmarks.base import ITEM_SCHEMA, Benchmark


class FirstTurn(Benchmark):
    language = "en"
    description = "first question/answer of every sample of dataset 'toy' (English)"

    def __init__(self, dataset: str = "toy") -> None:
        self.dataset = dataset

    def items(self, warehouse) -> pl.DataFrame:
        turn = pl.col("turns").list
        question = turn.get(0).struct.field("text").str.replace_all("<image>", "").str.strip_chars()
        answer = turn.get(1).struct.field("text").str.strip_chars()
        yes_no = answer.str.to_lowercase().str.contains(r"^(yes|no)\\b")
        return (
            warehouse.read("samples", self.dataset)
            .sort("sample_id")
            .select(
                pl.col("sample_id").alias("item_id"),
                "image",
                question.alias("question"),
                answer.alias("answer"),
                question.alias("question_en"),
                answer.alias("answer_en"),
                pl.when(yes_no).then(pl.lit("yes/no")).otherwise(pl.lit("other")).alias("question_type"),
            )
            .cast(ITEM_SCHEMA)
        )
'''
BENCHMARK_LINE = ("toy_first_turn", f"{BENCHMARK_MODULE}:FirstTurn")

METHOD_MODULE = "toy_projector_only"
METHOD_SOURCE = '''
"""Training method: the projector alone; vision encoder and language model frozen (re-aligning the
image features to a language model that must not move)."""

from training.methods import Method, Stage

DEFAULT_LR = 1e-3  # when [training.methods.projector_only] sets no lr_projector


class ProjectorOnly(Method):
    def stages(self) -> list[Stage]:
        return [Stage("main", {"projector": self.config.lr_projector or DEFAULT_LR})]
'''
METHOD_LINE = ("projector_only", f"{METHOD_MODULE}:ProjectorOnly")


# ----------------------------------------------------------------------------------------- helpers
@contextmanager
def plugged(
    registry: Registry[Any], module: str, source: str, folder: Path, line: tuple[str, str] | None
) -> Iterator[None]:
    """Write `module` into `folder` (already on sys.path), add the registry line, and undo both after:
    the registry's entries are restored as they were (a `module:Class` name used directly is cached as an
    entry too) and the module is forgotten."""
    (folder / f"{module}.py").write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    before = dict(registry._targets)  # noqa: SLF001 - the registry has no public unregister
    if line is not None:
        registry.register(*line)  # THE one line
    try:
        yield
    finally:
        registry._targets.clear()  # noqa: SLF001
        registry._targets.update(before)  # noqa: SLF001
        sys.modules.pop(module, None)


def assert_restored(registry: Registry[Any], names_before: list[str], name: str) -> None:
    assert registry.names() == names_before
    with pytest.raises(UnknownEntry):
        registry.get(name)


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder for the user's plug-in modules, first on sys.path for this test only."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


TOY = [
    {
        "id": "a",
        "image": "a.png",
        "conversations": [
            {"from": "human", "value": "<image>\nWhat color is the shape?"},
            {"from": "gpt", "value": "The shape is red."},
        ],
    },
    {
        "id": "b",
        "image": "b.png",
        "conversations": [
            {"from": "human", "value": "Is there a circle in the image?"},
            {"from": "gpt", "value": "Yes, there is a circle."},
        ],
    },
    {
        "id": "c",
        "image": "c.png",
        "conversations": [
            {"from": "human", "value": "<image>\nWhat shape is in the image?"},
            {"from": "gpt", "value": "The shape is a triangle."},
        ],
    },
]


@pytest.fixture
def toy(tmp_path: Path, images: Path, warehouse: Warehouse) -> Warehouse:
    """A small warehouse: 3 LLaVA samples ingested and segmented by the real stages."""
    from vlmfr_data.ingest import ingest_dataset
    from vlmfr_data.segments import build_sample_segments, build_segments

    path = write_json(tmp_path / "toy.json", TOY)
    ingest_dataset(warehouse, DatasetConfig("toy", "llava", {"json": str(path), "image_root": str(images)}))
    build_sample_segments(warehouse, "toy")
    build_segments(warehouse)
    return warehouse


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vlmfr.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------ quality signal
FRENCH = {
    "What color is the shape?": "De quelle couleur est la forme ?",
    "The shape is red.": "La forme est rouge.",
    "Is there a circle in the image?": "Y a-t-il un cercle dans l'image ?",
    "Yes, there is a circle.": "Oui, il y a un cercle.",
    "What shape is in the image?": "Quelle forme y a-t-il dans l'image ?",
    "The shape is a triangle.": "La forme est un triangle.",
}


def test_a_new_quality_signal_scores_through_the_scoring_stage(
    toy: Warehouse, plugins: Path, tmp_path: Path
) -> None:
    from vlmfr_data.plugins import SIGNALS
    from vlmfr_data.quality.scoring import combine_scores, score_translations

    segments = toy.read("segments")
    assert set(segments["text_en"]) == set(FRENCH)
    fixture_translations(toy, "human_fr", FRENCH)  # good French
    fixture_translations(toy, "copier", {en: en for en in FRENCH})  # an engine that copies the source
    names_before = SIGNALS.names()
    with plugged(SIGNALS, SIGNAL_MODULE, SIGNAL_SOURCE, plugins, SIGNAL_LINE):
        assert "french_stopwords" in SIGNALS.names()
        config = load_config(
            write_config(
                tmp_path,
                """
                [quality]
                signals = { french_stopwords = {} }
                weights = { french_stopwords = 1.0 }
                """,
            )
        ).quality
        report = score_translations(toy, config)
        assert report.signals == {"french_stopwords": "ok: 12 new"}
        scores = toy.sql(
            "SELECT q.*, t.text_fr FROM quality_scores q JOIN translations t USING (segment_id, system) "
            "WHERE q.signal = 'french_stopwords'"
        )
        assert scores.height == 12  # one row per (segment, system)
        assert scores["signal_version"].unique().to_list() == ["1"]
        assert scores["value"].is_between(0.0, 1.0).all()
        assert scores["score"].drop_nulls().is_between(0.0, 1.0).all()
        by_system = {
            system: dict(group.select("text_fr", "score").iter_rows())
            for (system,), group in scores.group_by("system")
        }
        for en, fr in FRENCH.items():
            assert by_system["human_fr"][fr] > by_system["copier"][en], (en, fr)
        assert by_system["human_fr"]["La forme est rouge."] == 1.0  # la, est: 2 of 4 words
        status = toy.read("quality_signals").row(0, named=True)
        assert (status["signal"], status["status"], status["weight"]) == ("french_stopwords", "ok", 1.0)
        assert "stop-words" in status["description"]
        # the cache knows the signal: nothing new to score
        assert score_translations(toy, config).signals == {"french_stopwords": "ok: 0 new"}
        # the combined score is the signal's (the only weighted one): the French wins every segment
        quality = combine_scores(toy, config)
        best = quality.filter(pl.col("is_best"))
        assert best.height == segments.height and set(best["system"]) == {"human_fr"}
    assert_restored(SIGNALS, names_before, "french_stopwords")
    with pytest.raises(ValueError, match="unknown quality signals"):
        load_config(tmp_path / "vlmfr.toml")  # the config no longer knows the name either


# ---------------------------------------------------------------------------------------- MT backend
@pytest.mark.parametrize(
    "backend, line",
    [("word_table", MT_LINE), (MT_LINE[1], None)],
    ids=["registered", "module-class-in-config"],
)
def test_a_new_mt_backend_translates_segments_into_translations(
    toy: Warehouse, plugins: Path, tmp_path: Path, backend: str, line: tuple[str, str] | None
) -> None:
    from vlmfr_data.mt import create_system
    from vlmfr_data.mt.run import translate_segments
    from vlmfr_data.plugins import BACKENDS

    names_before = BACKENDS.names()
    with plugged(BACKENDS, MT_MODULE, MT_SOURCE, plugins, line):
        config = load_config(
            write_config(
                tmp_path,
                f"""
                [[mt_systems]]
                name = "words"
                backend = "{backend}"
                batch_size = 4
                options = {{ table = {{ shape = "forme", color = "couleur" }} }}
                """,
            )
        )
        system = create_system(config.mt_system("words"))
        assert system.name == "words" and system.backend == backend
        assert system.version.startswith("word-table-")
        segments = toy.read("segments")
        report = translate_segments(toy, system, batch_size=4)
        assert (report.todo, report.translated, report.failed) == (segments.height, segments.height, 0)
        assert report.batches == 2  # 6 segments in batches of 4
        rows = toy.read("translations")
        assert rows.height == segments.height and set(rows["system"]) == {"words"}
        assert rows["error"].null_count() == rows.height and rows["spans_ok"].all()
        french = dict(rows.join(segments, on="segment_id").select("text_en", "text_fr").iter_rows())
        assert french["What color is the shape?"] == "Quelle couleur est la forme?"
        assert french["Is there a circle in the image?"] == "Est il y a un cercle dans la image?"
        # the translations cache answers a second run
        assert translate_segments(toy, system, batch_size=4).todo == 0
    assert_restored(BACKENDS, names_before, "word_table")
    assert MT_MODULE not in sys.modules


# ----------------------------------------------------------------------------------------- benchmark
class _AlwaysYes:
    """A constant baseline: the same answer to every question (no model; what a majority answer does)."""

    name, kind, method, tier_set, mt_system, seed, version = (
        "always_yes",
        "baseline",
        None,
        None,
        None,
        None,
        "yes-1",
    )

    def predict(self, items: pl.DataFrame, batch_size: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "item_id": items["item_id"],
                "prediction": ["yes there is a circle"] * items.height,
                "question_mt_en": [None] * items.height,
                "prediction_en": [None] * items.height,
            },
            schema={
                name: pl.String() for name in ("item_id", "prediction", "question_mt_en", "prediction_en")
            },
        )


def test_a_new_benchmark_is_listed_loads_its_items_and_is_scored(toy: Warehouse, plugins: Path) -> None:
    from evaluation.benchmarks import BENCHMARKS, ITEM_SCHEMA, configured_benchmarks
    from evaluation.run import evaluate
    from vlmfr_data.config import ProjectConfig

    names_before = BENCHMARKS.names()
    with plugged(BENCHMARKS, BENCHMARK_MODULE, BENCHMARK_SOURCE, plugins, BENCHMARK_LINE):
        assert "toy_first_turn" in BENCHMARKS.names()
        project = ProjectConfig(datasets=[], mt_systems=[])
        assert configured_benchmarks(project, ["toy_first_turn"]) == ["toy_first_turn"]
        benchmark = BENCHMARKS.create("toy_first_turn")
        assert benchmark.describe()["name"] == "toy_first_turn" and benchmark.language == "en"
        items = benchmark.items(toy)
        assert items.schema == pl.Schema(ITEM_SCHEMA)
        assert items["item_id"].to_list() == ["a", "b", "c"]
        assert items["question"].to_list() == [
            "What color is the shape?",
            "Is there a circle in the image?",
            "What shape is in the image?",
        ]
        assert items["question_type"].to_list() == ["other", "yes/no", "other"]
        version = benchmark.version(items)
        assert version.startswith("toy_first_turn-v1-") and version == benchmark.version(benchmark.items(toy))

        result = evaluate(toy, _AlwaysYes(), "toy_first_turn", resamples=100)
        scored = result.predictions.sort("item_id")
        # against "Yes, there is a circle.": equal once case and punctuation are normalised; nothing else is
        assert scored["correct"].to_list() == [False, True, False]
        row = result.row
        assert (row["benchmark"], row["n"], row["correct"]) == ("toy_first_turn", 3, 1)
        assert row["accuracy"] == pytest.approx(1 / 3) and 0.0 <= row["ci_low"] <= row["ci_high"] <= 1.0
        assert {t["question_type"]: t["accuracy"] for t in row["by_type"]} == {"other": 0.0, "yes/no": 1.0}
        stored = toy.sql("SELECT benchmark, n, correct FROM evaluations")
        assert stored.rows() == [("toy_first_turn", 3, 1)]
        assert evaluate(toy, _AlwaysYes(), "toy_first_turn", resamples=100).cached  # predictions reused
    assert_restored(BENCHMARKS, names_before, "toy_first_turn")


# ----------------------------------------------------------------------------------- training method
def test_a_new_training_method_trains_only_its_parts(toy: Warehouse, plugins: Path) -> None:
    import torch

    from training.config import MethodConfig, MiniConfig
    from training.methods import apply_stage, create_method
    from training.registry import FAMILIES, METHODS

    names_before = METHODS.names()
    with plugged(METHODS, METHOD_MODULE, METHOD_SOURCE, plugins, METHOD_LINE):
        assert "projector_only" in METHODS.names()
        assert create_method("projector_only", MethodConfig()).stages()[0].lrs == {"projector": 1e-3}
        recipe = create_method("projector_only", MethodConfig(lr_projector=5e-3))
        assert recipe.name == "projector_only"
        (stage,) = recipe.stages()

        torch.manual_seed(0)
        family = FAMILIES.create("mini")
        samples = toy.read("samples", "toy").sort("sample_id")
        examples = samples.select(
            "image",
            pl.col("turns")
            .list.eval(
                pl.struct(
                    pl.element().struct.field("role").alias("from"),
                    pl.element().struct.field("text").alias("value"),
                )
            )
            .alias("conversations"),
            pl.lit(1.0).alias("weight"),
        )
        texts = [t["value"] for c in examples["conversations"].to_list() for t in c]
        model = family.create(MiniConfig.tiny(), texts)
        groups = apply_stage(family, model, stage, recipe.config)
        assert [(g["part"], g["lr"]) for g in groups] == [("projector", 5e-3)]
        projector = {id(p) for p in model.projector.parameters()}
        assert {id(p) for p in groups[0]["params"]} == projector
        trainable = {id(p) for p in model.parameters() if p.requires_grad}
        assert trainable == projector  # lr-0 parts (vision, language, head) have requires_grad=False

        # one optimizer step on the family's own loss: the projector moves, nothing else does
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        data = family.prepare(model, examples, toy)
        optimizer = torch.optim.AdamW(groups)
        loss = family.per_sample_loss(model, data.batch(torch.arange(len(data)))).mean()
        loss.backward()
        optimizer.step()
        changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
        assert changed and all(n.startswith("projector.") for n in changed), changed
        assert all(p.grad is None for n, p in model.named_parameters() if not n.startswith("projector."))
    assert_restored(METHODS, names_before, "projector_only")
