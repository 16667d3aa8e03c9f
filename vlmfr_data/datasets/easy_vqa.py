"""easy-vqa (PyPI `easy-vqa`, MIT): 64x64 shape images with templated questions. The embedded default."""

from __future__ import annotations

from collections.abc import Iterator

from vlmfr_data.config import DatasetConfig
from vlmfr_data.datasets.base import RawBatch


class EasyVQA:
    name = "easy_vqa"
    license = "mit"  # the easy-vqa package's licence (its data ships inside it)

    def splits(self, config: DatasetConfig) -> list[str]:
        return config.splits or ["train", "test"]

    def batches(self, config: DatasetConfig, split: str, batch_records: int) -> Iterator[RawBatch]:
        import easy_vqa  # the package ships the data; imported here so other formats need not have it

        if split == "train":
            questions, answers, image_ids = easy_vqa.get_train_questions()
            images = easy_vqa.get_train_image_paths()
        elif split == "test":
            questions, answers, image_ids = easy_vqa.get_test_questions()
            images = easy_vqa.get_test_image_paths()
        else:
            raise ValueError(f"easy_vqa has splits 'train' and 'test', not {split!r}")
        source = f"easy_vqa:{split}"
        n = len(questions) if config.limit is None else min(config.limit, len(questions))
        for start in range(0, n, batch_records):
            batch = RawBatch()
            for i in range(start, min(start + batch_records, n)):
                sample_id = f"{split}-{i:06d}"
                image = images.get(image_ids[i])
                for turn_index, (role, text) in enumerate((("human", questions[i]), ("gpt", answers[i]))):
                    batch.turns.append(
                        {
                            "sample_id": sample_id,
                            "image": image,
                            "source_file": source,
                            "record": f"#{i}",
                            "turn_index": turn_index,
                            "role": role,
                            "text": text,
                            "kind": None,
                        }
                    )
            yield batch
