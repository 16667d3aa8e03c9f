"""Every stage declares what it reads and writes (`vlmfr_data.stage.Stage`); the Dagster graph is
generated from those declarations. Here every stage of the graph runs, through the same call the
assets make, on a small real project (easy-vqa slice, Apertium, cheap signals, a tiny model), and what
each one actually read through the warehouse must be among what it declared."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from vlmfr_data.config import DatasetConfig, MTSystemConfig, ProjectConfig
from vlmfr_data.stage import Stage, upstream
from vlmfr_data.store import Warehouse

TIER_SET, METHOD = "high+medium+low", "lora"


def _all_stages() -> list[Stage]:
    from evaluation.stages import STAGES as EXPERIMENT
    from vlmfr_data.stages import STAGES as DATA

    return [*DATA, *EXPERIMENT]


def _project() -> ProjectConfig:
    from training.config import MiniConfig, TrainConfig

    tiny = dataclasses.asdict(TrainConfig.tiny())
    return ProjectConfig(
        datasets=[DatasetConfig("easy_vqa", "easy_vqa", splits=["train", "test"], limit=40)],
        mt_systems=[MTSystemConfig("apertium", "apertium", batch_size=5000)],
        quality={
            "signals": {
                name: {} for name in ("french_lexicon", "length_ratio", "spans_intact", "source_copy")
            }
        },
        training={
            "model": dataclasses.asdict(MiniConfig.tiny()),
            "english": tiny,
            "finetune": {**tiny, "max_steps": 4},
        },
        evaluation={
            "seeds": [0],
            "dev_items": 10,
            "dev_every": 2,
            "english_dev_every": 6,
            "bootstrap": 50,
            "latency_samples": 2,
            "sweep_points": 2,
            "sweep_options": {"batch_size": 8, "max_steps": 2},
        },
    )


def _partition(stage: Stage) -> dict[str, str]:
    values = {
        "dataset": "easy_vqa",
        "mt_system": "apertium",
        "tier_set": TIER_SET,
        "method": METHOD,
        "sweep_point": "q000",
    }
    return {dimension: values[dimension] for dimension in stage.partitions}


def _in_graph_order(stages: list[Stage]) -> list[Stage]:
    deps = upstream(stages, Warehouse().view_tables)
    done: list[Stage] = []
    while len(done) < len(stages):
        ready = [s for s in stages if s not in done and deps[s.name] <= {d.name for d in done}]
        assert ready, "the stage graph has a cycle"
        done.append(ready[0])
    return done


def test_every_read_has_a_writer_and_the_graph_has_no_cycle() -> None:
    stages = _all_stages()
    order = [s.name for s in _in_graph_order(stages)]
    assert order[0] == "ingest" and order[-1] == "evaluation_report"
    assert len({s.name for s in stages}) == len(stages)


def test_a_read_no_stage_writes_is_refused() -> None:
    broken = Stage("broken", "vlmfr_data.stages:report", reads=("no_such_table",))
    with pytest.raises(ValueError, match="no_such_table"):
        upstream([*_all_stages(), broken], Warehouse().view_tables)


def test_the_generated_assets_are_the_declared_ones() -> None:
    from assets.definitions import PIPELINE, STAGES

    by_op = {a.node_def.name: a for a in PIPELINE}
    assert set(by_op) == {s.name for s in STAGES}
    for stage in STAGES:
        asset = by_op[stage.name]
        assert {k.to_user_string() for k in asset.keys} == set(stage.assets)
        deps = {k.to_user_string() for keys in asset.asset_deps.values() for k in keys}
        # every file output it reads after is a dependency, and it never depends on itself
        assert set(stage.after) <= deps and not deps & set(stage.assets)


@pytest.mark.skipif(shutil.which("apertium") is None, reason="Apertium is not installed")
def test_every_stage_reads_only_what_it_declares(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    home = tmp_path / "home"
    config = _project()
    undeclared: dict[str, set[str]] = {}
    for stage in _in_graph_order(_all_stages()):
        warehouse = Warehouse(home)
        report = stage(warehouse, config, **_partition(stage))
        assert report.ok, f"{stage.name} failed: {report.values}"
        allowed = stage.tables_read
        # a view is covered when declared, or when every table it reads is
        extra = {
            t for t in warehouse.tables_read if t not in allowed and not warehouse.view_tables(t) <= allowed
        }
        if extra:
            undeclared[stage.name] = extra
    assert not undeclared, f"stages read tables they do not declare: {undeclared}"
    # the whole graph ran: the last stage wrote its report
    assert (home / "report" / "index.html").exists()
