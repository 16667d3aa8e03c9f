"""Benchmarks: one registry entry each. `easy_vqa_en`, `easy_vqa_fr_gold`, and `easy_vqa_fr_<system>` for
every configured MT system (generated from the config by `register_mt_benchmarks`)."""

from __future__ import annotations

from evaluation.benchmarks.base import ITEM_SCHEMA, Benchmark
from vlmfr_data.config import ProjectConfig
from vlmfr_data.registry import Registry

BENCHMARKS: Registry[Benchmark] = Registry(
    "benchmark",
    entries={
        "easy_vqa_en": "evaluation.benchmarks.easy_vqa:EasyVqaEnglish",
        "easy_vqa_fr_gold": "evaluation.benchmarks.easy_vqa:EasyVqaFrenchGold",
        # dev splits (held-out train images): checkpoints and settings are chosen here, never on test
        "easy_vqa_en_dev": "evaluation.benchmarks.easy_vqa:EasyVqaEnglishDev",
        "easy_vqa_fr_gold_dev": "evaluation.benchmarks.easy_vqa:EasyVqaFrenchGoldDev",
    },
)
MT_BENCHMARK_PREFIX = "easy_vqa_fr_"


def register_mt_benchmarks(project: ProjectConfig) -> list[str]:
    """One `easy_vqa_fr_<system>` entry per configured MT system; returns their names."""
    from evaluation.benchmarks.easy_vqa import EasyVqaFrenchMT

    names = []
    for system in project.mt_systems:
        name = f"{MT_BENCHMARK_PREFIX}{system.name}"
        if name not in BENCHMARKS:
            # a class per system: the registry stamps the entry name on the class
            cls = type(f"EasyVqaFrenchMT_{system.name}", (EasyVqaFrenchMT,), {"system": system.name})
            BENCHMARKS.register(name)(cls)
        names.append(name)
    return names


def configured_benchmarks(project: ProjectConfig, selected: list[str] | None = None) -> list[str]:
    """The benchmarks a run evaluates: `[evaluation] benchmarks`, else every registered one."""
    mt = register_mt_benchmarks(project)
    if selected:
        unknown = [b for b in selected if b not in BENCHMARKS and ":" not in b]
        if unknown:
            raise BENCHMARKS.unknown(unknown[0])
        return list(selected)
    return ["easy_vqa_en", "easy_vqa_fr_gold", *mt]


__all__ = ["BENCHMARKS", "ITEM_SCHEMA", "Benchmark", "configured_benchmarks", "register_mt_benchmarks"]
