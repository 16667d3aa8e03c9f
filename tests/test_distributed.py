"""Parallel and distributed runs give the serial result: partitions materialized at once by separate
Dagster runs (`dagster asset materialize`, each on Dagster's multiprocess executor; no lock errors), and
the quality half of the graph on a dask.distributed cluster that `scripts/dask_cluster.sh` starts on this
machine."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from vlmfr_data import stages
from vlmfr_data.config import load_config
from vlmfr_data.store import Warehouse

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
QUESTIONS = ["What color is the circle?", "Is there a red square in the image?", "How many shapes are there?"]
ANSWERS = ["The circle is blue.", "No, there is no square.", "There are 3 shapes."]


def _dataset(root: Path, name: str, offset: int) -> None:
    images = root / f"{name}_images"
    images.mkdir(parents=True)
    records = []
    for i in range(6):
        Image.new("RGB", (8, 8), (40 * i, 10, 10)).save(images / f"{i}.png")
        q, a = QUESTIONS[(i + offset) % 3], ANSWERS[(i + offset) % 3]
        records.append(
            {
                "id": f"{name}-{i}",
                "image": f"{i}.png",
                "conversations": [{"from": "human", "value": f"<image>\n{q}"}, {"from": "gpt", "value": a}],
            }
        )
    (root / f"{name}.json").write_text(__import__("json").dumps(records), encoding="utf-8")


def _project(root: Path) -> Path:
    _dataset(root, "ds_a", 0)
    _dataset(root, "ds_b", 1)
    config = root / "vlmfr.toml"
    config.write_text(
        """
[[datasets]]
name = "ds_a"
format = "llava"
paths = { json = "ds_a.json", image_root = "ds_a_images" }

[[datasets]]
name = "ds_b"
format = "llava"
paths = { json = "ds_b.json", image_root = "ds_b_images" }

[[mt_systems]]
name = "apertium"
backend = "apertium"

[[mt_systems]]
name = "apertium_b"
backend = "apertium"

[quality.signals]
length_ratio = {}
spans_intact = {}
source_copy = {}
repetition = {}
empty_output = {}
""",
        encoding="utf-8",
    )
    return config


def _env(home: Path, config: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "VLMFR_HOME": str(home),
        "VLMFR_CONFIG": str(config),
        "DAGSTER_HOME": str(home / "dagster"),
        **extra,
    }


def _dagster(env: dict[str, str], *args: str, module: bool = True) -> tuple[subprocess.Popen[bytes], Path]:
    """Dagster's own CLI; output to a file (an undrained pipe would block a step that holds a lock)."""
    home = Path(env["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    log = home / f"cli-{len(list(home.glob('cli-*.log')))}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "dagster"), *args, *(["-m", "assets.definitions"] if module else [])],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, log


def _all_ok(procs: list[tuple[subprocess.Popen[bytes], Path]]) -> None:
    for proc, log in procs:
        proc.wait(timeout=900)
        out = log.read_text(errors="replace")
        assert proc.returncode == 0, out[-3000:]
        assert "database is locked" not in out and "Could not set lock" not in out


def _result(home: Path) -> dict[str, pl.DataFrame]:
    warehouse = Warehouse(home)
    return {
        "french_samples": warehouse.sql(
            "SELECT dataset, split, sample_id, tier, min_combined, to_json(turns)::VARCHAR AS turns "
            "FROM french_samples ORDER BY ALL"
        ),
        "translation_quality": warehouse.sql(
            "SELECT segment_id, system, text_fr, combined, tier, is_best FROM translation_quality ORDER BY ALL"
        ),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("apertium") is None, reason="Apertium (Debian package) is not installed")
def test_parallel_and_dask_runs_equal_the_serial_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_path = _project(tmp_path / "project")

    # serial reference, in this process, through the library stages
    serial = tmp_path / "serial"
    monkeypatch.setenv("VLMFR_CONFIG", str(config_path))
    config = load_config()
    warehouse = Warehouse(serial)
    for dataset in ("ds_a", "ds_b"):
        stages.ingest(warehouse, config, dataset)
    stages.segment(warehouse, config)
    for system in ("apertium", "apertium_b"):
        stages.translate(warehouse, config, system)
    stages.score(warehouse, config)
    stages.combine(warehouse, config)
    stages.rebuild_french(warehouse, config)
    expected = _result(serial)
    assert expected["french_samples"].height == 12

    # partitions at once: two Dagster runs (each on the multiprocess executor) write one table concurrently
    parallel = tmp_path / "parallel"
    shutil.copytree(serial / "tables" / "samples", parallel / "tables" / "samples")
    for step in (stages.segment,):  # inputs as in the serial run, then the concurrent partitions
        step(Warehouse(parallel), config)
    env = _env(parallel, config_path)
    # A fresh DAGSTER_HOME creates its SQLite run storage on first use; two CLIs doing that at once race
    # ("table runs already exists"), so the instance is created once first, as `make ui`/`make demo` do.
    _all_ok([_dagster(env, "instance", "migrate", module=False)])
    _all_ok(
        [
            _dagster(env, "asset", "materialize", "--select", "translations", "--partition", system)
            for system in ("apertium", "apertium_b")
        ]
    )
    raw = Warehouse(parallel).sql(
        "SELECT count(*) AS n, count(DISTINCT (segment_id, system, system_version)) AS distinct_keys "
        "FROM read_parquet('" + str(parallel / "tables" / "translations" / "*" / "*.parquet") + "')"
    )
    assert raw["n"].item() == raw["distinct_keys"].item() == 2 * Warehouse(serial).read("segments").height

    # the quality half of the graph on dask.distributed workers started by the project's script
    port = _free_port()
    denv = _env(
        parallel,
        config_path,
        VLMFR_DASK_SCHEDULER=f"tcp://127.0.0.1:{port}",
        VLMFR_DASK_RUN_DIR=str(tmp_path / "dask"),
    )
    started = subprocess.run(
        [str(REPO / "scripts" / "dask_cluster.sh"), "start", str(port), "2"],
        env=denv,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        assert started.returncode == 0, started.stderr
        _all_ok([_dagster(denv, "job", "execute", "-j", "quality_on_dask")])
    finally:
        subprocess.run([str(REPO / "scripts" / "dask_cluster.sh"), "stop"], env=denv, timeout=60)
    worker_logs = "".join(p.read_text() for p in (tmp_path / "dask").glob("worker-*.log"))
    assert "Registered to" in worker_logs  # the workers really joined the scheduler
    got = _result(parallel)
    for name, frame in expected.items():
        assert got[name].equals(frame), name
