"""Test-only helpers for the kill tests: a tiny deterministic MT engine, a fixture dataset generator, and a
worker entry point that runs one library stage in a subprocess (so the test can `kill -9` it).

Nothing here is in the product's registries: the fixture's config names the engine as a plug-in class,
`backend = "helpers_engines:SlowWordMap"` (the registry loads a `module:Class` name directly), which the
worker can import because this file's folder is first on its `sys.path`.

Usage (what the test runs): `python tests/helpers_engines.py <stage> <home> <config>`; the worker prints
`READY` once imports and setup are done, then runs the stage and prints `DONE`.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

# A small English -> French word table: the engine translates word by word. The output is rough but
# French-looking (fastText reads it as French), differs from the source (no `source_copy` gate) and is
# the same on every run, so a re-run after a kill must reproduce exactly the rows a clean run writes.
WORDS = {
    "what": "quelle",
    "color": "couleur",
    "is": "est",
    "the": "la",
    "a": "une",
    "there": "il y a",
    "in": "dans",
    "image": "image",
    "picture": "photo",
    "red": "rouge",
    "blue": "bleue",
    "green": "verte",
    "small": "petite",
    "large": "grande",
    "house": "maison",
    "car": "voiture",
    "dog": "chienne",
    "cat": "chatte",
    "table": "table",
    "chair": "chaise",
    "near": "près de",
    "next": "à côté",
    "to": "de",
    "on": "sur",
    "under": "sous",
    "and": "et",
    "yes": "oui",
    "no": "non",
    "how": "combien",
    "many": "de",
    "are": "sont",
    "shape": "forme",
    "shapes": "formes",
    "describe": "décrivez",
    "this": "cette",
    "scene": "scène",
    "with": "avec",
    "door": "porte",
    "window": "fenêtre",
    "street": "rue",
    "person": "personne",
    "bottle": "bouteille",
}
NOUNS = [
    "house",
    "car",
    "dog",
    "cat",
    "table",
    "chair",
    "door",
    "window",
    "street",
    "person",
    "bottle",
    "shape",
]
ADJECTIVES = ["red", "blue", "green", "small", "large"]
PREPOSITIONS = ["near", "on", "under", "in", "with"]


def translate_words(text: str) -> str:
    out = []
    for word in text.split(" "):
        core = word.rstrip("?.!,")
        tail = word[len(core) :]
        mapped = WORDS.get(core.lower(), core)
        out.append((mapped[:1].upper() + mapped[1:] if core[:1].isupper() else mapped) + tail)
    return " ".join(out)


class SlowWordMap:
    """Deterministic word-by-word 'MT' that sleeps `delay` seconds per batch (so a run has many batches
    spread over time). Test-only, named by the fixture config as a plug-in, never registered."""

    backend = "helpers_engines:SlowWordMap"
    source_lang = "en"
    target_lang = "fr"
    masked_kinds = frozenset({"special", "url", "email", "entity", "code", "placeholder"})
    sentinel = "XQZ{}"
    cost_per_call = 0.0

    def __init__(self, name: str, delay: float = 0.0) -> None:
        self.name = name
        self.delay = delay

    @property
    def version(self) -> str:
        return "word-map-1"

    def availability(self):  # noqa: ANN201 - Availability, imported lazily to keep this module light
        from vlmfr_data.registry import Availability

        return Availability(True)

    def translate(self, texts: list[str]) -> list[str]:
        time.sleep(self.delay)
        return [translate_words(t) for t in texts]


# ---------------------------------------------------------------------------------------- fixture
def sentence(rng: random.Random, unique: int | None = None) -> str:
    adj, noun, prep, other = (
        rng.choice(ADJECTIVES),
        rng.choice(NOUNS),
        rng.choice(PREPOSITIONS),
        rng.choice(NOUNS),
    )
    text = f"The {adj} {noun} is {prep} the {other}"
    return f"{text} number {unique}." if unique is not None else text + "."


def write_fixture(root: Path, n_samples: int, seed: int = 0) -> Path:
    """A LLaVA JSONL dataset (frequent questions + a tail of unique answers), 3 images, and a vlmfr.toml
    whose MT system is the test engine. Returns the config path."""
    from PIL import Image

    rng = random.Random(seed)
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    for i in range(3):
        Image.new("RGB", (8, 8), (60 * i, 20, 20)).save(images / f"{i}.png")
    questions = [f"What color is the {n}?" for n in NOUNS] + [
        "Describe this scene.",
        "How many shapes are there?",
    ]
    lines = []
    for i in range(n_samples):
        answer = rng.choice(["Yes.", "No.", "Red.", "Blue."]) if i % 4 == 0 else sentence(rng, unique=i)
        record = {
            "id": f"s{i:05d}",
            "image": f"{i % 3}.png",
            "conversations": [
                {"from": "human", "value": "<image>\n" + rng.choice(questions)},
                {"from": "gpt", "value": answer},
            ],
        }
        lines.append(json.dumps(record))
    (root / "data.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = root / "vlmfr.toml"
    config.write_text(
        """
[[datasets]]
name = "fixture"
format = "llava"
paths = { json = "data.jsonl", image_root = "images" }

[[mt_systems]]
name = "slow"
backend = "helpers_engines:SlowWordMap"
batch_size = 20
options = { delay = 0.005 }

[quality]
signals = { lid_french = {}, length_ratio = {}, spans_intact = {}, source_copy = {}, repetition = {}, empty_output = {} }

[quality.thresholds]
high = 0.7
medium = 0.5
low = 0.3
""",
        encoding="utf-8",
    )
    return config


# ----------------------------------------------------------------------------------------- worker
SCORE_BATCH_ROWS = 100  # the scoring stage's batch size in the worker: many appends per signal


def run_stage(stage: str, home: str, config_path: str) -> None:
    from vlmfr_data import stages
    from vlmfr_data.config import load_config
    from vlmfr_data.quality.scoring import score_translations
    from vlmfr_data.store import Warehouse
    from vlmfr_data.tiers import TIER_SETS

    warehouse, config = Warehouse(home), load_config(Path(config_path))
    if stage == "score":
        import vlmfr_data.quality.lid  # noqa: F401 - load fastText's module before READY

    print(f"READY {os.getpid()}", flush=True)
    if stage == "translate":
        stages.translate(warehouse, config, "slow")
    elif stage == "score":
        # stages.score's body with smaller batches, so a kill can land between appends of one signal
        score_translations(warehouse, config.quality, batch_rows=SCORE_BATCH_ROWS)
    elif stage == "export":
        for tier_set in TIER_SETS:
            stages.export_corpus(warehouse, config, tier_set)
    else:
        raise SystemExit(f"unknown stage {stage!r}")
    print("DONE", flush=True)


def zygote() -> None:
    """Import everything once, then fork one child per command read from stdin (`<stage> <home> <config>`).

    A forked child starts working at once, so a test can kill and re-run a stage many times without
    paying Python's and polars' import time on each start. Nothing here runs a polars or DuckDB query
    before forking (their thread pools start on first use), so the children start clean. Protocol on
    stdout: `ZYGOTE` once; per command `READY <pid>` from the child, `DONE` when it finished, and
    `EXIT <pid> <exit code or -signal>` from this process after the child ended.
    """
    import os
    import traceback

    import vlmfr_data.corpora  # noqa: F401 - the imports a stage needs, done once here
    import vlmfr_data.mt.run  # noqa: F401
    import vlmfr_data.quality.heuristics  # noqa: F401
    import vlmfr_data.quality.lid  # noqa: F401
    import vlmfr_data.quality.scoring  # noqa: F401
    from vlmfr_data import stages  # noqa: F401

    print("ZYGOTE", flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                run_stage(*line.split()[:3])
            except BaseException:  # noqa: BLE001 - report and exit the child whatever happened
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(f"EXIT {pid} {os.waitstatus_to_exitcode(status)}", flush=True)


# --------------------------------------------------------------------------------- training worker
KILL_TRAIN_STEPS = 32  # long enough that a kill after the first checkpoint (step 4) lands mid-run


def kill_train_config():  # noqa: ANN201 - (TrainConfig, MethodConfig); torch-free to import this module
    from dataclasses import replace

    from training.config import MethodConfig, TrainConfig

    train = replace(TrainConfig.tiny(), max_steps=KILL_TRAIN_STEPS, checkpoint_every=4, log_every=4)
    return train, MethodConfig(lr_lora=1e-2, r=4, lora_dropout=0.1)  # dropout: the RNG state matters


def run_training(home: str, corpus: str, base: str, out: str) -> None:
    """`train_on_corpus` (LoRA) with the kill test's tiny config; INFO logs go to stderr."""
    import logging

    from training.train import train_on_corpus
    from vlmfr_data.store import Warehouse

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    train, method = kill_train_config()
    print(f"READY {os.getpid()}", flush=True)
    train_on_corpus(Warehouse(home), corpus, "lora", base, out, train, method)
    print("DONE", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["zygote"]:
        zygote()
    elif sys.argv[1:2] == ["train"]:
        run_training(*sys.argv[2:6])
    else:
        run_stage(*sys.argv[1:4])
