"""The dataset-format extension point: a protocol, a registry, and the raw turn rows loaders yield.

A loader only parses its format. It yields `RawBatch`es: one row per conversation turn (sample id,
image, role, text, where it came from) plus quarantine rows for records it could not parse at all.
Validation common to every format (unknown role, empty text, missing image, duplicate id) runs once,
vectorised, in `vlmfr_data.ingest`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from vlmfr_data import plugins
from vlmfr_data.config import DatasetConfig
from vlmfr_data.registry import Registry

RAW_TURN_SCHEMA: dict[str, pl.DataType] = {
    "sample_id": pl.String(),
    "image": pl.String(),
    "source_file": pl.String(),
    "record": pl.String(),  # how to find the record in its file: "#12" (index) or the id
    "turn_index": pl.Int32(),
    "role": pl.String(),
    "text": pl.String(),
    "kind": pl.String(),  # a format may fix the kind (COCO: caption); else it follows the role
}


@dataclass
class RawBatch:
    turns: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, source_file: str | Path, record: str, field_name: str, reason: str) -> None:
        self.quarantine.append(
            {"source_file": str(source_file), "record": record, "field": field_name, "reason": reason}
        )

    def __len__(self) -> int:
        return len(self.turns) + len(self.quarantine)


class DatasetFormat(Protocol):
    """Parses one on-disk format into raw turn rows. `batches` must keep a sample's turns together."""

    name: str

    def splits(self, config: DatasetConfig) -> list[str]: ...

    def batches(self, config: DatasetConfig, split: str, batch_records: int) -> Iterator[RawBatch]: ...


# Adding a format is one new module plus one line here (or `FORMATS.register` from your own code).
FORMATS: Registry[DatasetFormat] = plugins.FORMATS  # the entries live in vlmfr_data.plugins


# ------------------------------------------------------------------ helpers shared by JSON formats
class UnreadableFile(Exception):
    """A whole file could not be parsed; carries the message for the quarantine row."""


def read_json_text(path: Path) -> tuple[str, str | None]:
    """Read a file as UTF-8. Invalid bytes do not stop the load: they are kept as surrogates (so the
    records around them still parse) and the caller quarantines the records that contain them."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"cannot read file: {exc.strerror}") from exc
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        note = f"file is not valid UTF-8 (first bad byte at offset {exc.start}); re-encode it as UTF-8"
        return raw.decode("utf-8", errors="surrogateescape"), note


def load_json(path: Path) -> tuple[Any, str | None]:
    text, note = read_json_text(path)
    try:
        return json.loads(text), note
    except json.JSONDecodeError as exc:
        raise UnreadableFile(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}; fix the file and re-run"
        ) from exc


def has_bad_bytes(value: Any) -> bool:
    """True if a parsed value holds undecodable bytes (surrogates from `surrogateescape`)."""
    if isinstance(value, str):
        return any("\udc80" <= ch <= "\udcff" for ch in value)
    if isinstance(value, dict):
        return any(has_bad_bytes(v) for v in value.values())
    if isinstance(value, list):
        return any(has_bad_bytes(v) for v in value)
    return False


def resolve_files(config: DatasetConfig, key: str, split: str) -> list[Path]:
    """`paths[key]` as a list of files: comma-separated, each may be a glob, `{split}` is filled in."""
    spec = config.paths.get(key, "").replace("{split}", split)
    if not spec:
        raise ValueError(
            f"dataset {config.name!r} (format {config.format!r}) needs paths.{key} in the config"
        )
    files: list[Path] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        path = Path(part).expanduser()
        matches = sorted(path.parent.glob(path.name)) if any(c in path.name for c in "*?[") else [path]
        files.extend(matches)
    return files


# How a JSON value that should be text is named in a quarantine reason ("value is a number, ...").
# bool before int: a JSON true is a Python bool, which is also an int.
_JSON_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (int, "a number"),
    (float, "a number"),
    (list, "a list"),
    (dict, "an object"),
)


def not_text(value: Any, name: str = "value") -> str | None:
    """Why a parsed JSON value cannot be a turn's text (`"value is a number, expected a string"`), or None
    for a string. A missing or null value is also None: ingest reports it as "turn has no text"."""
    if value is None or isinstance(value, str):
        return None
    kind = next((label for cls, label in _JSON_KINDS if isinstance(value, cls)), type(value).__name__)
    return f"{name} is {kind}, expected a string"


def image_path(root: str | None, name: Any) -> str | None:
    if name is None or name == "":
        return None
    return _resolved_image_path(root, str(name))


@lru_cache(maxsize=1 << 16)
def _resolved_image_path(root: str | None, name: str) -> str:
    # Cached: resolving stats every path component, and datasets reuse a few images across many records
    # (easy-vqa: 5,000 images for 48,000 questions); this was ingest's hottest call per turn.
    path = Path(name)
    if not path.is_absolute() and root:
        path = Path(root).expanduser() / path
    return str(path.resolve())
