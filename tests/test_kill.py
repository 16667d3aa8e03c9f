"""Kill tests: `kill -9` the translation, scoring and corpus-export stages at random points, re-run, and
check that nothing was lost, duplicated or left half-visible.

Each stage runs in a subprocess (`tests/helpers_engines.py`, the library stage on a small LLaVA fixture,
translated by a deterministic test-only engine that sleeps a little per batch of 20 so a run has many
batches). For each seed the test kills the stage `KILLS_PER_SEED` times at delays drawn from
`random.Random(seed)` (each new process resumes the previous one's work), checks after every kill that
a reader sees no partial table or corpus, then re-runs to completion and checks the end state:
- translations: every segment translated exactly once per (system, version) in the `translations` view,
  no duplicate successful (segment, system, version) among the raw Parquet rows, and the text is what an
  uninterrupted run gives;
- quality_scores: every (segment, system, signal) once in the view, once per signal version in the raw
  rows;
- corpora: each tier-set folder either absent or complete (manifest, llava.json and samples.parquet
  agree), and after the re-run equal to what the tiers say.

More seeds: `VLMFR_KILL_SEEDS=1,2,3,4 VLMFR_KILLS_PER_SEED=2 pytest tests/test_kill.py`. Training's kill
test is `tests/test_kill_training.py` (it needs torch and the training package).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from tests import helpers_engines
from vlmfr_data import stages
from vlmfr_data.config import ProjectConfig, load_config
from vlmfr_data.store import Warehouse
from vlmfr_data.tiers import TIER_SETS

WORKER = Path(__file__).with_name("helpers_engines.py")
SEEDS = [int(s) for s in os.environ.get("VLMFR_KILL_SEEDS", "11,12,13").split(",")]
KILLS_PER_SEED = int(os.environ.get("VLMFR_KILLS_PER_SEED", "1"))
N_SAMPLES = 800
# Upper bound of the random delay after the worker says READY, per stage (seconds): about the stage's
# own duration on an idle 2-core machine, so most kills land mid-work.
MAX_DELAY = {"translate": 1.2, "score": 1.5, "export": 1.5}


@dataclass
class KillLog:
    tried: int = 0
    landed: int = 0  # the stage was still working when SIGKILL arrived
    reruns: int = 0
    delays: list[float] = field(default_factory=list)
    # what killed runs left where no reader looks: staging folders and part files under tmp/, hidden
    # `.name.part` image links under corpora/images/ (counted after the last re-run, reported)
    tmp_leftovers: int = 0
    hidden_image_parts: int = 0


class Zygote:
    """`tests/helpers_engines.py zygote`: imports once, forks one child per stage run (see its docstring)."""

    def __init__(self, home: Path) -> None:
        env = {**os.environ, "VLMFR_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), "zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self._line() == "ZYGOTE"

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"zygote died (exit {self.proc.poll()})"
        return line.strip()

    def start(self, stage: str, home: Path, config: Path) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{stage} {home} {config}\n")
        self.proc.stdin.flush()
        line = self._line()
        assert line.startswith("READY "), f"child did not start: {line!r}"
        return int(line.split()[1])

    def wait(self, pid: int) -> tuple[int, bool]:
        """(exit code or -signal, whether the child said DONE)."""
        done = False
        while True:
            line = self._line()
            if line == "DONE":
                done = True
            elif line.startswith(f"EXIT {pid} "):
                return int(line.split()[2]), done

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _kill_at_random(
    zygote: Zygote, stage: str, home: Path, config: Path, rng: random.Random, log: KillLog
) -> None:
    pid = zygote.start(stage, home, config)
    delay = rng.uniform(0.0, MAX_DELAY[stage])
    time.sleep(delay)
    log.tried += 1
    log.delays.append(round(delay, 3))
    with contextlib.suppress(ProcessLookupError):  # the child may have finished already
        os.kill(pid, signal.SIGKILL)
    code, done = zygote.wait(pid)
    if code == -signal.SIGKILL and not done:
        log.landed += 1
    else:
        assert code == 0, f"{stage} failed with {code} (see the captured stderr)"


def _run_to_completion(zygote: Zygote, stage: str, home: Path, config: Path, log: KillLog) -> None:
    pid = zygote.start(stage, home, config)
    code, done = zygote.wait(pid)
    log.reruns += 1
    assert code == 0 and done, f"{stage} re-run failed with {code} (see the captured stderr)"


def assert_nothing_partial(home: Path) -> None:
    """What a reader can see after a kill: every file under tables/ is a whole Parquet file, every
    corpus folder is complete, and the DuckDB views still answer."""
    tables = home / "tables"
    for path in tables.rglob("*"):
        if path.is_file():
            assert path.suffix == ".parquet" and not path.name.startswith("."), f"stray file {path}"
            pq.read_metadata(path)  # raises on a truncated file (no footer)
    corpora = home / "corpora"
    if corpora.exists():
        for folder in corpora.iterdir():
            if folder.name == "images":
                continue
            assert folder.name in TIER_SETS, f"unexpected folder {folder}"
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            llava = json.loads((folder / "llava.json").read_text(encoding="utf-8"))
            parquet_rows = pq.read_metadata(folder / "samples.parquet").num_rows
            assert len(llava) == parquet_rows == manifest["samples"], folder
            for record in llava:  # every image a corpus names exists (placed before the folder appears)
                assert (corpora / "images" / record["image"]).is_file(), record["image"]
    Warehouse(home).sql("SELECT count(*) FROM translations")  # views build over whatever is there


def _setup(tmp_path: Path) -> tuple[Warehouse, ProjectConfig, Path]:
    config_path = helpers_engines.write_fixture(tmp_path, N_SAMPLES)
    warehouse, config = Warehouse(tmp_path / "home"), load_config(config_path)
    stages.ingest(warehouse, config, "fixture")
    stages.segment(warehouse, config)
    return warehouse, config, config_path


def _reset(stage: str, warehouse: Warehouse) -> None:
    """Undo a stage's output so every seed kills a run that has all its work ahead of it."""
    if stage == "translate":
        warehouse.drop_partition("translations", "slow")
    elif stage == "score":
        for partition in warehouse.partitions("quality_scores"):
            warehouse.drop_partition("quality_scores", partition)
        warehouse.drop_partition("quality_signals")
    else:
        shutil.rmtree(warehouse.home / "corpora", ignore_errors=True)


def _kill_and_rerun(stage: str, warehouse: Warehouse, config_path: Path) -> KillLog:
    log = KillLog()
    zygote = Zygote(warehouse.home)
    try:
        for seed in SEEDS:
            _reset(stage, warehouse)
            rng = random.Random(f"{stage}-{seed}")
            for _ in range(KILLS_PER_SEED):
                _kill_at_random(zygote, stage, warehouse.home, config_path, rng, log)
                assert_nothing_partial(warehouse.home)
            _run_to_completion(zygote, stage, warehouse.home, config_path, log)
            assert_nothing_partial(warehouse.home)
    finally:
        zygote.close()
    tmp = warehouse.home / "tmp"
    log.tmp_leftovers = len(list(tmp.iterdir())) if tmp.exists() else 0
    images = warehouse.home / "corpora" / "images"
    log.hidden_image_parts = len(list(images.rglob(".*.part"))) if images.exists() else 0
    print(f"\n{stage}: {log}")
    return log


@pytest.fixture(scope="module")
def translated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, ProjectConfig, Path, KillLog]:
    warehouse, config, config_path = _setup(tmp_path_factory.mktemp("kill"))
    log = _kill_and_rerun("translate", warehouse, config_path)
    return warehouse, config, config_path, log


def test_translation_survives_kill_9(translated: tuple[Warehouse, ProjectConfig, Path, KillLog]) -> None:
    from vlmfr_data.mt.run import translate_batch

    warehouse, _, _, log = translated
    assert log.landed >= 1, f"no kill landed mid-run: {log}"
    segments = warehouse.read("segments")
    raw = warehouse.read("translations")
    ok = raw.filter(pl.col("error").is_null())
    duplicated = ok.group_by("segment_id", "system", "system_version").len().filter(pl.col("len") > 1)
    assert duplicated.height == 0, duplicated
    view = warehouse.sql("SELECT segment_id, text_fr, error FROM translations WHERE system = 'slow'")
    assert view["segment_id"].n_unique() == view.height == segments.height  # none lost, none twice
    assert view["error"].null_count() == view.height
    # the texts are those of an uninterrupted run (same engine, same segments, no warehouse)
    expected = translate_batch(helpers_engines.SlowWordMap("slow"), segments).select("segment_id", "text_fr")
    compared = expected.join(view, on="segment_id", suffix="_got")
    assert compared.height == segments.height
    assert (compared["text_fr"] == compared["text_fr_got"]).all()


def test_scoring_survives_kill_9(translated: tuple[Warehouse, ProjectConfig, Path, KillLog]) -> None:
    warehouse, config, config_path, _ = translated
    log = _kill_and_rerun("score", warehouse, config_path)
    assert log.landed >= 1, f"no kill landed mid-run: {log}"
    signals = list(config.quality.signals)
    n_segments = warehouse.read("segments").height
    raw = warehouse.read("quality_scores")
    duplicated = raw.group_by("segment_id", "system", "system_version", "signal", "signal_version").len()
    assert duplicated.filter(pl.col("len") > 1).height == 0
    view = warehouse.sql("SELECT segment_id, system, signal FROM quality_scores")
    assert view.unique().height == view.height == n_segments * len(signals)
    assert sorted(view["signal"].unique().to_list()) == sorted(signals)
    assert warehouse.read("quality_signals")["status"].to_list() == ["ok"] * len(signals)

    # export: tiers first (in-process, not under test), then kill the corpus export
    stages.combine(warehouse, config)
    stages.rebuild_french(warehouse, config)
    export_log = _kill_and_rerun("export", warehouse, config_path)
    assert export_log.landed >= 1, f"no kill landed mid-run: {export_log}"
    tiers = warehouse.sql("SELECT tier, count(*) AS n FROM french_samples GROUP BY 1")
    per_tier = dict(tiers.iter_rows())
    for tier_set, members in TIER_SETS.items():
        manifest = json.loads((warehouse.home / "corpora" / tier_set / "manifest.json").read_text())
        assert manifest["samples"] == sum(per_tier.get(t, 0) for t in members), tier_set
        llava = json.loads((warehouse.home / "corpora" / tier_set / "llava.json").read_text())
        assert len({r["id"] for r in llava}) == len(llava)
