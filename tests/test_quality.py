"""Quality signals on known good and bad pairs, the combined score and gates, tiers, corpora, GX suites."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from tests.conftest import fixture_translations, write_json
from tests.test_mt import needs_apertium
from vlmfr_data.config import DatasetConfig, MTSystemConfig
from vlmfr_data.corpora import export_corpus
from vlmfr_data.ingest import ingest_dataset
from vlmfr_data.mt import create_system
from vlmfr_data.mt.run import translate_segments
from vlmfr_data.quality import SIGNALS
from vlmfr_data.quality.base import PAIRS_SCHEMA
from vlmfr_data.quality.config import QualityConfig
from vlmfr_data.quality.figures import build_quality_figures
from vlmfr_data.quality.french_samples import build_french_samples
from vlmfr_data.quality.gold import evaluate_against_gold, load_gold
from vlmfr_data.quality.scoring import combine_scores, score_translations
from vlmfr_data.report import write_report
from vlmfr_data.segments import build_sample_segments, build_segments, segments_from_texts
from vlmfr_data.store import Warehouse


def pairs(*rows: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "segment_id": f"s{i}",
                "system": "t",
                "system_version": "1",
                "kind": "question",
                "text_en": en,
                "text_fr": fr,
                "spans_ok": True,
            }
            for i, (en, fr) in enumerate(rows)
        ],
        schema=PAIRS_SCHEMA,
    )


GOOD = ("What color is the shape in the image?", "De quelle couleur est la forme dans l'image ?")
ENGLISH_COPY = ("What color is the shape in the image?", "What color is the shape in the image?")


def test_lid_rejects_an_english_copy_and_skips_one_word_answers() -> None:
    scores = SIGNALS.create("lid_french").score(pairs(GOOD, ENGLISH_COPY, ("no", "non")))
    assert scores["score"][0] > 0.9 and scores["gate"][0] is None
    assert scores["score"][1] < 0.1 and scores["gate"][1] == "wrong_language"
    assert scores["score"][2] is None and scores["gate"][2] is None  # "non" reads as Italian to fastText


def test_language_leakage_finds_spanish_words() -> None:
    scores = SIGNALS.create("language_leakage").score(
        pairs(GOOD, ("Is there a rectangle?", "Il est là un rectángulo ?"))
    )
    assert scores["value"][0] == 0.0
    assert scores["value"][1] > 0 and "rectángulo" in scores["detail"][1]


@needs_apertium
def test_french_lexicon_flags_unknown_words() -> None:
    scores = SIGNALS.create("french_lexicon").score(
        pairs(GOOD, ("teal", "teal"), ("what", "Le schape eit tbe cata."))
    )
    assert scores["score"][0] == 1.0
    assert scores["score"][1] == 0.0 and scores["detail"][1] == "teal"
    assert scores["score"][2] < 0.5 and "tbe" in scores["detail"][2]


def test_use_similarity_separates_translation_from_unrelated() -> None:
    scores = SIGNALS.create("use_similarity").score(
        pairs(GOOD, (GOOD[0], "Le chien court dans le parc en hiver."))
    )
    assert scores["score"][0] > 0.6 > 0.3 > scores["score"][1]


@needs_apertium
def test_round_trip_chrf_prefers_the_faithful_translation() -> None:
    scores = SIGNALS.create("round_trip_chrf").score(pairs(GOOD, (GOOD[0], "Le chien court dans le parc.")))
    assert scores["value"][0] > scores["value"][1] + 20
    assert "image" in scores["detail"][0].lower()  # the back-translation itself is kept


def test_heuristics_gate_broken_image_empty_and_copies() -> None:
    frame = pairs(
        ("<image> What is in the picture?", "Qu'y a-t-il dans l'image ?"),  # <image> dropped
        ("Describe it.", " ... "),
        ("Is there a red circle here?", "is there a red circle here ?"),
        ("rectangle", "rectangle"),
        GOOD,
    )
    spans = SIGNALS.create("spans_intact").score(frame)
    assert spans["gate"].to_list() == ["broken_spans", None, None, None, None]
    assert SIGNALS.create("empty_output").score(frame)["gate"].to_list() == [
        None,
        "empty_output",
        None,
        None,
        None,
    ]
    copy = SIGNALS.create("source_copy").score(frame)["gate"].to_list()
    assert copy == [None, None, "copy_of_source", None, None]  # a one-word copy ("rectangle") is legitimate
    rep = SIGNALS.create("repetition").score(
        pairs(("x", "le le le chat"), ("x", "d'e-t-il a-t-il d'e-t-il a-t-il d'e-t-il"))
    )
    assert rep["value"][0] == 1.0 and rep["value"][1] > 0.3
    ratio = SIGNALS.create("length_ratio").score(pairs(GOOD, (GOOD[0], "Oui."), ("yes", "oui")))
    assert ratio["score"][0] > 0.8 > 0.2 > ratio["score"][1] and ratio["score"][2] is None


def test_comet_is_skipped_with_a_reason_without_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLMFR_COMET_CHECKPOINT", raising=False)
    availability = SIGNALS.create("comet").availability()
    assert not availability.ok and "no COMET checkpoint configured" in availability.reason


def test_quality_config_validates_thresholds() -> None:
    with pytest.raises(ValueError, match="high >= medium >= low"):
        QualityConfig(thresholds={"high": 0.5, "medium": 0.7, "low": 0.2})


def test_gold_covers_every_easy_vqa_segment() -> None:
    import easy_vqa

    gold = load_gold()
    questions, _, _ = easy_vqa.get_train_questions()
    distinct = set(questions) | set(easy_vqa.get_answers())
    assert set(gold["text_en"]) == distinct and gold.height == 120
    assert gold["reference"].str.len_chars().min() > 0


LLAVA = [
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
            {"from": "human", "value": "What color is the shape?"},
            {"from": "gpt", "value": "The circle is blue."},
        ],
    },
]


@needs_apertium
def test_end_to_end_tiers_best_system_and_corpora(tmp_path: Path, images: Path, warehouse: Warehouse) -> None:
    path = write_json(tmp_path / "llava.json", LLAVA)
    ingest_dataset(warehouse, DatasetConfig("toy", "llava", {"json": str(path), "image_root": str(images)}))
    build_sample_segments(warehouse, "toy")
    build_segments(warehouse)
    translate_segments(warehouse, create_system(MTSystemConfig("apertium", "apertium")))
    # a second system: perfect on two segments, an English copy on a third
    fixture_translations(
        warehouse,
        "human",
        {
            "What color is the shape?": "De quelle couleur est la forme ?",
            "The circle is blue.": "Le cercle est bleu.",
            "Is there a circle in the image?": "Y a-t-il un cercle dans l'image ?",
            "Yes, there is a circle.": "Yes, there is a circle.",
        },
    )
    config = QualityConfig(signals={k: v for k, v in QualityConfig().signals.items() if k != "comet"})
    report = score_translations(warehouse, config)
    assert all(status.startswith("ok") for status in report.signals.values())
    again = score_translations(warehouse, config)  # the cache answers: nothing rescored
    assert all(status == "ok: 0 new" for status in again.signals.values())
    quality = combine_scores(warehouse, config)
    copy = quality.filter((pl.col("system") == "human") & pl.col("text_fr").str.starts_with("Yes"))
    assert copy["tier"].to_list() == ["rejected"] and "wrong_language" in copy["gates"][0]
    best = dict(quality.filter(pl.col("is_best")).select("text_fr", "system").iter_rows())
    # the best translation of a segment is its highest combined score, ungated ones first (a tie goes to
    # the first system by name). Which system that is depends on the scorers: the round trip runs through
    # Apertium's own pairs and rates its "Il est là un cercle dans l'image?" above "Y a-t-il un cercle ...".
    ranked = quality.with_columns((pl.col("gates").list.len() > 0).alias("gated"))  # gated only if all are
    expected = (
        ranked.sort(["gated", "combined", "system"], descending=[False, True, False], nulls_last=True)
        .group_by("segment_id", maintain_order=True)
        .first()
    )
    chosen = quality.filter(pl.col("is_best")).select("segment_id", "system")
    assert dict(chosen.iter_rows()) == dict(expected.select("segment_id", "system").iter_rows())
    assert quality.filter(pl.col("is_best")).height == warehouse.read("segments").height
    assert all(
        s != "human" for t, s in best.items() if t.startswith("Yes")
    )  # a gated translation is never best

    # the share of high occurrences whose other engine wrote something else, by hand: the GX warn suite's input
    from vlmfr_data.validation import _high_tier_agreement

    def norm(col: str) -> pl.Expr:
        return pl.col(col).str.to_lowercase().str.replace_all(r"[[:punct:]\s]+", " ").str.strip_chars()

    occ = warehouse.read("segments").select("segment_id", "n_occurrences")
    high = quality.filter(pl.col("is_best") & (pl.col("tier") == "high")).join(occ, on="segment_id")
    other = quality.select("segment_id", pl.col("system").alias("o_system"), pl.col("text_fr").alias("o_fr"))
    differs = (
        high.join(other, on="segment_id")
        .filter(pl.col("o_system") != pl.col("system"))
        .filter(norm("o_fr") != norm("text_fr"))["segment_id"]
        .unique()
    )
    expected = high.filter(pl.col("segment_id").is_in(differs.implode()))["n_occurrences"].sum()
    agreement = _high_tier_agreement(warehouse).row(0, named=True)
    assert agreement["high_occurrences"] == high["n_occurrences"].sum() > 0
    assert agreement["disagreeing_share"] == pytest.approx(expected / high["n_occurrences"].sum())

    # in hash buckets of one sample (memory per bucket) the samples are the same as in one go
    assert build_french_samples(warehouse, "toy", samples_per_batch=1) == 2
    bucketed = warehouse.read("french_samples", "toy").sort("sample_id")
    assert build_french_samples(warehouse, "toy") == 2
    french = warehouse.read("french_samples", "toy")
    assert bucketed.equals(french.sort("sample_id"))
    a = french.filter(pl.col("sample_id") == "a").row(0, named=True)
    assert a["turns"][0]["text"].startswith("<image>\n") and a["turns"][0]["role"] == "human"
    assert [t["role"] for t in french.filter(pl.col("sample_id") == "b")["turns"][0]] == [
        "human",
        "gpt",
        "human",
        "gpt",
    ]
    ranks = {"high": 0, "medium": 1, "low": 2, "rejected": 3}
    worst = quality.filter(pl.col("is_best")).select(pl.col("tier").replace_strict(ranks)).max().item()
    assert max(ranks[t] for t in french["tier"]) <= worst
    tiers = warehouse.sql("SELECT tier, samples FROM tier_summary")
    assert tiers["samples"].sum() == 2

    # gold evaluation, figures and the report, from a small gold file for this toy dataset
    gold_csv = tmp_path / "gold.csv"
    pl.DataFrame(
        {
            "text_en": ["What color is the shape?", "The circle is blue."],
            "text_fr": ["De quelle couleur est la forme ?", "Le cercle est bleu."],
        }
    ).write_csv(gold_csv)
    results = evaluate_against_gold(warehouse, load_gold(gold_csv))
    summary = {r["system"]: r for r in results["summary"].iter_rows(named=True)}
    assert summary["human"]["chrf"] == pytest.approx(100.0) and summary["human"]["share_gold_high"] == 1.0
    # per occurrence: each gold-high flag weighted by how often its segment occurs ("What color is the
    # shape?" twice, "The circle is blue." once)
    pairs = results["pairs"]
    counts = dict(warehouse.read("segments").select("text_en", "n_occurrences").iter_rows())
    assert dict(pairs.select("text_en", "n_occurrences").unique().iter_rows()) == {
        t: counts[t] for t in ("What color is the shape?", "The circle is blue.")
    }
    # the oracle takes the best gold chrF per segment; consensus the most agreeing translation
    oracle = pairs.sort(["segment_id", "chrf", "system"], descending=[False, True, False]).unique(
        "segment_id", keep="first"
    )
    chosen = {
        "selected": pairs.filter(pl.col("is_best")),
        "oracle": oracle,
        "consensus": pairs.filter("is_consensus"),
    }
    assert set(summary) == {"apertium", "human", *chosen}
    assert summary["oracle"]["chrf"] == pytest.approx(100.0)  # the human references are perfect here
    assert pairs.filter("is_consensus")["segment_id"].n_unique() == pairs["segment_id"].n_unique() == 2
    for system, row in summary.items():
        rows = chosen.get(system, pairs.filter(pl.col("system") == system))
        weights = rows["n_occurrences"]
        assert row["occurrences"] == weights.sum()
        expected = (rows["gold_high"].cast(pl.Int64) * weights).sum() / weights.sum()
        assert row["share_gold_high_occ"] == pytest.approx(expected)
    assert summary["selected"]["pairs"] == 2  # one chosen translation per gold segment
    tiers = warehouse.sql("SELECT * FROM gold_tiers")
    assert tiers["segments"].sum() == 2 and tiers["occurrences"].sum() == summary["selected"]["occurrences"]
    ablation = results["ablation"]
    assert ablation["gold_precision_occ"].drop_nulls().is_between(0, 1).all()
    assert summary["apertium"]["pairs"] == 2 and 0 < summary["apertium"]["chrf"] < 100
    assert "combined" in set(results["correlations"]["signal"])
    figures = build_quality_figures(warehouse, config)
    report = write_report(warehouse, figures)
    text = report.read_text()
    for section in ("MT systems", "Quality signals", "French samples per tier", "Spearman", "Hard gates"):
        assert section in text
    assert len(figures) == 4 and all(path.stat().st_size > 5000 for _, path in figures)
    ablation = results["ablation"]
    assert ablation["samples"].is_sorted(descending=True) and ablation["samples"][0] <= 2
    assert "Threshold ablation" in text

    # export every tier cut; the cumulative corpus holds everything not rejected
    warehouse.write_partition("french_samples", french.with_columns(pl.lit("medium").alias("tier")), "toy")
    high = export_corpus(warehouse, "high", config.thresholds)
    assert high.samples == 0 and json.loads((high.folder / "llava.json").read_text()) == []
    assert "conversations" in pq.read_table(high.folder / "samples.parquet").column_names  # empty, typed
    one_by_one = export_corpus(warehouse, "high+medium", config.thresholds, batch_rows=1)
    streamed = json.loads((one_by_one.folder / "llava.json").read_text())
    corpus = export_corpus(warehouse, "high+medium", config.thresholds)
    records = json.loads((corpus.folder / "llava.json").read_text())
    assert [r["id"] for r in records] == ["toy/train/a", "toy/train/b"]
    assert streamed == records  # batch by batch writes the same corpus
    first_turns = [r["conversations"][0]["value"] for r in records]
    assert all(t.count("<image>") == 1 for t in first_turns)  # kept where it was, added where missing
    assert first_turns[1].startswith("<image>\n")
    assert [c["from"] for c in records[1]["conversations"]] == ["human", "gpt", "human", "gpt"]
    image_folder = corpus.folder / json.loads((corpus.folder / "manifest.json").read_text())["image_folder"]
    assert all((image_folder / r["image"]).exists() for r in records)
    table = pq.read_table(corpus.folder / "samples.parquet")
    assert table.num_rows == 2 and "conversations" in table.column_names
    manifest = json.loads((corpus.folder / "manifest.json").read_text())
    assert manifest["samples"] == 2 and manifest["tiers"] == ["high", "medium"]
    assert (
        set(manifest["mt_systems"]) <= {"apertium", "human"} and manifest["thresholds"] == config.thresholds
    )


def test_gx_suite_catches_lost_image_token(warehouse: Warehouse) -> None:
    from vlmfr_data.validation import run_suite

    frame = pl.DataFrame(
        {
            "dataset": ["d", "d"],
            "split": ["s", "s"],
            "sample_id": ["1", "2"],
            "tier": ["high", "low"],
            "image_tokens_match": [True, False],
        }
    )
    outcome = run_suite(warehouse, "french_samples_invariants", frame)
    assert not outcome.success and outcome.severity == "error"
    assert [f["column"] for f in outcome.failures] == ["image_tokens_match"]
    assert outcome.docs_url and Path(outcome.docs_url.removeprefix("file://")).exists()
    ok = run_suite(
        warehouse, "french_samples_invariants", frame.with_columns(pl.lit(True).alias("image_tokens_match"))
    )
    assert ok.success


def test_quality_config_rejects_unknown_signals() -> None:
    with pytest.raises(ValueError, match="unknown quality signals \\['comett'\\]"):
        QualityConfig(weights={"comett": 1.0})


def test_comet_real_loading_and_scoring_path_on_a_tiny_checkpoint(tmp_path: Path) -> None:
    from tests.tiny_models import tiny_comet_checkpoint

    checkpoint = tiny_comet_checkpoint(tmp_path / "tiny-cometkiwi")
    signal = SIGNALS.create("comet", checkpoint=str(checkpoint))
    assert signal.availability().ok and signal.version.startswith("tiny-cometkiwi:")
    scores = signal.score(pairs(GOOD, ENGLISH_COPY, ("yes", "oui")))
    assert signal.reference_free and type(signal.model).__name__ == "ReferencelessRegression"
    assert scores.height == 3 and scores["value"].null_count() == 0
    assert all(0.0 <= s <= 1.0 for s in scores["score"])
    again = signal.score(pairs(GOOD))
    assert again["value"][0] == pytest.approx(scores["value"][0], abs=1e-5)  # deterministic in eval mode


def test_scoring_reports_progress(warehouse: Warehouse, caplog: pytest.LogCaptureFixture) -> None:
    """Long scoring shows items done, rate and ETA per batch on the `vlmfr.progress` logger."""
    import logging

    warehouse.write_partition(
        "segments",
        segments_from_texts(["one red circle", "two blue squares", "a green shape"]),
    )
    fixture_translations(
        warehouse,
        "manual",
        {
            "one red circle": "un cercle rouge",
            "two blue squares": "deux carrés bleus",
            "a green shape": "une forme verte",
        },
    )
    with caplog.at_level(logging.INFO, logger="vlmfr.progress"):
        score_translations(warehouse, QualityConfig(signals={"length_ratio": {}}), batch_rows=1)
    lines = [r.getMessage() for r in caplog.records if r.name == "vlmfr.progress"]
    assert any(line.startswith("score length_ratio: 3/3 pairs (100%)") for line in lines)


def _validate_repeatedly(home: str, rounds: int) -> list[bool]:
    from vlmfr_data.validation import run_suite

    frame = pl.DataFrame(
        {
            "segment_id": ["a", "b"],
            "system": ["s", "s"],
            "system_version": ["1", "1"],
            "text_fr": ["x", "y"],
            "error": [None, None],
            "spans_ok": [True, True],
            "has_output_or_error": [True, True],
        },
        schema_overrides={"error": pl.String()},
    )
    return [
        run_suite(Warehouse(Path(home)), "translations_drift", frame=frame).success for _ in range(rounds)
    ]


def test_gx_suites_checked_at_once_by_two_processes_all_run(tmp_path: Path) -> None:
    """Two partitions' asset checks run GX at once on one project folder; none may read the other's
    half-written great_expectations.yml (seen as a TypeError in a parallel Dagster run)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_validate_repeatedly, [str(tmp_path / "home")] * 2, [4, 4]))
    assert results == [[True] * 4, [True] * 4]
