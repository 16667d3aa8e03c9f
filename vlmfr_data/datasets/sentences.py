"""Plain sentence lists: a CSV with a `text_en` column (and optionally `kind`: caption, question,
answer; default caption). One text-only sample per row (no image), sample id = the row number.

For development and gold sets (the shipped caption gold, `package:gold_captions_fr.csv`), glossaries,
or a client's strings to translate without a dataset around them. `paths.csv` may name a file shipped
in `vlmfr_data/data/` as `package:<file>`; `{split}` is filled in.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from vlmfr_data.config import SHIPPED_DATA, DatasetConfig
from vlmfr_data.datasets.base import RawBatch, resolve_files

KINDS = {"caption": "gpt", "answer": "gpt", "question": "human"}


class Sentences:
    name = "sentences"

    def splits(self, config: DatasetConfig) -> list[str]:
        return config.splits

    def batches(self, config: DatasetConfig, split: str, batch_records: int) -> Iterator[RawBatch]:
        spec = config.paths.get("csv", "")
        if spec.startswith("package:"):
            files = [SHIPPED_DATA / spec.removeprefix("package:").replace("{split}", split)]
        else:
            files = resolve_files(config, "csv", split)
        for path in files:
            batch = RawBatch()
            try:
                with path.open(encoding="utf-8", newline="") as fh:
                    rows = list(csv.DictReader(fh))
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                batch.reject(path, "<file>", "<file>", f"cannot read the CSV: {exc}")
                yield batch
                continue
            if rows and "text_en" not in rows[0]:
                batch.reject(path, "<file>", "text_en", "the CSV has no `text_en` column")
                yield batch
                continue
            for index, row in enumerate(rows[: config.limit] if config.limit else rows):
                ref = f"row {index + 2}"  # the file's line number (header = line 1)
                kind = (row.get("kind") or "caption").strip()
                if kind not in KINDS:
                    batch.reject(path, ref, "kind", f"kind {kind!r} is not one of {sorted(KINDS)}")
                    continue
                batch.turns.append(
                    {
                        "sample_id": str(index),
                        "image": None,
                        "source_file": str(path),
                        "record": ref,
                        "turn_index": 0,
                        "role": KINDS[kind],
                        "text": row.get("text_en"),
                        "kind": kind,
                    }
                )
                if len(batch.turns) >= batch_records:
                    yield batch
                    batch = RawBatch()
            yield batch
