"""`vlmfr` as a user runs it: light imports, clear errors, CSV that round-trips nested columns."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from vlmfr_data.cli import main
from vlmfr_data.store import Warehouse

HEAVY = ["torch", "transformers", "scipy", "sacrebleu", "great_expectations", "polars", "pyarrow"]


def _small_warehouse(home: Path) -> Warehouse:
    warehouse = Warehouse(home)
    warehouse.write_partition(
        "segments",
        pl.DataFrame(
            {
                "segment_id": ["a", "b"],
                "text_en": ["what color is the shape?", 'say "hi"'],
                "kind": ["question", "answer"],
                "n_occurrences": [3, 1],
                "n_chars": [24, 8],
                "n_protected": [0, 1],
                "protected_spans": [[], [{"kind": "number", "start": 0, "end": 1, "text": "1"}]],
                "datasets": [["easy_vqa"], ["mine", "easy_vqa"]],
            }
        ),
    )
    warehouse.refresh_views()
    return warehouse


def test_sql_in_a_fresh_interpreter_imports_nothing_heavy(tmp_path: Path) -> None:
    _small_warehouse(tmp_path / "home")
    code = (
        "import sys; from vlmfr_data.cli import main; rc = main(['sql', 'SELECT count(*) FROM segments']); "
        f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules)); sys.exit(rc)"
    )
    env = {**os.environ, "VLMFR_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "HEAVY []" in out and "2" in out


def test_sql_csv_serialises_nested_columns_as_json(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv("VLMFR_HOME", str(tmp_path / "home"))
    _small_warehouse(tmp_path / "home")
    assert (
        main(
            ["sql", "--csv", "SELECT segment_id, text_en, protected_spans, datasets FROM segments ORDER BY 1"]
        )
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["segment_id"] for r in rows] == ["a", "b"]
    assert rows[1]["text_en"] == 'say "hi"'
    assert json.loads(rows[1]["datasets"]) == ["mine", "easy_vqa"]
    assert json.loads(rows[1]["protected_spans"])[0]["kind"] == "number"


def test_sql_without_a_warehouse_says_where_it_looked_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VLMFR_HOME", raising=False)
    assert main(["sql", "SELECT 1"]) == 2
    err = capsys.readouterr().err
    assert f"no warehouse at {tmp_path / '.vlmfr'}" in err and "VLMFR_HOME=" in err
    assert not (tmp_path / ".vlmfr").exists()


def test_sql_error_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv("VLMFR_HOME", str(tmp_path / "home"))
    _small_warehouse(tmp_path / "home")
    assert main(["sql", "SELECT nope FROM segments"]) == 2
    assert "SQL error" in capsys.readouterr().err


def test_sql_statement_without_a_result_runs_and_says_ok(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VLMFR_HOME", str(tmp_path / "home"))
    _small_warehouse(tmp_path / "home")
    out = tmp_path / "segments.csv"
    assert main(["sql", f"COPY (SELECT segment_id FROM segments ORDER BY 1) TO '{out}'"]) == 0
    assert capsys.readouterr().out.strip() == "ok"
    assert out.read_text().split() == ["segment_id", "a", "b"]


def test_tables_fit_80_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv("VLMFR_HOME", str(tmp_path / "home"))
    _small_warehouse(tmp_path / "home")
    assert main(["tables"]) == 0
    out = capsys.readouterr().out
    assert "segments  [all]" in out and "samples  [(empty)]" in out and "tier_summary  [view]" in out
    assert max(len(line) for line in out.splitlines() if not line.startswith("DuckDB file")) <= 80


def test_config_paths_resolve_against_the_config_folder_and_gold_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vlmfr_data.config import load_config

    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "models" / "opus").mkdir(parents=True)
    (project / "refs.csv").write_text("text_en,text_fr\nhello,bonjour\n", encoding="utf-8")
    (project / "vlmfr.toml").write_text(
        """
[[datasets]]
name = "mine"
format = "llava"
paths = { json = "data/llava_{split}.json, data/extra*.jsonl", image_root = "~/images" }

[[datasets]]
name = "vqa"
format = "easy_vqa"

[[mt_systems]]
name = "opus"
backend = "hf_seq2seq"
options = { model = "models/opus", num_beams = 4 }

[[gold]]
dataset = "mine"
path = "refs.csv"
""",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)  # somewhere else: paths must not depend on the working directory
    config = load_config(project / "vlmfr.toml")
    mine = config.dataset("mine")
    assert mine.paths["json"] == f"{project}/data/llava_{{split}}.json,{project}/data/extra*.jsonl"
    assert mine.paths["image_root"] == "~/images"  # home-relative stays for the loader to expand
    assert config.mt_system("opus").options == {"model": str(project / "models" / "opus"), "num_beams": 4}
    assert [(g.dataset, g.path) for g in config.gold or []] == [("mine", str(project / "refs.csv"))]
    assert config.gold_for("vqa") == []  # an explicit [[gold]] list replaces the shipped default

    from vlmfr_data.quality.gold import load_configured_gold

    gold, without = load_configured_gold(config)
    assert gold["reference"].to_list() == ["bonjour"] and without == ["vqa"]


def test_default_config_uses_the_shipped_gold_sets() -> None:
    from vlmfr_data.config import default_config
    from vlmfr_data.quality.gold import load_configured_gold

    gold, without = load_configured_gold(default_config())
    sizes = dict(gold.group_by("gold_set").len().iter_rows())
    assert sizes == {"easy_vqa": 120, "captions_dev": 170} and without == []


def test_report_names_datasets_without_gold(tmp_path: Path) -> None:
    from vlmfr_data.report import write_report

    warehouse = _small_warehouse(tmp_path / "home")
    text = write_report(warehouse, without_gold=["my_llava"]).read_text()
    assert "no gold configured for my_llava" in text and "[[gold]]" in text
