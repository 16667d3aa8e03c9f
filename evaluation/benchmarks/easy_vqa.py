"""easy-vqa benchmarks: the English test split, the same items in gold French, and as each MT system
translated them.

Items come from the warehouse's `samples` (any VQA-shaped dataset works: a human turn followed by a gpt
turn is one item). French text is rebuilt from `sample_segments` with the segment translations, exactly
as the platform rebuilds French samples, so `<image>` tokens and literals stay where they were.
"""

from __future__ import annotations

import polars as pl

from evaluation.benchmarks.base import ITEM_SCHEMA, Benchmark
from evaluation.question_types import question_types
from vlmfr_data.segments import SPECIAL_TOKEN, rebuild_turns
from vlmfr_data.splits import is_dev
from vlmfr_data.store import Warehouse

_KEYS = ["dataset", "split", "sample_id"]


class EasyVqaEnglish(Benchmark):
    language = "en"
    description = "easy-vqa test split, English (the upper bound)"

    dev = False  # True: the dev samples of the train split (vlmfr_data.splits), not `split`

    def __init__(self, dataset: str = "easy_vqa", split: str = "test") -> None:
        self.dataset = dataset
        self.split = "train" if self.dev else split

    def _in_split(self) -> pl.Expr:
        in_split = pl.col("split") == self.split
        return in_split & is_dev(pl.col("dataset"), pl.col("image")) if self.dev else in_split

    def english_items(self, warehouse: Warehouse) -> pl.DataFrame:
        """Question/answer pairs of the split with their turn indices, and each question's type."""
        turns = (
            warehouse.scan("samples", self.dataset)
            .filter(self._in_split())
            .select(*_KEYS, "image", "turns")
            .with_columns(
                pl.int_ranges(pl.col("turns").list.len()).cast(pl.List(pl.Int32)).alias("turn_index")
            )
            .explode("turns", "turn_index")
            .unnest("turns")
            .collect()
        )
        if turns.height == 0:
            raise ValueError(
                f"benchmark {self.name}: no samples for dataset {self.dataset!r} split {self.split!r}"
            )
        pairs = _question_answer_pairs(turns)
        # Types are a property of the question in the whole dataset (all splits), not of this split.
        every_split = _question_answer_pairs(
            warehouse.scan("samples", self.dataset)
            .select(*_KEYS, "image", "turns")
            .with_columns(
                pl.int_ranges(pl.col("turns").list.len()).cast(pl.List(pl.Int32)).alias("turn_index")
            )
            .explode("turns", "turn_index")
            .unnest("turns")
            .collect()
        )
        types = question_types(
            every_split.select(pl.col("question_en").alias("question"), pl.col("answer_en").alias("answer"))
        )
        return pairs.join(
            types.rename({"question": "_q"}),
            left_on=pl.col("question_en").str.to_lowercase().str.strip_chars(),
            right_on="_q",
            how="left",
        ).drop("_q", strict=False)

    def items(self, warehouse: Warehouse) -> pl.DataFrame:
        pairs = self.english_items(warehouse)
        return pairs.select(
            "item_id",
            "image",
            pl.col("question_en").alias("question"),
            pl.col("answer_en").alias("answer"),
            "question_en",
            "answer_en",
            "question_type",
        ).cast(ITEM_SCHEMA)  # type: ignore[arg-type]


class _FrenchFromSegments(EasyVqaEnglish):
    """French items rebuilt from per-segment French texts (`french_texts`: segment_id, text_fr)."""

    language = "fr"

    def french_texts(self, warehouse: Warehouse) -> pl.DataFrame:  # pragma: no cover - overridden
        raise NotImplementedError

    def items(self, warehouse: Warehouse) -> pl.DataFrame:
        pairs = self.english_items(warehouse)
        pieces = (
            warehouse.scan("sample_segments", self.dataset)
            .filter(pl.col("split") == self.split)
            .join(pairs.select(_KEYS).lazy(), on=_KEYS, how="semi")
            .collect()
        )
        french = rebuild_turns(pieces, self.french_texts(warehouse), text_column="text_fr")
        keyed = french.select(*_KEYS, "turn_index", "text")
        items = (
            pairs.join(
                keyed.rename({"turn_index": "q_turn", "text": "question"}), on=[*_KEYS, "q_turn"], how="left"
            )
            .join(keyed.rename({"turn_index": "a_turn", "text": "answer"}), on=[*_KEYS, "a_turn"], how="left")
            # an item without a French question or answer (segment not translated) is left out
            .filter(pl.col("question").is_not_null() & pl.col("answer").is_not_null())
        )
        return items.select(
            "item_id",
            "image",
            _strip_special("question"),
            _strip_special("answer"),
            "question_en",
            "answer_en",
            "question_type",
        ).cast(ITEM_SCHEMA)  # type: ignore[arg-type]


class EasyVqaFrenchGold(_FrenchFromSegments):
    description = "easy-vqa test split with the shipped hand-written French for every question and answer"

    def __init__(self, dataset: str = "easy_vqa", split: str = "test", gold_path: str | None = None) -> None:
        super().__init__(dataset, split)
        self.gold_path = gold_path

    def french_texts(self, warehouse: Warehouse) -> pl.DataFrame:
        from pathlib import Path

        from vlmfr_data.quality.gold import load_gold  # sacrebleu/scipy: only when a gold benchmark runs

        gold = load_gold(Path(self.gold_path) if self.gold_path else None)
        return gold.select("segment_id", pl.col("reference").alias("text_fr"))


class EasyVqaEnglishDev(EasyVqaEnglish):
    description = "easy-vqa dev samples (held-out train images), English: where the English VLM is chosen"
    dev = True


class EasyVqaFrenchGoldDev(EasyVqaFrenchGold):
    description = "easy-vqa dev samples (held-out train images), gold French: where French runs are chosen"
    dev = True


class EasyVqaFrenchMT(_FrenchFromSegments):
    """The test split as one MT system translated it (its latest successful translation per segment)."""

    system: str = ""  # set per generated subclass (see benchmarks.mt_benchmark)

    def __init__(self, dataset: str = "easy_vqa", split: str = "test", system: str | None = None) -> None:
        super().__init__(dataset, split)
        if system:
            self.system = system
        self.description = f"easy-vqa test split as MT system {self.system!r} translated it"

    def french_texts(self, warehouse: Warehouse) -> pl.DataFrame:
        return warehouse.sql(
            f"SELECT segment_id, text_fr FROM translations WHERE system = $${self.system}$$ AND error IS NULL"
        )


def _question_answer_pairs(turns: pl.DataFrame) -> pl.DataFrame:
    """Each human turn followed directly by a gpt turn is one item (LLaVA multi-turn gives several)."""
    ordered = turns.sort([*_KEYS, "turn_index"]).with_columns(
        pl.col("role").shift(-1).over(_KEYS).alias("_next_role"),
        pl.col("text").shift(-1).over(_KEYS).alias("_next_text"),
    )
    pairs = ordered.filter((pl.col("role") == "human") & (pl.col("_next_role") == "gpt"))
    n_pairs = pairs.group_by(_KEYS).len()
    return (
        pairs.join(n_pairs, on=_KEYS)
        .with_columns(
            # one item per sample keeps the sample id; multi-turn samples number their items
            pl.when(pl.col("len") == 1)
            .then(pl.col("sample_id"))
            .otherwise(pl.concat_str("sample_id", pl.lit("#"), pl.col("turn_index").cast(pl.String)))
            .alias("item_id"),
            pl.col("turn_index").alias("q_turn"),
            (pl.col("turn_index") + 1).alias("a_turn"),
        )
        .select(
            *_KEYS,
            "item_id",
            "image",
            "q_turn",
            "a_turn",
            _strip_special("text").alias("question_en"),
            pl.col("_next_text").str.strip_chars().alias("answer_en"),
        )
        .sort("item_id")
    )


def _strip_special(column: str) -> pl.Expr:
    """The model gets the image separately: `<image>` and other special tokens are not part of the text."""
    return pl.col(column).str.replace_all(SPECIAL_TOKEN, "").str.strip_chars().alias(column)
