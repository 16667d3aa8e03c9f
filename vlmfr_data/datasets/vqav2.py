"""VQAv2-style questions + annotations JSON (`{"questions": [...]}` and `{"annotations": [...]}`).

Each question becomes a two-turn sample: the question, then `multiple_choice_answer`.
Image files follow `paths.image_pattern` (default COCO 2014 naming) under `paths.image_root`.
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

DEFAULT_IMAGE_PATTERN = "COCO_{split}2014_{image_id:012d}.jpg"


class VQAv2:
    """`paths.questions`, `paths.annotations`, `paths.image_root`, optional `paths.image_pattern`."""

    name = "vqav2"

    def splits(self, config: DatasetConfig) -> list[str]:
        return config.splits

    def batches(self, config: DatasetConfig, split: str, batch_records: int) -> Iterator[RawBatch]:
        root = config.paths.get("image_root", "").replace("{split}", split) or None
        pattern = config.paths.get("image_pattern", DEFAULT_IMAGE_PATTERN)
        q_path = resolve_files(config, "questions", split)[0]
        a_path = resolve_files(config, "annotations", split)[0]
        batch = RawBatch()
        try:
            questions, q_bad = load_json(q_path)
            annotations, a_bad = load_json(a_path)
        except UnreadableFile as exc:
            failed = q_path if "questions" not in locals() else a_path
            batch.reject(failed, "<file>", "<file>", str(exc))
            yield batch
            return
        for path, doc, key in ((q_path, questions, "questions"), (a_path, annotations, "annotations")):
            if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
                batch.reject(path, "<file>", "<file>", f"expected an object with '{key}': a list of records")
                yield batch
                return
        answers = {a.get("question_id"): a for a in annotations["annotations"] if isinstance(a, dict)}
        items = questions["questions"]
        items = items[: config.limit] if config.limit else items
        for index, q in enumerate(items):
            ref = (
                f"questions[{index}] (question_id={q.get('question_id')!r})"
                if isinstance(q, dict)
                else f"questions[{index}]"
            )
            ann = answers.get(q.get("question_id")) if isinstance(q, dict) else None
            if not isinstance(q, dict):
                batch.reject(q_path, ref, "<record>", "question is not an object")
            elif q.get("question_id") is None:
                batch.reject(q_path, ref, "question_id", "no question_id; every question needs a unique one")
            elif ann is None:
                batch.reject(a_path, ref, "annotations", "no annotation with this question_id")
            elif (q_bad and has_bad_bytes(q)) or (a_bad and has_bad_bytes(ann)):
                batch.reject(q_path, ref, "question", q_bad or a_bad or "")
            elif (reason := not_text(q.get("question"), "question")) is not None:
                batch.reject(q_path, ref, "question", reason)
            elif (
                reason := not_text(ann.get("multiple_choice_answer"), "multiple_choice_answer")
            ) is not None:
                batch.reject(a_path, ref, "multiple_choice_answer", reason)
            else:
                try:
                    image = pattern.format(split=split, image_id=int(q["image_id"]))
                except (KeyError, TypeError, ValueError):
                    batch.reject(q_path, ref, "image_id", f"bad image_id {q.get('image_id')!r}")
                    continue
                sample_id = str(q["question_id"])
                for turn_index, (role, text) in enumerate(
                    (("human", q.get("question")), ("gpt", ann.get("multiple_choice_answer")))
                ):
                    batch.turns.append(
                        {
                            "sample_id": sample_id,
                            "image": image_path(root, image),
                            "source_file": str(q_path),
                            "record": ref,
                            "turn_index": turn_index,
                            "role": role,
                            "text": text if isinstance(text, str) else None,
                            "kind": None,
                        }
                    )
            if len(batch) >= batch_records:
                yield batch
                batch = RawBatch()
        if len(batch):
            yield batch
