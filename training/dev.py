"""What a run is chosen on: the dev items it answers during training and how its answers are scored.

Training never reads a benchmark itself (the evaluation layer builds a `DevSet` from its dev benchmark
and passes it in): the loop answers `questions` about `images` every `every` steps, keeps the trained
weights of the best-scoring step, and ends with those. `item_ids` are kept so a check can show that no
test item was used to choose anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class DevSet:
    name: str  # the benchmark, e.g. easy_vqa_fr_gold_dev
    item_ids: list[str]
    images: list[str]
    questions: list[str]
    score: Callable[[list[str]], float]  # answers (in item order) -> accuracy
    every: int = 20  # steps between dev evaluations (and the last step)
    batch_size: int = 256
    version: str = ""  # the benchmark version: part of a run's identity
