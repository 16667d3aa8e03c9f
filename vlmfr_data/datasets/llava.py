"""LLaVA conversation JSON / JSONL: `{"id", "image", "conversations": [{"from", "value"}]}`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vlmfr_data.config import DatasetConfig
from vlmfr_data.datasets.base import (
    RawBatch,
    UnreadableFile,
    has_bad_bytes,
    image_path,
    load_json,
    not_text,
    resolve_files,
)


class LlavaConversations:
    """`paths.json`: file(s) or globs (`{split}` filled in); `paths.image_root`: where images live."""

    name = "llava"

    def splits(self, config: DatasetConfig) -> list[str]:
        return config.splits

    def batches(self, config: DatasetConfig, split: str, batch_records: int) -> Iterator[RawBatch]:
        batch = RawBatch()
        seen = 0
        for path in resolve_files(config, "json", split):
            for record_ref, record, problems in _records(path):
                if config.limit is not None and seen >= config.limit:
                    break
                seen += 1
                if problems:
                    for field_name, reason in problems:
                        batch.reject(path, record_ref, field_name, reason)
                else:
                    _add_record(batch, path, record_ref, record, config.paths.get("image_root"))
                if len(batch) >= batch_records:
                    yield batch
                    batch = RawBatch()
        if len(batch):
            yield batch


Problem = tuple[str, str]  # (field, reason)


def _records(path: Path) -> Iterator[tuple[str, Any, list[Problem]]]:
    """Yield (record reference, parsed record, problems). JSONL is parsed line by line, so one bad line
    costs one record; a malformed .json array costs that file (reported as one quarantine row)."""
    try:
        if path.suffix == ".jsonl":
            yield from _jsonl_records(path)
        else:
            data, bad_bytes = load_json(path)
            if not isinstance(data, list):
                yield (
                    "<file>",
                    None,
                    [("<file>", f"expected a JSON array of records, got {type(data).__name__}")],
                )
                return
            for index, record in enumerate(data):
                yield from _checked(f"#{index}", record, bad_bytes)
    except UnreadableFile as exc:
        yield "<file>", None, [("<file>", str(exc))]


def _jsonl_records(path: Path) -> Iterator[tuple[str, Any, list[Problem]]]:
    """Stream a JSONL file line by line (memory holds one line, not the file: a 1M-record file is
    ~300 MB of text). A line that is not UTF-8 is quarantined with the file offset of its first bad byte;
    the other lines load."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise UnreadableFile(f"cannot read file: {exc.strerror}") from exc
    offset = 0
    with fh:
        for line_no, raw in enumerate(fh, start=1):
            line_offset, offset = offset, offset + len(raw)
            if not raw.strip():
                continue
            try:
                line, bad_bytes = raw.decode("utf-8"), None
            except UnicodeDecodeError as exc:
                line = raw.decode("utf-8", errors="surrogateescape")
                bad_bytes = (
                    f"file is not valid UTF-8 (first bad byte at offset {line_offset + exc.start}); "
                    "re-encode it as UTF-8"
                )
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield (
                    f"line {line_no}",
                    None,
                    [("<record>", f"malformed JSON at column {exc.colno}: {exc.msg}")],
                )
                continue
            yield from _checked(f"line {line_no}", record, bad_bytes)


def _checked(ref: str, record: Any, bad_bytes: str | None) -> Iterator[tuple[str, Any, list[Problem]]]:
    if not isinstance(record, dict):
        yield ref, None, [("<record>", f"expected an object, got {type(record).__name__}")]
        return
    ref = f"{ref} (id={record.get('id')!r})" if "id" in record else ref
    if bad_bytes and has_bad_bytes(record):
        field_name = next((k for k, v in record.items() if has_bad_bytes(v)), "<record>")
        yield ref, None, [(field_name, bad_bytes)]
        return
    conversations = record.get("conversations")
    if not isinstance(conversations, list) or not conversations:
        yield ref, None, [("conversations", "missing or empty 'conversations' list")]
        return
    problems: list[Problem] = []
    image = record.get("image")
    if isinstance(image, list) and len(image) > 1:
        # one image per sample in every format here; keeping the first would orphan the other tokens
        problems.append(("image", f"record has {len(image)} images; only one image per sample is supported"))
    elif (reason := not_text(image[0] if isinstance(image, list) and image else image, "image")) is not None:
        problems.append(("image", f"{reason} (a file path)"))
    for i, turn in enumerate(conversations):
        if not isinstance(turn, dict) or "from" not in turn:
            problems.append((f"conversations[{i}].from", "turn has no 'from' (expected human/gpt/system)"))
        elif (reason := not_text(turn["from"], "from")) is not None:
            problems.append((f"conversations[{i}].from", reason))
        elif (reason := not_text(turn.get("value"))) is not None:
            problems.append((f"conversations[{i}].value", reason))
    yield ref, (None if problems else record), problems


def _add_record(
    batch: RawBatch, path: Path, ref: str, record: dict[str, Any], image_root: str | None
) -> None:
    sample_id = record.get("id")
    image = record.get("image")
    if isinstance(image, list):  # a one-image list (longer lists are quarantined in `_checked`)
        image = image[0] if image else None
    resolved = image_path(image_root, image)
    for turn_index, turn in enumerate(record["conversations"]):
        value = turn.get("value")
        batch.turns.append(
            {
                "sample_id": None if sample_id is None else str(sample_id),
                "image": resolved,
                "source_file": str(path),
                "record": ref,
                "turn_index": turn_index,
                "role": str(turn["from"]),
                "text": value if isinstance(value, str) else None,
                "kind": None,
            }
        )
