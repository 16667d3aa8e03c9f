"""vlmfr.toml is read once into typed sections: wrong keys and types name their key path and what is
allowed, a table given in code is read like the TOML one, every entry point sees the same settings, and
the generated reference (docs/config.md) is up to date."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from evaluation.config import EvaluationConfig
from training.config import DEMO_FINETUNE, FULL_FINETUNE, TrainingSettings, training_settings
from vlmfr_data.config import ProjectConfig, default_config, load_config
from vlmfr_data.review.queue import QueueSettings


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vlmfr.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "toml, message",
    [
        (
            "[training.finetune]\nmax_step = 3",
            r"\[training\.finetune\]: unknown key 'max_step' \(did you mean 'max_steps'\?\); allowed keys: epochs,",
        ),
        (
            "[training.finetune]\nmax_steps = '3'",
            r"\[training\.finetune\] max_steps: expected an integer, got '3' \(str\)",
        ),
        (
            "[training]\nrecipe = 'fast'",
            r"\[training\] recipe: 'fast' is not allowed; allowed values: 'demo', 'full'",
        ),
        ("[training.methods.lora]\nr = 8.5", r"\[training\.methods\.lora\] r: expected an integer, got 8\.5"),
        (
            "[training.model]\nvision_taps = [4, 'x']",
            r"\[training\.model\] vision_taps\[1\]: expected an integer",
        ),
        ("[training]\nenglish = 3", r"\[training\.english\]: expected a table of keys, got 3"),
        ("[evaluation]\nseeds = [0, true]", r"\[evaluation\] seeds\[1\]: expected an integer, got True"),
        (
            "[evaluation]\nsweep_options = { lr = 1e-3, max_step = 3 }",
            r"sweep_options: unknown TrainConfig key\(s\) \['max_step'\]",
        ),
        ("[evaluation]\nbenchmark = ['easy_vqa_en']", r"did you mean 'benchmarks'\?"),
        ("[review]\nbudget = 'many'", r"\[review\] budget: expected an integer, got 'many'"),
        (
            "[review]\nstratified_share = 2.0",
            r"\[review\]: stratified share must be within \[0, 1\], got 2\.0",
        ),
        (
            "[[datasets]]\nname = 'x'\nformat = 'llava'\nsplits = 'train'",
            r"datasets\[0\] \(name 'x'\), field splits: expected list of strings, got 'train'",
        ),
        (
            "[[mt_systems]]\nname = 'm'\nbackend = 'apertium'\nbatch_size = 1.5",
            r"mt_systems\[0\] \(name 'm'\), field batch_size: expected an integer",
        ),
    ],
)
def test_a_wrong_key_or_type_names_its_key_path_and_what_is_allowed(
    tmp_path: Path, toml: str, message: str
) -> None:
    path = config_file(tmp_path, toml)
    with pytest.raises(ValueError, match=message) as error:
        load_config(path)
    assert str(path) in str(error.value)  # and the file


def test_sections_are_typed_and_merge_over_their_defaults(tmp_path: Path) -> None:
    project = load_config(
        config_file(
            tmp_path,
            """
            [training]
            recipe = "full"
            [training.finetune]
            lr = 1            # an integer where a number is expected is that number
            [training.methods.lora]
            r = 8
            [training.model]
            vision_taps = [4]
            [evaluation]
            seeds = [2, 0, 2]
            [review]
            budget = 7
            """,
        )
    )
    settings = training_settings(project)
    assert isinstance(settings, TrainingSettings) and settings.recipe == "full"
    assert settings.finetune.lr == 1.0 and isinstance(settings.finetune.lr, float)
    assert settings.finetune.examples == FULL_FINETUNE.examples is None  # the full recipe's base
    lora = settings.method("lora")
    assert lora.r == 8 and lora.lr_lora == TrainingSettings().method("lora").lr_lora  # other keys kept
    assert set(settings.methods) == set(TrainingSettings().methods)  # a method table adds, never drops
    assert settings.model.vision_taps == (4,)
    assert EvaluationConfig.from_project(project).seeds == [0, 2]
    assert project.review == QueueSettings(budget=7)


def test_a_table_given_in_code_is_read_like_the_toml_one(tmp_path: Path) -> None:
    from_code = ProjectConfig(datasets=[], mt_systems=[], training={"finetune": {"max_steps": 5}}, review={})
    from_file = load_config(config_file(tmp_path, "[training.finetune]\nmax_steps = 5"))
    assert from_code.training == from_file.training
    assert from_code.training.finetune == DEMO_FINETUNE.__class__(**{**vars(DEMO_FINETUNE), "max_steps": 5})
    assert (
        ProjectConfig(datasets=[], mt_systems=[]).training == TrainingSettings() == default_config().training
    )
    with pytest.raises(ValueError, match=r"\[evaluation\]: unknown key 'seed_list'"):
        ProjectConfig(datasets=[], mt_systems=[], evaluation={"seed_list": [0]})


def test_every_entry_point_reads_the_same_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = config_file(tmp_path, "[training.finetune]\nmax_steps = 7\n[evaluation]\nlimit = 9")
    monkeypatch.setenv("VLMFR_CONFIG", str(path))
    # a library call without a project (what train_on_corpus and train_tier_model do)
    assert training_settings().finetune.max_steps == 7
    # the CLI's --recipe keeps every key the file sets
    full = training_settings().with_recipe("full")
    assert full.recipe == "full" and full.finetune.max_steps == 7 and full.finetune.examples is None
    assert full.with_recipe("demo").finetune.examples == DEMO_FINETUNE.examples
    # the evaluation copy a caller changes does not change the project's
    project = load_config()
    copy = EvaluationConfig.from_project(project)
    copy.limit = 1
    assert EvaluationConfig.from_project(project).limit == 9


def test_the_config_reference_is_generated_from_the_code_and_up_to_date() -> None:
    from vlmfr_data.config_docs import DOCS, config_reference, main

    text = config_reference()
    # every key of every typed section is documented, with its type and default
    for table, key, row in [
        ("[training.finetune]", "examples", "| `examples` | integer | 15360 |"),
        ("[training]", "recipe", '| `recipe` | "demo" or "full" | "demo" |'),
        ("[evaluation]", "seeds", "| `seeds` | list of integers | [0, 1] |"),
        ("[review]", "budget", "| `budget` | integer | 50 |"),
        ("[[datasets]]", "name", "| `name` | string | required |"),
    ]:
        assert f"### `{table}" in text and row in text, (table, key)
    assert main(["--check"]) == 0, f"{DOCS} is stale: run python -m vlmfr_data.config_docs"
