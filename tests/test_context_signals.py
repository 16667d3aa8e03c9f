"""Short segments in context, engine unknown-word marks, consensus, the Catalan pivot, the caption gold."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from vlmfr_data.config import CAPTION_GOLD, MTSystemConfig, default_config
from vlmfr_data.mt import create_system
from vlmfr_data.mt.apertium import strip_marks
from vlmfr_data.mt.context import context_key, in_context, recover_span, vote
from vlmfr_data.mt.run import translate_batch
from vlmfr_data.quality.consensus import Consensus
from vlmfr_data.quality.engine_marks import EngineUnknownWords
from vlmfr_data.quality.gold import load_gold, weighted_spearman
from vlmfr_data.segments import protected_spans

needs_apertium = pytest.mark.skipif(shutil.which("apertium") is None, reason="apertium not installed")
needs_catalan = pytest.mark.skipif(
    not Path("/usr/share/apertium/modes/eng-cat.mode").exists(), reason="apertium-eng-cat not installed"
)


def test_in_context_keeps_case_or_writes_a_sentence() -> None:
    assert in_context("is there a circle?", "no") == "is there a circle? no"
    assert in_context("the shape", "red") == "the shape. red"
    assert in_context("is there a circle?", "no", sentence_case=True) == "Is there a circle? No."


def test_recover_span_takes_the_last_sentence_in_the_source_case() -> None:
    assert recover_span("Y a-t-il un cercle ? Non.", "no") == "non"
    assert recover_span("Il est là un cercle? ne", "no") == "ne"
    assert (
        recover_span("Quelle forme ? Un grand cercle bleu.", "A big blue circle.") == "Un grand cercle bleu."
    )
    # the engine merged the answer into the question: nothing to recover
    assert recover_span("Est-ce que la photo est en rouge ?", "red") is None
    # a "span" far longer than its source took the context with it
    assert recover_span("Oui. " + "mot " * 20, "yes") is None
    assert recover_span(None, "yes") is None


def test_vote_weights_contexts_and_breaks_ties_by_the_first() -> None:
    assert vote(["non", "Non.", "ne"], [10, 5, 12]) == "non"  # 15 against 12, case and dot aside
    assert vote(["ne", "non"], [5, 5]) == "ne"
    assert vote([None, None], [1, 2]) is None
    assert context_key([]) == "" and context_key(["a?"]) != context_key(["b?"])


class _EchoLast:
    """An engine that answers each input with a fixed French rendering of its last word (tiny, offline)."""

    name = "echo"
    backend = "test"
    source_lang, target_lang = "en", "fr"
    masked_kinds = frozenset({"url"})
    sentinel = "XQZ{}"
    cost_per_call = 0.0
    version = "1"
    context_style = "sentence"
    words = {"no.": "Y a-t-il un cercle ? Non.", "no": "pas de"}

    def translate(self, texts: list[str]) -> list[str]:
        return [self.words.get(t.split()[-1].lower(), t) for t in texts]


def _batch(text: str, contexts: list[str] | None, weights: list[int] | None) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "segment_id": ["s1"],
            "text_en": [text],
            "protected_spans": [protected_spans(text)],
            "contexts_en": [contexts],
            "context_weights": [weights],
            "context_key": [context_key(contexts or [])],
        },
        schema_overrides={"contexts_en": pl.List(pl.String()), "context_weights": pl.List(pl.Int64())},
    )


def test_translate_batch_uses_the_context_span_and_falls_back_alone() -> None:
    rows = translate_batch(_EchoLast(), _batch("no", ["is there a circle?"], [3]))  # type: ignore[arg-type]
    assert rows["text_fr"].to_list() == ["non"]
    assert rows["candidates_fr"].to_list() == [["non"]]
    assert rows["contexts_en"].to_list() == [["is there a circle?"]]
    alone = translate_batch(_EchoLast(), _batch("no", None, None))  # type: ignore[arg-type]
    assert alone["text_fr"].to_list() == ["pas de"]
    assert alone["candidates_fr"].to_list() == [None]
    assert alone["unknown_words"].to_list() == [None]  # this engine cannot mark


@needs_apertium
def test_apertium_recovers_the_answer_span_in_context() -> None:
    pivots: list[dict[str, object]] = [{}]
    if Path("/usr/share/apertium/modes/eng-cat.mode").exists():
        pivots.append({"modes": ["eng-cat", "cat-fra"]})
    for options in pivots:
        system = create_system(MTSystemConfig("ap", "apertium", options=options))
        rows = translate_batch(
            system, _batch("circle", ["what shape is in the image?", "what shape is present?"], [5, 3])
        )
        assert rows["candidates_fr"].to_list() == [["cercle", "cercle"]]
        assert rows["text_fr"].to_list() == ["cercle"]


def test_strip_marks_keeps_text_that_the_input_had() -> None:
    assert strip_marks("Un *teal la voiture", "A teal car") == ("Un teal la voiture", ["*teal"])
    assert strip_marks("**teal", "*teal") == ("**teal", [])  # the input already had a '*' before a word
    assert strip_marks("écrire à anna@example.org #1", "write to anna@example.org #1") == (
        "écrire à anna@example.org #1",
        [],
    )
    assert strip_marks("@foo et #bar", "foo and bar") == ("foo et bar", ["@foo", "#bar"])


@needs_apertium
def test_apertium_reports_unknown_words_and_keeps_the_text_clean() -> None:
    system = create_system(MTSystemConfig("ap", "apertium"))
    texts, marks = system.translate_marked(["teal", "What shape is in the image? rectangle.", "red"])  # type: ignore[attr-defined]
    assert texts[0] == "teal" and marks[0] == ["*teal"]
    assert "*" not in texts[1] and marks[1] == ["*Rectángulo"]
    assert marks[2] == []


@needs_catalan
def test_the_catalan_pivot_translates() -> None:
    system = create_system(
        MTSystemConfig("apertium_cat", "apertium", options={"modes": ["eng-cat", "cat-fra"]})
    )
    assert system.availability().ok
    assert system.translate(["yes", "red"]) == ["oui", "rouge"]
    assert "apertium_cat" in [s.name for s in default_config().mt_systems]


def _pairs(rows: list[tuple[str, str, str]], marks: list[list[str] | None] | None = None) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "segment_id": [r[0] for r in rows],
            "system": [r[1] for r in rows],
            "system_version": ["1"] * len(rows),
            "kind": ["answer"] * len(rows),
            "text_en": ["x"] * len(rows),
            "text_fr": [r[2] for r in rows],
            "spans_ok": [True] * len(rows),
        }
    )
    if marks is not None:
        frame = frame.with_columns(pl.Series("unknown_words", marks, dtype=pl.List(pl.String())))
    return frame


def test_consensus_rewards_agreement_across_engines() -> None:
    pairs = _pairs(
        [("s", "ap_es", "soi"), ("s", "ap_cat", "oui"), ("s", "llm", "oui"), ("t", "llm", "rouge")]
    )
    signal = Consensus(
        backends={"ap_es": "apertium", "ap_cat": "apertium", "llm": "hf"}, same_backend_weight=1.0
    )
    signal.bind(pairs)
    scores = signal.score(pairs)["score"].to_list()
    assert (
        scores[1] > scores[0] and scores[2] > scores[0]
    )  # "oui" agrees with another engine, "soi" with none
    assert scores[3] is None  # no other system translated "t"
    # the same backend's agreement does not count at weight 0: two Apertium "ne" against an LLM's "non"
    pairs = _pairs([("s", "ap_es", "ne"), ("s", "ap_cat", "ne"), ("s", "llm", "non")])
    independent = Consensus(backends={"ap_es": "apertium", "ap_cat": "apertium", "llm": "hf"})
    independent.bind(pairs)
    first, _, third = independent.score(pairs)["score"].to_list()
    counted = Consensus(
        backends={"ap_es": "apertium", "ap_cat": "apertium", "llm": "hf"}, same_backend_weight=1.0
    )
    counted.bind(pairs)
    assert counted.score(pairs)["score"][0] > first  # agreement of the two pivots lifted "ne"
    assert third is not None and third > 0  # "non" is scored against both "ne" (other engine)
    assert independent.version != counted.version


def test_engine_unknown_words_only_penalises_and_gates_untranslated() -> None:
    pairs = _pairs(
        [
            ("a", "ap", "teal"),
            ("b", "ap", "un chat sur le tapis rouge et bleu"),
            ("c", "ap", "rouge"),
            ("d", "llm", "x"),
        ],
        marks=[["*teal"], ["*tapis"], [], None],
    )
    scores = EngineUnknownWords().score(pairs)
    assert scores["gate"].to_list() == ["engine_unknown", None, None, None]
    assert scores["score"][1] == pytest.approx((1 - 1 / 8) ** 2)
    assert scores["score"][2] is None and scores["score"][3] is None  # no marks: no evidence either way


def test_weighted_spearman_counts_occurrences() -> None:
    x, y = pl.Series([1.0, 2.0, 3.0]), pl.Series([1.0, 3.0, 2.0])
    assert weighted_spearman(x, y, pl.Series([1.0, 1.0, 1.0])) == pytest.approx(0.5)
    # the concordant pair (1, 1) carries most of the data: the weighted rank correlation rises
    assert weighted_spearman(x, y, pl.Series([10.0, 1.0, 1.0])) > 0.5  # type: ignore[operator]


def test_caption_gold_ships_with_provenance() -> None:
    gold = load_gold(CAPTION_GOLD)
    assert gold.height >= 150 and gold["segment_id"].n_unique() == gold.height
    raw = pl.read_csv(CAPTION_GOLD)
    assert raw["provenance"].null_count() == 0 and set(raw["category"]) >= {"caption", "numbers", "negation"}
    assert [g.name for g in default_config().gold or []] == ["easy_vqa", "captions_dev"]


def test_segment_contexts_rank_what_a_short_segment_follows(tmp_path: Path, images: Path, warehouse) -> None:  # noqa: ANN001
    from tests.conftest import write_json
    from vlmfr_data.config import DatasetConfig
    from vlmfr_data.ingest import ingest_dataset
    from vlmfr_data.segments import build_sample_segments, build_segment_contexts, build_segments

    def sample(i: int, *turns: str) -> dict[str, object]:
        roles = ["human", "gpt"] * len(turns)
        return {
            "id": f"s{i}",
            "image": "a.png",
            "conversations": [{"from": r, "value": t} for r, t in zip(roles, turns, strict=False)],
        }

    records = [
        sample(0, "Is there a circle?", "no"),
        sample(1, "Is there a circle?", "no"),
        sample(2, "Is there a square?", "no", "What color is it?", "The shape is red and round."),
        sample(3, "What color is it?", "red"),
    ]
    path = write_json(tmp_path / "toy.json", records)
    ingest_dataset(warehouse, DatasetConfig("toy", "llava", {"json": str(path), "image_root": str(images)}))
    build_sample_segments(warehouse, "toy")
    build_segments(warehouse)
    contexts = build_segment_contexts(warehouse)
    by_text = warehouse.sql(
        "SELECT s.text_en, c.rank, c.context_en, c.n_occurrences FROM segment_contexts c "
        "JOIN segments s USING (segment_id) ORDER BY 1, 2"
    )
    assert by_text.rows() == [
        ("no", 1, "Is there a circle?", 2),
        ("no", 2, "Is there a square?", 1),
        ("red", 1, "What color is it?", 1),
    ]  # the 6-word answer is not short; the questions have nothing before them
    assert contexts.height == 3


@pytest.mark.parametrize("family", ["marian", "llama"])
def test_hf_backends_translate_short_segments_in_context(tmp_path: Path, family: str) -> None:
    """The real loading and generation path of both HF backends (tiny random models built here): each
    context is one more engine input, written as a sentence, and the span of each output is recovered
    (a random model's output is noise: what is checked is the mechanism, output by output)."""
    from tests.tiny_models import tiny_llama, tiny_marian

    path = (tiny_marian if family == "marian" else tiny_llama)(tmp_path / family)
    backend = "hf_seq2seq" if family == "marian" else "hf_causal"
    system = create_system(MTSystemConfig(family, backend, {"model": str(path), "max_new_tokens": 8}))
    seen: list[str] = []
    translate = system.translate

    def recording(texts: list[str]) -> list[str]:
        seen.extend(texts)
        return translate(texts)

    system.translate = recording  # type: ignore[method-assign]
    contexts = ["what color is the shape?", "is there a circle?"]
    rows = translate_batch(system, _batch("red", contexts, [2, 1]))
    assert seen == ["red", "What color is the shape? Red.", "Is there a circle? Red."]
    from vlmfr_data.mt.tidy import tidy

    outputs = [tidy(out) for out in translate(seen)]  # what the runner does to every output
    expected = [recover_span(out, "red") for out in outputs[1:]]
    assert rows["candidates_fr"].to_list() == [expected]
    assert rows["text_fr"].to_list() == [vote(expected, [2, 1]) or outputs[0]]


@needs_catalan
def test_round_trip_goes_back_through_another_engine_than_the_producer() -> None:
    from vlmfr_data.quality.round_trip import RoundTripChrF

    producers = {
        "ap_es": {"backend": "apertium", "modes": ["eng-spa", "es-fr"]},
        "ap_cat": {"backend": "apertium", "modes": ["eng-cat", "cat-fra"]},
        "llm": {"backend": "hf_causal", "modes": None},
    }
    signal = RoundTripChrF(producers=producers)
    assert signal.back_system("ap_es").name == "apertium_cat_fr_en"  # not its own fr-es | spa-eng
    assert signal.back_system("ap_cat").name == "apertium_fr_en"
    assert signal.back_system("llm").name == "apertium_fr_en"  # no reverse of its own: the first
    scores = signal.score(_pairs([("s", "ap_es", "ne"), ("s", "ap_cat", "ne")]))
    assert scores["detail"].str.split(":").list.first().to_list() == ["apertium_cat_fr_en", "apertium_fr_en"]
    # one configured engine (the older option) serves every translation
    one = RoundTripChrF(
        back_translation={"name": "only", "backend": "apertium", "options": {"modes": ["fr-es", "spa-eng"]}},
        producers=producers,
    )
    assert {one.back_system(p).name for p in producers} == {"only"}
