"""COCO captions: `{"images": [{"id", "file_name"}], "annotations": [{"id", "image_id", "caption"}]}`.

One sample per caption annotation (sample_id = annotation id), a single `gpt` turn of kind `caption`;
no instruction text is invented here: the corpus export adds a French instruction as the human turn
(`vlmfr_data.corpora.FRENCH_BRIEF_DESCRIPTION_INSTRUCTIONS`).
"""

from __future__ import annotations

from collections.abc import Iterator

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


class CocoCaptions:
    """`paths.annotations`: captions_*.json (`{split}` filled in); `paths.image_root`: the image folder."""

    name = "coco_captions"

    def splits(self, config: DatasetConfig) -> list[str]:
        return config.splits

    def batches(self, config: DatasetConfig, split: str, batch_records: int) -> Iterator[RawBatch]:
        root = config.paths.get("image_root", "").replace("{split}", split) or None
        for path in resolve_files(config, "annotations", split):
            batch = RawBatch()
            try:
                data, bad_bytes = load_json(path)
            except UnreadableFile as exc:
                batch.reject(path, "<file>", "<file>", str(exc))
                yield batch
                continue
            if not isinstance(data, dict) or "annotations" not in data or "images" not in data:
                batch.reject(path, "<file>", "<file>", "expected an object with 'images' and 'annotations'")
                yield batch
                continue
            if not isinstance(data["annotations"], list) or not isinstance(data["images"], list):
                batch.reject(path, "<file>", "<file>", "'annotations' must be a list and 'images' a list")
                yield batch
                continue
            files = {img.get("id"): img.get("file_name") for img in data["images"] if isinstance(img, dict)}
            annotations = data["annotations"][: config.limit] if config.limit else data["annotations"]
            for index, ann in enumerate(annotations):
                ref = (
                    f"annotations[{index}] (id={ann.get('id')!r})"
                    if isinstance(ann, dict)
                    else f"annotations[{index}]"
                )
                if not isinstance(ann, dict):
                    batch.reject(path, ref, "<record>", "annotation is not an object")
                elif bad_bytes and has_bad_bytes(ann):
                    batch.reject(path, ref, "caption", bad_bytes)
                elif (reason := not_text(ann.get("caption"), "caption")) is not None:
                    batch.reject(path, ref, "caption", reason)
                elif ann.get("image_id") not in files:
                    batch.reject(
                        path, ref, "image_id", f"image_id {ann.get('image_id')!r} is not in 'images'"
                    )
                else:
                    caption = ann.get("caption")
                    batch.turns.append(
                        {
                            "sample_id": None if ann.get("id") is None else str(ann["id"]),
                            "image": image_path(root, files[ann["image_id"]]),
                            "source_file": str(path),
                            "record": ref,
                            "turn_index": 0,
                            "role": "gpt",
                            "text": caption if isinstance(caption, str) else None,
                            "kind": "caption",
                        }
                    )
                if len(batch) >= batch_records:
                    yield batch
                    batch = RawBatch()
            if len(batch):
                yield batch
