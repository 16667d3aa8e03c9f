"""Kill -9 a tiny training run after a checkpoint, re-run it: it resumes from its last checkpoint and ends
with exactly the weights of an uninterrupted run; a killed run never leaves a half model folder.

The run is `train_on_corpus` (LoRA, `MiniConfig.tiny()` on 160 easy-vqa questions with their real
EfficientNet-Lite0 features) in a subprocess (`tests/helpers_engines.py train`). For each seed the test
waits for the first checkpoint, kills after a random delay, checks what is on disk, re-runs to the end.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from tests import helpers_engines
from vlmfr_data.config import DatasetConfig
from vlmfr_data.ingest import ingest_dataset
from vlmfr_data.store import Warehouse

torch = pytest.importorskip("torch")

SEEDS = [int(s) for s in os.environ.get("VLMFR_KILL_SEEDS", "21").split(",")]
WORKER = Path(__file__).with_name("helpers_engines.py")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, Path, Path]:
    from training.config import MiniConfig, TrainConfig, TrainingSettings
    from training.train import train_english_vlm

    home = tmp_path_factory.mktemp("kill_training")
    warehouse = Warehouse(home)
    ingest_dataset(warehouse, DatasetConfig("easy_vqa", "easy_vqa", splits=["train", "test"], limit=160))
    english = train_english_vlm(
        warehouse,
        TrainingSettings(model=MiniConfig.tiny()),
        out_dir=home / "models" / "english_vlm",
        train=replace(TrainConfig.tiny(), max_steps=20, lr=5e-3, warmup_steps=2),
    )
    # a corpus folder as vlmfr_data.corpora writes it (samples.parquet), answers as they are
    samples = warehouse.read("samples")
    turns = pl.col("turns")
    corpus = home / "corpora" / "high"
    corpus.mkdir(parents=True)
    samples.select(
        pl.concat_str("dataset", "split", "sample_id", separator="/").alias("id"),
        "dataset",
        "split",
        "sample_id",
        "image",
        pl.concat_list(
            pl.struct(
                pl.lit("human").alias("from"),
                (pl.lit("<image>\n") + turns.list.get(0).struct.field("text")).alias("value"),
            ),
            pl.struct(pl.lit("gpt").alias("from"), turns.list.get(1).struct.field("text").alias("value")),
        ).alias("conversations"),
        pl.lit("high").alias("tier"),
        pl.lit(0.9).alias("min_combined"),
        pl.lit(["apertium"]).alias("systems"),
    ).write_parquet(corpus / "samples.parquet")
    return warehouse, corpus, Path(english.model_dir)


def _params(model_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {k: v for f in sorted(model_dir.glob("*.safetensors")) for k, v in load_file(f).items()}


def _worker(warehouse: Warehouse, corpus: Path, base: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), "train", str(warehouse.home), str(corpus), str(base), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "VLMFR_HOME": str(warehouse.home)},
    )


def test_training_resumes_after_kill_9(setup: tuple[Warehouse, Path, Path]) -> None:
    from training.train import train_on_corpus

    warehouse, corpus, base = setup
    train, method = helpers_engines.kill_train_config()
    straight = train_on_corpus(
        warehouse, corpus, "lora", base, warehouse.home / "runs" / "straight", train, method
    )
    expected = _params(Path(straight.model_dir))
    tried = landed = 0
    for seed in SEEDS:
        rng = random.Random(f"train-{seed}")
        out = warehouse.home / "runs" / f"killed-{seed}"
        checkpoint = out.parent / f".{out.name}.checkpoint"
        proc = _worker(warehouse, corpus, base, out)
        assert proc.stdout is not None and proc.stdout.readline().startswith("READY")
        deadline = time.monotonic() + 120
        while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.4))
        tried += 1
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        if proc.returncode == -signal.SIGKILL:
            landed += 1
            assert not out.exists(), "a killed run left a model folder"
            assert checkpoint.is_dir() and any(checkpoint.iterdir()), "no checkpoint to resume from"
        else:
            assert proc.returncode == 0, err[-3000:]
        rerun = _worker(warehouse, corpus, base, out)
        _, err = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, err[-3000:]
        if proc.returncode == -signal.SIGKILL:
            assert "resumed stage" in err, err[-2000:]  # from the checkpoint, not from step 0
        got = _params(out)
        assert got.keys() == expected.keys()
        assert all(torch.equal(got[k], expected[k]) for k in expected), "resumed weights differ"
        assert not checkpoint.exists()  # a finished run removes its checkpoint
    print(f"\ntraining: kills tried {tried}, landed {landed}, re-runs {len(SEEDS)}")
    assert landed >= 1
